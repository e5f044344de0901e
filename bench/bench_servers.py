"""What the small benches (observability.py, idempotency.py, patterns.py,
modules.py) share: pinning (servers on core 1, load generators on core 0,
when there are two cores and taskset), a free port, starting a server in
its own dir, and one redis-benchmark run's requests per second."""
import os
import shutil
import socket
import subprocess
import time

BENCH = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
PIN = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
SERVER_PIN = ["taskset", "-c", "1"] if PIN else []
CLIENT_PIN = ["taskset", "-c", "0"] if PIN else []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, tmp, name, extra, bench):
    """binary on a free port with --dir tmp/name, no saves and no AOF,
    pinned; (process, port) once it answers PING, else SystemExit naming
    the bench."""
    port = free_port()
    d = os.path.join(tmp, name)
    os.makedirs(d)
    proc = subprocess.Popen(SERVER_PIN + [binary, "--port", str(port), "--dir", d, "--save", "", "--appendonly", "no"]
                            + list(extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("%s bench: %s did not start" % (bench, name))


def stop_all(procs, tmp):
    """Kills the servers a bench started and removes its directory."""
    for proc in procs:
        proc.kill()
        proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)


def rps(port, pipeline, n, args, keyspace=100000, row=None):
    """Requests per second of redis-benchmark -c 50 at `pipeline` with
    `args` (-t tests, or a command); the CSV row whose name starts with
    `row` (by default the only one). NaN when there is none."""
    out = subprocess.run(CLIENT_PIN + [BENCH, "-p", str(port), "-c", "50", "-r", str(keyspace), "-n", str(n), "-P",
                                       str(pipeline), "--csv"] + list(args),
                         capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if len(cells) > 1 and cells[1][:1].isdigit() and cells[0].upper().startswith((row or "").upper()):
            return float(cells[1])
    return float("nan")
