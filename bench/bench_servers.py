"""What the small side benches (observability.py, idempotency.py) share:
pinning (servers on core 1, redis-benchmark on core 0, when there are two
cores and taskset) and starting a server on a free port in its own dir."""
import os
import shutil
import socket
import subprocess
import time

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
