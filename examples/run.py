#!/usr/bin/env python3
"""Runs every example against a fresh keel-server and compares what each
prints with examples/expected/<name>.out (`make examples` calls this).

Usage: run.py --server PATH [--bin-dir DIR] [names...]

The server starts on a free port in a temporary directory, with no save
points. Between examples the runner flushes the data and puts maxmemory
back, so each example starts from an empty server. An example fails when
it exits non-zero or its output differs from the expected file; the diff
is shown. JavaScript examples need node (Debian's nodejs) with Debian's
node-redis and the ioredis in tests/clients/node_modules; when node is
missing they are skipped with a note, and the C example still runs."""
import argparse
import difflib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NODE_PATH = os.pathsep.join(["/usr/share/nodejs", os.path.join(ROOT, "tests", "clients", "node_modules")])
TIMEOUT = 60


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(port, *args):
    """One command over a plain socket; returns the first reply line."""
    payload = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        return s.recv(4096).split(b"\r\n")[0]


def start_server(binary):
    """The server, its port and its directory, once it answers PING."""
    for _ in range(5):
        port = free_port()
        d = tempfile.mkdtemp(prefix="keel-examples-")
        log = open(os.path.join(d, "server.log"), "w")
        proc = subprocess.Popen([binary, "--port", str(port), "--dir", d, "--save", ""], stdout=log,
                                stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline and proc.poll() is None:
            try:
                if command(port, "PING") == b"+PONG":
                    return proc, port, d
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)
    raise SystemExit("keel-server did not start")


def examples(bin_dir):
    """(name, argv prefix) of every example, JavaScript and C."""
    out = []
    for f in sorted(os.listdir(HERE)):
        name, ext = os.path.splitext(f)
        if ext == ".js":
            out.append((name, ["node", os.path.join(HERE, f)]))
        elif ext == ".c":
            out.append((name, [os.path.join(bin_dir, name)]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default=os.path.join(ROOT, "keel-server"))
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "build", "rel", "examples"))
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    have_node = shutil.which("node") is not None
    proc, port, d = start_server(os.path.abspath(args.server))
    failed, ran, skipped = [], 0, 0
    try:
        for name, argv in examples(args.bin_dir):
            if args.names and name not in args.names:
                continue
            if argv[0] == "node" and not have_node:
                print("skip %-22s (node is not installed)" % name)
                skipped += 1
                continue
            if argv[0] != "node" and not os.path.exists(argv[0]):
                print("skip %-22s (not built: make examples builds it)" % name)
                skipped += 1
                continue
            command(port, "FLUSHALL")
            command(port, "CONFIG", "SET", "maxmemory", "0")
            command(port, "CONFIG", "SET", "maxmemory-policy", "noeviction")
            env = dict(os.environ, NODE_PATH=NODE_PATH)
            started = time.time()
            try:
                res = subprocess.run(argv + [str(port)], capture_output=True, text=True, timeout=TIMEOUT, env=env,
                                     cwd=ROOT)
                out, errs, rc = res.stdout, res.stderr, res.returncode
            except subprocess.TimeoutExpired as e:
                out, errs, rc = e.stdout or "", "timed out after %d s" % TIMEOUT, -1
                out = out.decode() if isinstance(out, bytes) else out
            ran += 1
            with open(os.path.join(HERE, "expected", name + ".out")) as f:
                want = f.read()
            if rc != 0 or out != want:
                failed.append(name)
                print("FAIL %-22s (exit %s, %.1f s)" % (name, rc, time.time() - started))
                sys.stdout.writelines(difflib.unified_diff(want.splitlines(True), out.splitlines(True),
                                                           "expected/%s.out" % name, "output"))
                if errs:
                    print(errs.rstrip())
            else:
                print("ok   %-22s (%.1f s)" % (name, time.time() - started))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        # Under ASan a leak or a memory error makes the exit code non-zero.
        if proc.returncode not in (0, -15):
            failed.append("keel-server")
            with open(os.path.join(d, "server.log")) as f:
                print("FAIL keel-server exited with %s:\n%s" % (proc.returncode, f.read()[-4000:]))
        shutil.rmtree(d, ignore_errors=True)
    print("%d examples: %d passed, %d failed, %d skipped" % (ran + skipped, ran - len(failed), len(failed), skipped))
    return 1 if failed or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
