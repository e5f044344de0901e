#!/usr/bin/python3
"""Side-by-side benchmark: keel-server against Debian's redis-server.

Starts both servers on free ports in temporary directories, runs the same
redis-benchmark invocations against each in alternating order (keel first
in odd rounds, redis first in even rounds, so that drift in machine load
cancels), and reports the median ops/s per server and the median of the
per-round ratios keel/redis. It also loads the same data into both and compares
used_memory per key. A test runs only when both servers have the commands
it needs (COMMAND INFO); otherwise it is listed as skipped.

Stream tests (skipped until both servers have the commands):
  XADD P1/P16          XADD bench:stream * f1 v1 f2 v2 f3 v3, the key
                       deleted before each run (like LPUSH), so every run
                       grows a new stream from empty, without trimming.
  XRANGE COUNT 10      XRANGE bench:xr __rand_int__ + COUNT 10 with -r
                       100000 against a preloaded stream of 100,000 entries
                       1-0 .. 100000-0 (f1 v1 f2 v2 f3 v3); __rand_int__
                       expands to a 12-digit zero-padded number, which
                       parses as the ID <number>-0, so each call seeks to
                       a random place and returns ten entries (fewer
                       only from the 8 highest start points). Probed once:
                       from 000000000005 it must return 5-0 .. 14-0.
  XREADGROUP+XACK      bench/streamgroup.c (compiled here): preloads the
                       test's -n entries, creates group g, then 10 consumer
                       connections each repeat "PIPELINE x XREADGROUP GROUP
                       g c<i> COUNT 1 STREAMS bench:sg >, then one XACK per
                       entry received, PIPELINE of them in one write" until
                       the group is drained (PIPELINE 1 or 16); the rate is
                       entries consumed and acknowledged per second.
  memory               one stream of BENCH_STREAM_N entries
                       XADD mem:stream <i>-0 sensor <i%1000>
                       temp <20+i%15>.<i%10> status ok, bytes per entry.

ACL section (opt-in, BENCH_SECTIONS=acl; not in the default set, which
already takes over ten minutes):
  GET/SET <user> P1/P16
                       GET prefix19:__rand_int__ and SET
                       prefix19:__rand_int__ xxx (-r 100000) as the
                       default user (every permission: Keel's one-flag
                       fast path) and as user benchacl (on >benchpw
                       +@all &* and 20 key patterns ~prefix0:* ..
                       ~prefix19:*, the keys matching only the last, so
                       every check walks all 20), redis-benchmark --user
                       benchacl -a benchpw; Keel against Redis, as ratios.

Persistence section (its own servers, not the shared pair above):
  SET AOF <mode> P1/P16
                       for appendfsync everysec and always, a fresh keel
                       and redis, each in a new directory with
                       --appendonly yes --appendfsync <mode> --save '' (and
                       on Redis --auto-aof-rewrite-percentage 0, as Keel
                       never rewrites by itself), running redis-benchmark
                       -t set -c 50 -r 100000 at pipeline 1 and 16 in the
                       usual alternating rounds; -n is N and NP for
                       everysec, N/4 and NP/8 for always; stopped and
                       their directories removed afterwards. Only the AOF
                       rows go into their geometric mean.
  RDB load             redis-server (fed with redis-cli --pipe) SAVEs a
                       dump.rdb of about BENCH_RDB_MB: string keys
                       key:%012d (the names redis-benchmark -r writes)
                       with BENCH_RDB_VALUE-byte values cut from a random
                       pool (so nothing compresses them), plus 2 each of
                       hashes, lists, sets and sorted sets of 100,000
                       elements. In BENCH_RDB_ROUNDS alternating rounds
                       each server starts with --save '' --appendonly no in
                       a new directory holding a hard link to the file (a
                       copy if linking fails); the time is the wall time
                       from process start until PING answers +PONG and
                       INFO persistence no longer says loading:1, polled
                       every 5 ms (Redis answers -LOADING while it loads;
                       a server may also refuse connections or answer
                       PING while loading). DBSIZE must match; then
                       used_memory once it settles. Lower is better.
  BGSAVE under writes  in the first BENCH_BGSAVE_ROUNDS of those rounds,
                       the loaded server also gets a background flood of
                       redis-benchmark -t set -c 50 -r <string keys> -d
                       BENCH_RDB_VALUE (so it overwrites the dataset's
                       values with same-size ones) and, 1.5 s later,
                       BGSAVE; meanwhile another client (a thread with its
                       own connection) sends PING after PING and times
                       each, during the last second before the BGSAVE
                       (the flood alone) and during it (p50, p99, max);
                       a thread sums the RSS (/proc/<pid>/statm)
                       and PSS (/proc/<pid>/smaps_rollup) of the server and
                       all its children (/proc/<pid>/task/*/children, else
                       ps --ppid) every 50 ms (back to back when a sample
                       takes longer) until INFO says rdb_bgsave_in_progress
                       is 0. Reported: the peak sums, each divided by
                       used_memory before the flood, the BGSAVE's duration
                       and the SETs/s served meanwhile
                       (total_commands_processed), and how many children
                       were seen (none for a forkless BGSAVE).

Replication section (its own servers too): every primary and replica is a
server of the same kind (keel -> keel, redis -> redis) with --save '' in a
new directory, pinned to the servers' core like every server here (so the
replica shares its primary's core and redis-benchmark keeps the other);
both get --repl-diskless-sync-delay 0 (the 5 s wait for more replicas
is not work) and --enable-debug-command local.
  SET with 1 replica P16
                       a primary with one replica attached (REPLICAOF,
                       then in sync, and state=online in the primary's
                       INFO: after a diskless sync Redis holds the stream
                       back until the replica's first ACK) runs
                       redis-benchmark -t set -c 50 -r 100000 -P 16 -n
                       NP/2 in the usual alternating rounds. Meanwhile a thread reads the replica's
                       slave_repl_offset and then the primary's
                       master_repl_offset, each over its own connection,
                       every BENCH_REPL_SAMPLE_MS; the difference is the
                       replica's lag in bytes (samples before the primary's
                       offset first moves are dropped). Reported: max and
                       mean lag over all samples, the mean lag as time at
                       the round's stream rate, and the time from the
                       run's end until the offsets are equal. Afterwards
                       each replica must match its primary (DEBUG DIGEST,
                       else DBSIZE).
  Full sync            a primary loaded with BENCH_REPL_KEYS keys key:<i> =
                       value:<i> (DEBUG POPULATE, else redis-cli --pipe);
                       in BENCH_REPL_SYNC_ROUNDS alternating rounds a fresh
                       empty replica gets REPLICAOF and the time runs until
                       it says master_link_status:up with slave_repl_offset
                       equal to the primary's master_repl_offset (INFO
                       every 5 ms); DBSIZE must match. Both servers
                       are timed in each mode, repl-diskless-sync yes (the
                       default) and no (a file), set with CONFIG SET on the
                       same primary.
                       Lower is better.
  A replica that is not in sync within 300 s ends its test with a note, and
  both servers' INFO replication and log tails are printed.

Server CPU section (cpu; its own servers): keel with --busy-poll-us 0 and
redis, both without persistence, driven by bench/loadgen -c 50 -r 100000 at
pipeline 1 and 16: SET, GET, LPUSH and the seed's two scripts by EVALSHA.
  <test> P<n> [CPU]    requests / CPU seconds that every thread of the
                       server used during the run (user + kernel, summed
                       from /proc/<pid>/task/*/schedstat). Higher is
                       better; it is what a request costs the server even
                       where the client's ceiling caps the rates above.

TLS section (opt-in: BENCH_SECTIONS=tls, or add tls to the list; its own
servers): a throwaway CA and an EC P-256 server certificate made with the
openssl CLI; a fresh keel and redis each with a plain port and a tls-port
(--tls-cert-file, --tls-key-file, --tls-ca-cert-file, tls-auth-clients
left at yes), no persistence.
  SET/GET TLS P1/P16   redis-benchmark --tls --cacert --cert --key -t set
                       (or get) -c 50 -r 100000 on the tls-port, -n N at
                       pipeline 1 and NP at 16, in the usual alternating
                       rounds; GET runs after SET has filled the keys.
                       Every connection makes a full handshake once, at
                       the start (mutual TLS, TLS 1.3).

Usage: bench/run.py [--write-docs]      (make bench runs it)

Settings come from environment variables (defaults in brackets):
  BENCH_QUICK=1        a fast smoke run (1 round, small counts)
  BENCH_ROUNDS         rounds per test [3: make bench stays under 10 minutes]
  BENCH_N              SET/GET/INCR requests at pipeline 1 [50000]
  BENCH_NP             SET/GET/INCR requests at pipeline 16 [1000000]
  BENCH_LOADGEN_N      requests per [loadgen P1] row [75000]
                       Other tests run a fraction of these so that the
                       whole run stays near 5 minutes on 2 idle cores
                       (plus about 2 minutes of persistence section
                       and one of replication):
                       N/2 and NP/4, or N/4 and NP/8 for the slow ones
                       (MSET, LRANGE_100, ZRANGE, EVALSHA, XRANGE,
                       XREADGROUP+XACK). The report shows each test's
                       count.
  BENCH_CPU_N, BENCH_CPU_NP  requests per server-CPU run at pipeline 1
                       and 16 [100000, 400000]
  BENCH_SWEEP_KEYS     keys loaded, and new keys set, by the SCAN + DEL
                       sweep test [100000; 30000 with BENCH_QUICK]
  BENCH_PUBSUB_N       PUBLISH requests per pub/sub run [BENCH_N/2]
  BENCH_MEM_KEYS       string keys for the memory test [1000000]
  BENCH_ZSET           sorted-set members (memory, ZRANGE/ZRANK) [1000000]
  BENCH_HASHES         hashes of 10 fields for the memory test [100000]
  BENCH_STREAM_N       entries of the one stream of the memory test
                       [1000000]
  BENCH_RDB_MB         size of the persistence section's RDB in MB
                       [1000; 100 with BENCH_QUICK]
  BENCH_RDB_VALUE      bytes per string value of that RDB [1000]
  BENCH_RDB_ROUNDS     rounds of the RDB load test [1]
  BENCH_BGSAVE_ROUNDS  of those, rounds that also measure BGSAVE under
                       writes [1] (a 1 GB BGSAVE under the flood takes
                       about 30 s on 2 cores)
  BENCH_REPL_KEYS      keys of the full sync test [1000000; 100000 with
                       BENCH_QUICK]
  BENCH_REPL_SYNC_ROUNDS  rounds of the full sync test [2; 1 with
                       BENCH_QUICK]
  BENCH_REPL_SAMPLE_MS replica lag sampling period in ms [200]
  BENCH_SECTIONS       comma list of memory,throughput,datacmds,pubsub,
                       persistence,replication,cpu,sweep,iothreads [all of these;
                       iothreads runs only on 4 cores or more], and the
                       opt-in acl and tls (BENCH_SECTIONS=acl or tls, or
                       added to the list)
  BENCH_KEEL_ARGS      extra arguments for every Keel server (an experiment:
                       e.g. "--busy-poll-us 0"); the report says they were set
  BENCH_ONLY           run only throughput, pub/sub and AOF tests whose
                       label matches this regular expression (e.g. "P1$",
                       "^ZRANK", "AOF"); the RDB load and BGSAVE tests
                       run only if it matches "RDB load BGSAVE", the
                       replication SET test if it matches its label "SET
                       with 1 replica P16", the full sync only if it
                       matches "Full sync"
  KEEL_SERVER, REDIS_SERVER   binaries [./keel-server, /usr/bin/redis-server]

Benchmarks never fail because of slowness: the exit status is non-zero
only when a server cannot be started or dies during the run.
"""
import datetime
import glob
import io
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL_BIN = os.environ.get("KEEL_SERVER", os.path.join(ROOT, "keel-server"))
REDIS_BIN = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
BENCH_BIN = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
# Servers on one core, load generators on the other: on a 2-core machine
# this keeps the scheduler from moving them onto each other, which was the
# largest source of round-to-round noise at pipeline 1. BENCH_PIN=0 turns
# it off.
PIN = (os.environ.get("BENCH_PIN", "1") != "0" and (os.cpu_count() or 1) >= 2
       and shutil.which("taskset") is not None)
SERVER_PIN = ["taskset", "-c", "1"] if PIN else []
CLIENT_PIN = ["taskset", "-c", "0"] if PIN else []
CLI_BIN = shutil.which("redis-cli") or "/usr/bin/redis-cli"
DOCS = os.path.join(ROOT, "docs", "BENCHMARKS.md")
BEGIN_MARK = "<!-- bench:results:begin (generated by bench/run.py --write-docs) -->"
END_MARK = "<!-- bench:results:end -->"


def env_int(name, default):
    v = os.environ.get(name)
    return int(v) if v not in (None, "") else default


QUICK = os.environ.get("BENCH_QUICK") == "1"
ROUNDS = env_int("BENCH_ROUNDS", 1 if QUICK else 3)
N1 = env_int("BENCH_N", 10000 if QUICK else 50000)
N16 = env_int("BENCH_NP", 50000 if QUICK else 1000000)
PUBSUB_N = env_int("BENCH_PUBSUB_N", N1 // 2)
MEM_KEYS = env_int("BENCH_MEM_KEYS", 100000 if QUICK else 1000000)
ZSET_N = env_int("BENCH_ZSET", 100000 if QUICK else 1000000)
HASHES = env_int("BENCH_HASHES", 10000 if QUICK else 100000)
STREAM_N = env_int("BENCH_STREAM_N", 100000 if QUICK else 1000000)
SECTIONS = set((os.environ.get("BENCH_SECTIONS") or
                "memory,throughput,datacmds,pubsub,persistence,replication,cpu,sweep,iothreads")
               .split(","))
RDB_MB = env_int("BENCH_RDB_MB", 100 if QUICK else 1000)
RDB_VALUE = env_int("BENCH_RDB_VALUE", 1000)
RDB_ROUNDS = env_int("BENCH_RDB_ROUNDS", 1)
BGSAVE_ROUNDS = min(RDB_ROUNDS, env_int("BENCH_BGSAVE_ROUNDS", 1))
ONLY = os.environ.get("BENCH_ONLY", "")
KEEL_EXTRA = os.environ.get("BENCH_KEEL_ARGS", "").split()
REPL_KEYS = env_int("BENCH_REPL_KEYS", 100000 if QUICK else 1000000)
REPL_SYNC_ROUNDS = env_int("BENCH_REPL_SYNC_ROUNDS", 1 if QUICK else 2)
REPL_SAMPLE_MS = env_int("BENCH_REPL_SAMPLE_MS", 200)
CLIENTS = 50
KEYSPACE = 100000
SUBSCRIBER_COUNTS = (1, 10, 100)
XRANGE_N = KEYSPACE  # entries of the XRANGE stream: one per __rand_int__
STREAM_CONSUMERS = 10
STREAM_FIELDS = (b"f1", b"v1", b"f2", b"v2", b"f3", b"v3")  # the throughput tests' entries

# The two Lua scripts from the seed document (redis-patterns-in-production),
# verbatim: the token-checked lock release and the sliding-window limiter.
def seed_script(name):
    """A Lua script of the seed article, verbatim (shared with the tests)."""
    with open(os.path.join(ROOT, "tests", "seed", name)) as f:
        return f.read()


LOCK_RELEASE_LUA = seed_script("lock_release.lua")
RATE_LIMIT_LUA = seed_script("rate_limiter.lua")


class BenchError(Exception):
    """A real error (a server would not start or died): exit non-zero."""


T0 = time.time()


def log(msg):
    """Progress lines carry the seconds since start, so a slow section shows."""
    print("[%4ds] %s" % (time.time() - T0, msg), flush=True)


# ---- a minimal RESP2 client (control traffic only; load goes through
# redis-benchmark and redis-cli --pipe) ----


class RespError(Exception):
    pass


class Conn:
    def __init__(self, port, timeout=60):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    def close(self):
        self.f.close()
        self.sock.close()

    def call(self, *args):
        self.sock.sendall(encode_cmd(args))
        return self._read()

    def _read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError("unexpected reply %r" % line)


def encode_cmd(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


# ---- server processes ----

PROCS = []  # every child we started, stopped in cleanup()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Every server of the memory, throughput and pub/sub sections: no persistence.
NO_PERSISTENCE = ["--save", "", "--appendonly", "no"]
REDIS_LIKE = {}


def redis_like(binary):
    """Whether binary is a real redis-server (`--version` says so), which
    gets --bind and the Redis-only options; cached."""
    if binary not in REDIS_LIKE:
        try:
            r = subprocess.run([binary, "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
            REDIS_LIKE[binary] = r.stdout.startswith(b"Redis server")
        except (OSError, subprocess.SubprocessError):
            REDIS_LIKE[binary] = False
    return REDIS_LIKE[binary]


class Server:
    def __init__(self, name, binary, tmp, args=None, redis_args=(), dir=None, pin=None):
        """args: the argv after --port and --dir [NO_PERSISTENCE];
        redis_args: appended only when binary is a real redis-server;
        dir: an existing directory to run in [a new one under tmp];
        pin: the taskset prefix [SERVER_PIN]."""
        self.name = name
        self.pin = SERVER_PIN if pin is None else pin
        self.binary = binary
        self.dir = dir or tempfile.mkdtemp(prefix=name + "-", dir=tmp)
        self.port = free_port()
        self.log = os.path.join(self.dir, "server.log")
        self.args = list(NO_PERSISTENCE if args is None else args)
        self.redis_args = list(redis_args)
        self.proc = None
        self.conn = None
        self._support = {}

    def start(self, timeout=15):
        self.launch()
        self.wait_ready(timeout)

    def launch(self):
        """Starts the process and returns at once (see wait_ready)."""
        if not os.access(self.binary, os.X_OK):
            raise BenchError("%s: %s is not an executable (run make first)" % (self.name, self.binary))
        argv = [self.binary, "--port", str(self.port), "--dir", self.dir] + self.args
        if redis_like(self.binary):
            argv += ["--daemonize", "no", "--bind", "127.0.0.1"] + self.redis_args
        else:
            argv += KEEL_EXTRA
        logf = open(self.log, "w")
        # A session of its own: Ctrl-C reaches us, and we stop the servers.
        self.proc = subprocess.Popen(self.pin + argv, stdout=logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        logf.close()
        PROCS.append(self.proc)

    def wait_ready(self, timeout=15, poll=0.05, loaded=False):
        """Polls PING every `poll` seconds until +PONG: connection refused
        (port not open yet) and -LOADING (Redis loading its dataset) both
        mean not yet. With loaded, a +PONG counts only once INFO persistence
        no longer says loading:1 (a server may answer PING while it loads).
        Returns what was seen on the way: {"refused", "loading", "pong_loading"}
        counts of polls."""
        seen = {"refused": 0, "loading": 0, "pong_loading": 0}
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise BenchError("%s exited at start-up:\n%s" % (self.name, self.log_tail()))
            try:
                if self.conn is None:
                    self.conn = Conn(self.port)
                if self.conn.call("PING") == "PONG":
                    if not loaded:
                        return seen
                    info = self.conn.call("INFO", "persistence").decode()
                    if not re.search(r"^loading:[1-9]", info, re.M):
                        return seen
                    seen["pong_loading"] += 1
            except RespError as e:
                if not str(e).startswith("LOADING"):
                    raise BenchError("%s: PING: %s" % (self.name, e))
                seen["loading"] += 1
            except (OSError, ConnectionError):
                seen["refused"] += 1
                if self.conn:
                    try:
                        self.conn.close()
                    except OSError:
                        pass
                self.conn = None
            time.sleep(poll)
        raise BenchError("%s did not start within %d s:\n%s" % (self.name, timeout, self.log_tail()))

    def log_tail(self):
        try:
            with open(self.log) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def check_alive(self):
        if self.proc.poll() is not None:
            raise BenchError("%s died (exit %s):\n%s" % (self.name, self.proc.returncode, self.log_tail()))

    def stop(self):
        if self.conn:
            try:
                self.conn.close()
            except OSError:
                pass
        stop_proc(self.proc)

    def call(self, *args):
        self.check_alive()
        return self.conn.call(*args)

    def supports(self, cmd):
        cmd = cmd.lower()
        if cmd not in self._support:
            try:
                reply = self.call("COMMAND", "INFO", cmd)
                self._support[cmd] = bool(reply) and reply[0] is not None
            except RespError:
                self._support[cmd] = False
        return self._support[cmd]

    def info(self, section):
        text = self.call("INFO", section).decode()
        out = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def used_memory(self):
        return int(self.info("memory")["used_memory"])

    def settled_memory(self):
        """used_memory once it has not changed for half a second: a lazy
        free may still run, and a table being resized holds its old and new
        arrays until the move ends (keel moves entries while idle, which
        takes a few hundred ms for 1M keys)."""
        prev, same = self.used_memory(), 0
        for _ in range(100):
            time.sleep(0.1)
            cur = self.used_memory()
            same = same + 1 if cur == prev else 0
            if same == 5:
                return cur
            prev = cur
        return prev

    def flush(self):
        try:
            self.call("FLUSHALL", "SYNC")
        except RespError:
            self.call("FLUSHALL")


def stop_proc(p):
    if p is None or p.poll() is not None:
        return
    try:
        p.terminate()
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    except ProcessLookupError:
        pass


def start_pair(tmp, args=None, redis_args=()):
    """A fresh keel and redis, each in a new directory under tmp, started
    with args (see Server); if one fails to start, neither is left running."""
    pair = []
    try:
        for name, binary in (("keel", KEEL_BIN), ("redis", REDIS_BIN)):
            s = Server(name, binary, tmp, args, redis_args)
            pair.append(s)
            s.start()
    except BaseException:
        stop_pair(pair)
        raise
    return pair


def stop_pair(pair):
    """Stops the servers of start_pair and removes their directories."""
    for s in pair:
        s.stop()
        shutil.rmtree(s.dir, ignore_errors=True)


def cleanup():
    for p in PROCS:
        stop_proc(p)


def on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


# ---- data loading through redis-cli --pipe ----


def write_resp(path, commands):
    """commands: an iterable of argument tuples; written as RESP in chunks."""
    with open(path, "wb") as f:
        buf = []
        for args in commands:
            buf.append(encode_cmd(args))
            if len(buf) >= 10000:
                f.write(b"".join(buf))
                buf = []
        f.write(b"".join(buf))


def pipe_load(srv, path):
    with open(path, "rb") as f:
        r = subprocess.run(
            [CLI_BIN, "-h", "127.0.0.1", "-p", str(srv.port), "--pipe"],
            stdin=f,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
    check_pipe(srv, r.returncode, r.stdout)


def check_pipe(srv, returncode, output):
    out = output.decode(errors="replace")
    m = re.search(r"errors:\s*(\d+),\s*replies:\s*(\d+)", out)
    if returncode != 0 or not m or m.group(1) != "0":
        srv.check_alive()
        raise RespError("%s: redis-cli --pipe failed: %s" % (srv.name, out.strip()[-500:]))


def pipe_stream(srv, commands):
    """pipe_load without a file: commands (argument tuples) are encoded and
    written to redis-cli --pipe as they are generated."""
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen([CLI_BIN, "-h", "127.0.0.1", "-p", str(srv.port), "--pipe"], stdin=subprocess.PIPE,
                             stdout=out, stderr=subprocess.STDOUT)
        PROCS.append(p)
        try:
            buf = []
            for args in commands:
                buf.append(encode_cmd(args))
                if len(buf) >= 1000:
                    p.stdin.write(b"".join(buf))
                    buf = []
            p.stdin.write(b"".join(buf))
            p.stdin.close()
            p.wait(timeout=600)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            pass
        finally:
            stop_proc(p)
        out.seek(0)
        check_pipe(srv, p.returncode, out.read())


def gen_strings(n):
    for i in range(n):
        yield (b"SET", b"k:%08d" % i, b"%016d" % i)


def gen_hashes(n):
    for i in range(n):
        args = [b"HSET", b"h:%08d" % i]
        for j in range(10):
            args += [b"f%d" % j, b"v%07d" % (i % 10000000)]
        yield args


def gen_zset(key, n, batch=1000):
    for start in range(0, n, batch):
        args = [b"ZADD", key]
        for i in range(start, min(n, start + batch)):
            args += [b"%d" % i, b"%012d" % i]
        yield args


def gen_stream(key, n):
    """n entries <i>-0 (i = 1..n) of the throughput tests' three fields."""
    for i in range(1, n + 1):
        yield (b"XADD", key, b"%d-0" % i) + STREAM_FIELDS


def gen_sensor_stream(key, n):
    """The memory test's stream: small realistic values, same shape each."""
    for i in range(1, n + 1):
        yield (b"XADD", key, b"%d-0" % i, b"sensor", b"%d" % (i % 1000), b"temp",
               b"%d.%d" % (20 + i % 15, i % 10), b"status", b"ok")


def lock_loader(tmp):
    """A test prep that loads the keys the seed's lock release deletes (one
    file under tmp, written once, piped into each server)."""
    def load_locks(srv, rnd):
        path = os.path.join(tmp, "locks.resp")
        if not os.path.exists(path):
            write_resp(path, gen_locks(b"lock:", KEYSPACE))
        pipe_load(srv, path)
    return load_locks


def gen_locks(prefix, n):
    for i in range(n):
        yield (b"SET", b"%s%012d" % (prefix, i), b"tok")


# ---- redis-benchmark ----


class Rows(dict):
    """redis-benchmark's results, {test name: ops/s}, with .lat {test name:
    (p50, p99, p99.9) in ms}."""

    def __init__(self):
        super().__init__()
        self.lat = {}


def parse_benchmark(text):
    """Rows from redis-benchmark's plain output (the --csv one lacks the
    percentile distribution that p99.9 comes from). p50 and p99 are its
    summary's exact figures; p99.9 is the lowest latency bound its two
    distribution tables put at or above 99.9% (they are coarse, so it is an
    upper bound within about a tenth of a millisecond below 2 ms)."""
    rows = Rows()
    for block in re.split(r"^====== ", text, flags=re.M)[1:]:
        name = block.split(" ======", 1)[0].strip()
        m = re.search(r"throughput summary: ([0-9.]+) requests per second", block)
        if not m:
            continue
        rows[name] = float(m.group(1))
        summ = re.search(r"avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+"
                         r"([0-9.]+)\s+([0-9.]+)", block)
        points = [(float(pct), float(ms)) for pct, ms in
                  re.findall(r"^([0-9.]+)% <= ([0-9.]+) milliseconds", block, re.M)]
        p999 = min((ms for pct, ms in points if pct >= 99.9), default=None)
        if summ and p999 is not None:
            rows.lat[name] = (float(summ.group(3)), float(summ.group(5)), p999)
    return rows


def run_benchmark(srv, args, timeout=900, tls=None, pin=None):
    """Runs redis-benchmark; returns (Rows, error or None).
    tls: (port, [--tls options]) to go to the server's tls-port instead;
    pin: the taskset prefix [CLIENT_PIN]."""
    port, opts = tls if tls else (srv.port, [])
    argv = ((CLIENT_PIN if pin is None else pin) + [BENCH_BIN, "-h", "127.0.0.1", "-p", str(port)] + list(opts) +
            [str(a) for a in args])
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        srv.check_alive()
        return Rows(), "timed out"
    # Progress lines end in a carriage return, not a newline.
    text = (r.stdout + r.stderr).decode(errors="replace").replace("\r", "\n")
    rows = parse_benchmark(text)
    err = None
    m = re.search(r"^[^\n]*?((?:Error|ERR)[^\n]*)", text, re.M)
    if m:
        err = m.group(1).strip()
    elif r.returncode != 0 or not rows:
        err = "redis-benchmark exit %d: %s" % (r.returncode, text.strip()[-300:])
    srv.check_alive()
    return rows, err


class Test:
    """One throughput measurement: a redis-benchmark invocation per server."""

    def __init__(self, label, requires, args, pipeline, n, keyspace=KEYSPACE, builtin=None, prep=None, probe=None,
                 expect=None, runner=None):
        self.label = label
        self.requires = requires
        self.args = args  # -t name, or a custom command (list), may be callable(round)
        self.pipeline = pipeline
        self.n = n
        self.keyspace = keyspace
        self.builtin = builtin  # CSV row name prefix for -t tests
        self.prep = prep  # callable(srv, round) run before each invocation
        self.probe = probe  # a command both servers must accept once
        self.expect = expect  # callable(probe reply) -> None, or what is wrong with it
        self.runner = runner  # callable(srv, round) -> (rate, error): not redis-benchmark
        self.results = {"keel": [], "redis": []}
        self.latency = {"keel": [], "redis": []}  # (p50, p99, p99.9) ms per round
        self.error = None

    def invocation(self, rnd):
        a = self.args(rnd) if callable(self.args) else self.args
        base = ["-c", CLIENTS, "-n", self.n, "-r", self.keyspace, "-P", self.pipeline]
        if self.builtin:
            return base + ["-t", a]
        return base + list(a)

    def row_name(self, rows):
        if self.builtin:
            for name in rows:
                if name.split()[0].lower() == self.builtin and "needed" not in name:
                    return name
            return None
        return next(iter(rows), None)

    def pick(self, rows):
        name = self.row_name(rows)
        return rows[name] if name is not None else None


# ---- sections ----


def memory_section(servers, tmp, notes):
    """Loads the same data into each server; returns rows for the memory table."""
    rows = []
    cases = [("%s small strings" % human(MEM_KEYS),
              ["SET"], "key", MEM_KEYS, lambda p: write_resp(p, gen_strings(MEM_KEYS)), True)]
    cases.append(("%s hashes of 10 fields" % human(HASHES), ["HSET"], "hash", HASHES,
                  lambda p: write_resp(p, gen_hashes(HASHES)), True))
    # Before the sorted set: each case starts with FLUSHALL, and the ZRANGE
    # and ZRANK tests reuse the sorted set the last case leaves.
    cases.append(("stream of %s entries of 3 fields" % human(STREAM_N), ["XADD"], "entry", STREAM_N,
                  lambda p: write_resp(p, gen_sensor_stream(b"mem:stream", STREAM_N)), True))
    cases.append(("sorted set of %s members" % human(ZSET_N), ["ZADD"], "member", ZSET_N,
                  lambda p: write_resp(p, gen_zset(b"zbig", ZSET_N)), False))
    for label, cmds, unit, count, gen, flush_after in cases:
        missing = [c for c in cmds for s in servers if not s.supports(c)]
        if missing:
            notes.append("memory: %s skipped (no %s)" % (label, ", ".join(sorted(set(missing)))))
            continue
        path = os.path.join(tmp, "load-%s.resp" % unit)
        gen(path)
        per = {}
        for srv in servers:
            srv.flush()
            before = srv.settled_memory()
            t0 = time.time()
            pipe_load(srv, path)
            after = srv.settled_memory()
            per[srv.name] = (after - before) / count
            log("  memory %-28s %-5s %8.1f bytes/%s  (%.1f s load)" % (label, srv.name, per[srv.name], unit,
                                                                       time.time() - t0))
            if flush_after:
                srv.flush()
        os.unlink(path)
        rows.append((label, unit, per["keel"], per["redis"]))
    return rows


def ensure_zset(servers, tmp):
    """The ZRANGE/ZRANK tests read the 1M-member set the memory test leaves."""
    todo = [s for s in servers if s.call("EXISTS", "zbig") == 0]
    if not todo:
        return
    path = os.path.join(tmp, "load-zbig.resp")
    write_resp(path, gen_zset(b"zbig", ZSET_N))
    for srv in todo:
        pipe_load(srv, path)
    os.unlink(path)


def ensure_xrange_stream(servers, tmp):
    """The XRANGE test's stream, loaded once per server."""
    todo = [s for s in servers if s.call("EXISTS", "bench:xr") == 0]
    if not todo:
        return
    path = os.path.join(tmp, "load-xr.resp")
    write_resp(path, gen_stream(b"bench:xr", XRANGE_N))
    for srv in todo:
        pipe_load(srv, path)
    os.unlink(path)


HELPERS = {}


def helper_bin(tmp, name):
    """Compiles bench/<name>.c once; returns (path, None) or (None, error)."""
    if name not in HELPERS:
        path = os.path.join(tmp, name)
        cc = os.environ.get("CC", "cc")
        r = subprocess.run([cc, "-O2", "-o", path, os.path.join(ROOT, "bench", name + ".c")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            HELPERS[name] = (None, "%s.c did not compile: %s" % (name, r.stdout.decode()[-300:]))
        else:
            HELPERS[name] = (path, None)
    return HELPERS[name]


def streamgroup_once(srv, binary, n, pipeline):
    """One bench/streamgroup.c run; returns (entries per second, error)."""
    argv = CLIENT_PIN + [binary, str(srv.port), "bench:sg", str(n), str(STREAM_CONSUMERS), str(pipeline)]
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    except subprocess.TimeoutExpired:
        srv.check_alive()
        return None, "streamgroup timed out"
    srv.check_alive()
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0 or "seconds=" not in out:
        text = (out + r.stderr.decode(errors="replace")).strip()
        return None, "streamgroup exit %d: %s" % (r.returncode, text[-300:])
    m = dict(kv.split("=") for kv in out.split())
    delivered, acked, secs = int(m["delivered"]), int(m["acked"]), float(m["seconds"])
    if delivered != n or acked != n:
        return None, "%d entries, %d delivered, %d acknowledged" % (n, delivered, acked)
    return (n / secs if secs > 0 else None), None


def check_xrange(reply):
    """The probe XRANGE bench:xr 000000000005 + COUNT 10: entries 5-0..14-0."""
    ids = [e[0] for e in reply or []]
    want = [b"%d-0" % i for i in range(5, 15)]
    if ids != want:
        return "XRANGE from 000000000005 returned IDs %s, not 5-0 .. 14-0" % (
            " ".join(i.decode(errors="replace") for i in ids[:12]) or "none")
    return None


def human(n):
    for div, unit in ((1000000, "M"), (1000, "k")):
        if n >= div and n % div == 0:
            return "%d%s" % (n // div, unit)
    return str(n)


def count(pipeline, tier):
    """Requests for a test: tier 0 SET/GET/INCR, 1 other, 2 slow ones."""
    if pipeline == 1:
        return max(1, N1 // (1, 2, 4)[tier])
    return max(1, N16 // (1, 4, 8)[tier])


def build_tests(servers, tmp):
    def del_list(srv, rnd):
        srv.call("DEL", "mylist")  # every round starts from the same list

    def load_zset(srv, rnd):
        ensure_zset([srv], tmp)

    load_locks = lock_loader(tmp)

    def del_stream(srv, rnd):
        srv.call("DEL", "bench:stream")  # every XADD run grows a stream from empty

    def load_xrange(srv, rnd):
        ensure_xrange_stream([srv], tmp)

    def stream_group(n, p):
        def run(srv, rnd):
            binary, err = helper_bin(tmp, "streamgroup")
            if err:
                return None, err
            return streamgroup_once(srv, binary, n, p)
        return run

    def rate_limiter(p):
        # A fresh key prefix per round and depth: both servers see the same
        # state, whatever ran before.
        return lambda rnd: ["EVALSHA", SHAS.get("rate", ""), "1", "rl:%d:%d:__rand_int__" % (p, rnd),
                            "__rand_int__", "0", "100", "60"]

    zs = human(ZSET_N)
    tests = []
    for p in (1, 16):
        sfx = " P%d" % p
        n0, n, slow = count(p, 0), count(p, 1), count(p, 2)
        for t in ("set", "get", "incr"):
            tests.append(Test(t.upper() + sfx, [t.upper()], t, p, n0, builtin=t))
        tests.append(Test("MSET" + sfx, ["MSET"], "mset", p, slow, builtin="mset"))
        tests.append(Test("LPUSH" + sfx, ["LPUSH"], "lpush", p, n, builtin="lpush", prep=del_list))
        for t in ("rpush", "lpop", "rpop"):
            tests.append(Test(t.upper() + sfx, [t.upper()], t, p, n, builtin=t))
        tests.append(Test("LRANGE_100" + sfx, ["LPUSH", "LRANGE"], "lrange_100", p, slow, builtin="lrange_100",
                          prep=del_list))
        for t in ("sadd", "hset", "zadd"):
            tests.append(Test(t.upper() + sfx, [t.upper()], t, p, n, builtin=t))
        zrange = ["ZRANGE", "zbig", "__rand_int__", "+inf", "BYSCORE", "LIMIT", "0", "10"]
        tests.append(Test("ZRANGE BYSCORE LIMIT 10 (%s zset)%s" % (zs, sfx), ["ZADD", "ZRANGE"], zrange, p, slow,
                          keyspace=ZSET_N, prep=load_zset, probe=["5" if a == "__rand_int__" else a for a in zrange]))
        tests.append(Test("ZRANK (%s zset)%s" % (zs, sfx), ["ZADD", "ZRANK"], ["ZRANK", "zbig", "__rand_int__"], p, n,
                          keyspace=ZSET_N, prep=load_zset))
        tests.append(Test("EVALSHA rate limiter" + sfx,
                          ["EVALSHA", "SCRIPT", "ZREMRANGEBYSCORE", "ZCARD", "ZADD", "EXPIRE"], rate_limiter(p), p,
                          slow, keyspace=10000))
        tests.append(Test("EVALSHA lock release" + sfx, ["EVALSHA", "SCRIPT", "GET", "DEL"],
                          lambda rnd: ["EVALSHA", SHAS.get("lock", ""), "1", "lock:__rand_int__", "tok"], p, slow,
                          prep=load_locks))
        xadd = ["XADD", "bench:stream", "*"] + [f.decode() for f in STREAM_FIELDS]
        tests.append(Test("XADD" + sfx, ["XADD", "DEL"], xadd, p, n, prep=del_stream))
        xrange = ["XRANGE", "bench:xr", "__rand_int__", "+", "COUNT", "10"]
        tests.append(Test("XRANGE COUNT 10 (%s stream)%s" % (human(XRANGE_N), sfx), ["XADD", "XRANGE"], xrange, p,
                          slow, keyspace=XRANGE_N, prep=load_xrange,
                          probe=["000000000005" if a == "__rand_int__" else a for a in xrange], expect=check_xrange))
        tests.append(Test("XREADGROUP+XACK %d consumers (entries/s)%s" % (STREAM_CONSUMERS, sfx),
                          ["XADD", "DEL", "XGROUP", "XREADGROUP", "XACK"], None, p, slow, runner=stream_group(slow, p)))
    tests += loadgen_tests(tmp, rate_limiter(1),
                           lambda rnd: ["EVALSHA", SHAS.get("lock", ""), "1", "lock:__rand_int__", "tok"], load_locks)
    if ONLY:
        tests = [t for t in tests if re.search(ONLY, t.label, re.I)]
    return tests


# The nine core tests and the seed's lock release at pipeline 1 again,
# driven by bench/loadgen.c: at pipeline 1 redis-benchmark's own CPU (on its
# core) caps both servers near the same rate, so its rows there compare the
# client more than the server. loadgen also reports exact latencies.
LOADGEN_SUFFIX = " [loadgen P1]"
LOADGEN_N = env_int("BENCH_LOADGEN_N", 15000 if QUICK else 75000)
LOADGEN_CPU = {"keel": [], "redis": []}  # loadgen's CPU share per run


def run_loadgen(srv, binary, n, pipeline, keyspace, cmd, timeout=600, around=None):
    """bench/loadgen against srv from the client core: its key=value fields,
    or (None, error). around: a callable run before and after it, whose
    two results come back as fields["around"] = (before, after)."""
    argv = CLIENT_PIN + [binary, "-p", str(srv.port), "-c", str(CLIENTS), "-n", str(n), "-P", str(pipeline),
                         "-r", str(keyspace)] + list(cmd)
    before = around() if around else None
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    after = around() if around else None
    srv.check_alive()
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0 or "rps=" not in out:
        return None, "loadgen exit %d: %s" % (r.returncode, (out + r.stderr.decode(errors="replace"))[-300:])
    fields = dict(kv.split("=", 1) for kv in out.split())
    fields["around"] = (before, after)
    return fields, None


def loadgen_tests(tmp, limiter_args, lock_args, load_locks):
    def runner(test, words):
        def run(srv, rnd):
            binary, err = helper_bin(tmp, "loadgen")
            if err:
                return None, err
            cmd = words(rnd) if callable(words) else words
            fields, err = run_loadgen(srv, binary, LOADGEN_N, 1, KEYSPACE, cmd)
            if err:
                return None, err
            LOADGEN_CPU[srv.name].append(float(fields["cpu"]))
            test.latency[srv.name].append((float(fields["p50"]), float(fields["p99"]), float(fields["p999"])))
            return float(fields["rps"]), None
        return run

    def del_list(srv, rnd):
        srv.call("DEL", "mylist")

    # redis-benchmark's own commands for these tests (value "xxx", -d 3),
    # then the seed's two scripts.
    rows = [("SET", ["SET", "key:__rand_int__", "xxx"], None, None),
            ("GET", ["GET", "key:__rand_int__"], None, None),
            ("INCR", ["INCR", "counter:__rand_int__"], None, None),
            ("LPUSH", ["LPUSH", "mylist", "xxx"], del_list, None),
            ("RPOP", ["RPOP", "mylist"], None, None),
            ("SADD", ["SADD", "myset", "element:__rand_int__"], None, None),
            ("HSET", ["HSET", "myhash", "element:__rand_int__", "xxx"], None, None),
            ("ZADD", ["ZADD", "myzset", "__rand_int__", "element:__rand_int__"], None, None),
            ("EVALSHA rate limiter", limiter_args, None, ["EVALSHA", "SCRIPT", "ZREMRANGEBYSCORE", "ZCARD", "ZADD",
                                                          "EXPIRE"]),
            ("EVALSHA lock release", lock_args, load_locks, ["EVALSHA", "SCRIPT", "GET", "DEL"])]
    tests = []
    for label, words, prep, requires in rows:
        t = Test(label + LOADGEN_SUFFIX, requires or [words[0]], None, 1, LOADGEN_N, prep=prep)
        t.runner = runner(t, words)
        tests.append(t)
    return tests


# ---- Redis 7 data commands (bitmaps, HyperLogLog, geo, SORT) at P16 ----

DATA_SUFFIX = " [P16]"
GEO_N = env_int("BENCH_GEO_N", 1000000)


def geo_points(n, seed=7):
    """n points spread over a 30 x 20 degree box (about 0.2 per km^2)."""
    rng = random.Random(seed)
    return [("%.6f" % rng.uniform(0, 30), "%.6f" % rng.uniform(30, 50), "p%d" % i) for i in range(n)]


def data_tests(tmp):
    def once(name, fill):
        """prep that loads `name`'s data into a server the first time."""
        done = set()

        def prep(srv, rnd):
            if srv.name not in done:
                pipe_stream(srv, fill())
                done.add(srv.name)
        return prep

    def bitmap():
        rng = random.Random(3)
        blob = bytes(rng.getrandbits(8) for _ in range(1 << 20))
        return [[b"DEL", b"bm1m"], [b"SET", b"bm1m", blob]]

    def hlls():
        out = [[b"DEL", b"hll1", b"hll2", b"hll3"]]
        for k in (1, 2, 3):
            for i in range(0, 20000, 500):
                out.append([b"PFADD", b"hll%d" % k] + [b"e%d:%d" % (k, j) for j in range(i, i + 500)])
        return out

    def geo():
        out = [[b"DEL", b"geobig"]]
        pts = geo_points(GEO_N)
        for i in range(0, len(pts), 1000):
            cmd = [b"GEOADD", b"geobig"]
            for lon, lat, m in pts[i:i + 1000]:
                cmd += [lon.encode(), lat.encode(), m.encode()]
            out.append(cmd)
        return out

    def sortdata():
        out = [[b"DEL", b"sortlist"], [b"RPUSH", b"sortlist"] + [b"%d" % i for i in range(1000)]]
        out.append([b"MSET"] + [x for i in range(1000) for x in (b"w_%d" % i, b"%d" % ((i * 7919) % 1000))])
        return out

    n, slow = count(16, 1), count(16, 2)
    t = []
    t.append(Test("SETBIT" + DATA_SUFFIX, ["SETBIT"], ["SETBIT", "bits:__rand_int__", "1000", "1"], 16, n))
    t.append(Test("BITCOUNT (1 MB bitmap)" + DATA_SUFFIX, ["BITCOUNT"], ["BITCOUNT", "bm1m"], 16, max(1, slow // 8),
                  prep=once("bitmap", bitmap), probe=["BITCOUNT", "bm1m", "0", "0"]))
    t.append(Test("PFADD" + DATA_SUFFIX, ["PFADD"], ["PFADD", "hllw", "__rand_int__"], 16, n))
    t.append(Test("PFCOUNT of 3 keys" + DATA_SUFFIX, ["PFADD", "PFCOUNT"], ["PFCOUNT", "hll1", "hll2", "hll3"], 16,
                  slow, prep=once("hll", hlls), probe=["PFCOUNT", "hll1", "hll2", "hll3"]))
    t.append(Test("GEOADD" + DATA_SUFFIX, ["GEOADD"], ["GEOADD", "geow", "13.__rand_int__", "38.115556",
                                                        "m:__rand_int__"], 16, n))
    t.append(Test("GEOSEARCH BYRADIUS 5 km (%s members)%s" % (human(GEO_N), DATA_SUFFIX), ["GEOADD", "GEOSEARCH"],
                  ["GEOSEARCH", "geobig", "FROMLONLAT", "15.__rand_int__", "40", "BYRADIUS", "5", "km"], 16, slow,
                  prep=once("geo", geo), probe=["GEOSEARCH", "geobig", "FROMLONLAT", "15", "40", "BYRADIUS", "5",
                                                "km"]))
    t.append(Test("SORT 1,000 elements BY pattern" + DATA_SUFFIX, ["SORT"], ["SORT", "sortlist", "BY", "w_*"], 16,
                  max(1, slow // 16), prep=once("sort", sortdata), probe=["SORT", "sortlist", "BY", "w_*", "LIMIT",
                                                                          "0", "1"]))
    if ONLY:
        t = [x for x in t if re.search(ONLY, x.label, re.I)]
    return t


def data_section(servers, tmp, notes):
    return run_rounds(runnable_tests(data_tests(tmp), servers, notes), servers, notes, "data commands ")


SHAS = {}


def load_scripts(servers):
    for name, body in (("lock", LOCK_RELEASE_LUA), ("rate", RATE_LIMIT_LUA)):
        for srv in servers:
            try:
                sha = srv.call("SCRIPT", "LOAD", body).decode()
            except RespError as e:
                log("  SCRIPT LOAD failed on %s: %s" % (srv.name, e))
                return
            SHAS[name] = sha


def throughput_section(servers, tmp, notes):
    tests = build_tests(servers, tmp)
    if all(s.supports("SCRIPT") and s.supports("EVALSHA") for s in servers):
        load_scripts(servers)
    return run_rounds(runnable_tests(tests, servers, notes), servers, notes)


ACL_USER, ACL_PASS = "benchacl", "benchpw"


def acl_section(servers, tmp, notes):
    """GET/SET as the default user and as a user with 20 key patterns."""
    if not all(s.supports("ACL") for s in servers):
        notes.append("acl skipped: no ACL")
        return []
    patterns = ["~prefix%d:*" % i for i in range(20)]
    for s in servers:
        s.call("ACL", "SETUSER", ACL_USER, "reset", "on", ">" + ACL_PASS, "+@all", "&*", *patterns)
    tests = []
    for user in ("default", "20 patterns"):
        auth = [] if user == "default" else ["--user", ACL_USER, "-a", ACL_PASS]
        for cmd in (["GET", "prefix19:__rand_int__"], ["SET", "prefix19:__rand_int__", "xxx"]):
            for p, n in ((1, N1), (16, N16)):
                tests.append(Test("%s %s P%d" % (cmd[0], user, p), ["ACL", cmd[0]], auth + cmd, p, n))
    return run_rounds(runnable_tests(tests, servers, notes), servers, notes, title="acl ")


def runnable_tests(tests, servers, notes):
    """The tests both servers can run: every command they need exists, and
    their probe (after their prep) is accepted by both."""
    runnable = []
    for t in tests:
        missing = sorted({c for c in t.requires for s in servers if not s.supports(c)})
        if missing:
            # One note for both pipeline depths.
            note = "%s skipped: no %s" % (re.sub(r" P\d+$", "", t.label), ", ".join(missing))
            if note not in notes:
                notes.append(note)
            continue
        if t.probe:
            if t.prep:
                for s in servers:
                    t.prep(s, 0)
            bad = []
            for s in servers:
                try:
                    reply = s.call(*t.probe)
                    wrong = t.expect(reply) if t.expect else None
                    if wrong:
                        bad.append("%s: %s" % (s.name, wrong))
                except RespError as e:
                    bad.append("%s: %s" % (s.name, e))
            if bad:
                notes.append("%s skipped: %s" % (t.label, "; ".join(bad)))
                continue
        runnable.append(t)
    return runnable


def run_rounds(runnable, servers, notes, title=""):
    """Runs every test on both servers in ROUNDS alternating rounds; returns
    the tests that produced results (a failure is noted and ends its test)."""
    for rnd in range(1, ROUNDS + 1):
        log("%sround %d/%d" % (title, rnd, ROUNDS))
        order = servers if rnd % 2 == 1 else servers[::-1]
        for t in runnable:
            if t.error:
                continue
            for srv in order:
                if t.prep:
                    t.prep(srv, rnd)
                if t.runner:
                    rps, err = t.runner(srv, rnd)
                else:
                    rows, err = run_benchmark(srv, t.invocation(rnd))
                    rps = t.pick(rows)
                    lat = rows.lat.get(t.row_name(rows))
                    if lat:
                        t.latency[srv.name].append(lat)
                if err or rps is None:
                    t.error = "%s: %s" % (srv.name, err or "no result")
                    notes.append("%s failed: %s" % (t.label, t.error))
                    log("  %-40s %-5s ERROR %s" % (t.label, srv.name, t.error))
                    break
                t.results[srv.name].append(rps)
                log("  %-40s %-5s %12.0f ops/s" % (t.label, srv.name, rps))
    return [t for t in runnable if not t.error and t.results["keel"]]


def pubsub_once(srv, sub_bin, nsub):
    p = subprocess.Popen(CLIENT_PIN + [sub_bin, str(srv.port), str(nsub), "1", "bench:chan", "bench:*"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    PROCS.append(p)
    try:
        line = p.stdout.readline().decode().strip()
        if line != "ready":
            srv.check_alive()
            return None, "subscriber: %s %s" % (line, p.stderr.read().decode()[-300:])
        rows, err = run_benchmark(srv, ["-c", CLIENTS, "-n", PUBSUB_N, "-P", 1, "PUBLISH", "bench:chan",
                                        "x" * 16])
        p.stdin.write(b"done\n")
        p.stdin.flush()
        out = p.stdout.readline().decode()
        p.wait(timeout=30)
    finally:
        stop_proc(p)
    if err:
        return None, err
    m = dict(kv.split("=") for kv in out.split())
    delivered = int(m["messages"]) + int(m["pmessages"])
    expected = PUBSUB_N * (nsub + 1)
    secs = float(m["seconds"])
    if delivered < expected or int(m["closed"]):
        return None, "delivered %d of %d messages, %s subscriber connections closed" % (delivered, expected,
                                                                                        m["closed"])
    return delivered / secs if secs > 0 else None, None


def pubsub_section(servers, tmp, notes):
    need = ["PUBLISH", "SUBSCRIBE", "PSUBSCRIBE"]
    missing = sorted({c for c in need for s in servers if not s.supports(c)})
    if missing:
        notes.append("PUBLISH fan-out skipped: no %s" % ", ".join(missing))
        return []
    sub_bin, err = helper_bin(tmp, "subcount")
    if err:
        notes.append("PUBLISH fan-out skipped: %s" % err)
        return []
    tests = [Test("PUBLISH to %d sub%s + 1 pattern sub (deliveries/s)" % (k, "" if k == 1 else "s"), need, None, 1,
                  PUBSUB_N) for k in SUBSCRIBER_COUNTS]
    for t, k in zip(tests, SUBSCRIBER_COUNTS):
        t.nsub = k
    if ONLY:
        tests = [t for t in tests if re.search(ONLY, t.label, re.I)]
    for rnd in range(1, ROUNDS + 1):
        log("pub/sub round %d/%d" % (rnd, ROUNDS))
        order = servers if rnd % 2 == 1 else servers[::-1]
        for t in tests:
            if t.error:
                continue
            for srv in order:
                rate, err = pubsub_once(srv, sub_bin, t.nsub)
                if err or rate is None:
                    t.error = "%s: %s" % (srv.name, err or "no messages")
                    notes.append("%s failed: %s" % (t.label, t.error))
                    log("  %-40s %-5s ERROR %s" % (t.label, srv.name, t.error))
                    break
                t.results[srv.name].append(rate)
                log("  %-40s %-5s %12.0f msgs/s" % (t.label, srv.name, rate))
    return [t for t in tests if not t.error and t.results["keel"]]


# ---- persistence ----

# Redis rewrites its AOF by itself once it has grown by 100% past 64 MB
# (auto-aof-rewrite-*), a fork in the middle of a measurement; Keel has no
# automatic rewrite, so it is turned off on Redis to compare the append path
# alone.
AOF_REDIS_ARGS = ["--auto-aof-rewrite-percentage", "0"]
RDB_COLL_N = 100000  # elements of each collection of the RDB dataset
RDB_COLL_KINDS = ("hash", "list", "set", "zset")
RDB_COLL_EACH = 2  # collections of each kind
RDB_COLL_BYTES = 63  # about what one element of each kind adds to the file
PAGE = os.sysconf("SC_PAGE_SIZE")
HAVE_PSS = os.path.exists("/proc/self/smaps_rollup")


def aof_section(tmp, notes):
    """SET with the AOF on: a fresh pair of servers per appendfsync mode."""
    done = []
    for mode in ("everysec", "always"):
        # Every write waits for its fsync with `always`: the slow counts.
        tier = 0 if mode == "everysec" else 2
        tests = [Test("SET AOF %s P%d" % (mode, p), ["SET"], "set", p, count(p, tier), builtin="set")
                 for p in (1, 16)]
        if ONLY:
            tests = [t for t in tests if re.search(ONLY, t.label, re.I)]
        if not tests:
            continue
        args = ["--appendonly", "yes", "--appendfsync", mode, "--save", ""]
        try:
            pair = start_pair(tmp, args, AOF_REDIS_ARGS)
        except BenchError as e:
            notes.append("SET AOF %s skipped: a server did not start with %s: %s"
                         % (mode, " ".join(a or "''" for a in args), str(e).strip()[-300:]))
            continue
        try:
            bad = []
            for s in pair:
                try:
                    on = s.info("persistence").get("aof_enabled")
                    fsync = s.call("CONFIG", "GET", "appendfsync")
                except RespError as e:
                    bad.append("%s: %s" % (s.name, e))
                    continue
                if on != "1" or not fsync or fsync[-1] != mode.encode():
                    bad.append("%s: aof_enabled:%s, appendfsync %s" % (s.name, on, fsync))
            if bad:
                notes.append("SET AOF %s skipped: %s" % (mode, "; ".join(bad)))
                continue
            log("AOF appendfsync %s: keel on port %d, redis on port %d" % (mode, pair[0].port, pair[1].port))
            done += run_rounds(tests, pair, notes, "AOF %s " % mode)
        finally:
            stop_pair(pair)
    return done


def rdb_keys():
    """String keys of the RDB dataset: BENCH_RDB_MB less the collections."""
    coll = RDB_COLL_EACH * len(RDB_COLL_KINDS) * RDB_COLL_N * RDB_COLL_BYTES // len(RDB_COLL_KINDS)
    return max(1000, (RDB_MB * 1000000 - coll) // (RDB_VALUE + 20))


def gen_rdb_data(keys):
    """SET key:%012d (the names redis-benchmark's -r writes) with values of
    RDB_VALUE bytes cut from a random pool, so that neither RDB compression
    nor anything else shrinks them; then the collections."""
    pool = random.Random(1).randbytes(max(1 << 20, 4 * RDB_VALUE))
    span = len(pool) - RDB_VALUE
    for i in range(keys):
        off = (i * 7919) % span
        yield (b"SET", b"key:%012d" % i, pool[off:off + RDB_VALUE])
    for j in range(RDB_COLL_EACH):
        for start in range(0, RDB_COLL_N, 1000):
            idx = range(start, min(RDB_COLL_N, start + 1000))
            h = [b"HSET", b"coll:hash:%d" % j]
            z = [b"ZADD", b"coll:zset:%d" % j]
            for i in idx:
                h += [b"f:%08d" % i, b"v:%08d" % i]
                z += [b"%d" % i, b"m:%08d" % i]
            yield h
            yield [b"RPUSH", b"coll:list:%d" % j] + [b"e:%08d" % i for i in idx]
            yield [b"SADD", b"coll:set:%d" % j] + [b"m:%08d" % i for i in idx]
            yield z


def make_rdb(tmp):
    """redis-server SAVEs the dataset; returns (path of the file, DBSIZE)."""
    keys = rdb_keys()
    log("persistence: writing a %d MB RDB with redis-server (%d keys of %d bytes + %d collections of %s)"
        % (RDB_MB, keys, RDB_VALUE, RDB_COLL_EACH * len(RDB_COLL_KINDS), human(RDB_COLL_N)))
    gen = Server("redis-gen", REDIS_BIN, tmp)
    try:
        gen.start()
        pipe_stream(gen, gen_rdb_data(keys))
        dbsize = gen.call("DBSIZE")
        gen.conn.sock.settimeout(900)
        gen.call("SAVE")
        master = os.path.join(tmp, "dataset.rdb")
        os.rename(os.path.join(gen.dir, "dump.rdb"), master)
    finally:
        gen.stop()
        shutil.rmtree(gen.dir, ignore_errors=True)
    return master, dbsize


def proc_children(pid):
    kids = []
    paths = glob.glob("/proc/%d/task/*/children" % pid)
    for p in paths:
        try:
            with open(p) as f:
                kids += [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            pass
    if not paths:  # a kernel without CONFIG_PROC_CHILDREN
        r = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        kids = [int(x) for x in r.stdout.split()]
    return kids


def proc_mem(pid):
    """(RSS, PSS) of one process in bytes (PSS None without smaps_rollup);
    (0, 0) once it is gone."""
    try:
        with open("/proc/%d/statm" % pid) as f:
            rss = int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0, 0
    if not HAVE_PSS:
        return rss, None
    pss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    return rss, pss


def sample_tree(pid):
    """Summed RSS and PSS of the server and its children, and the children."""
    kids = proc_children(pid)
    rss, pss = proc_mem(pid)
    for k in kids:
        r, p = proc_mem(k)
        rss += r
        pss = None if pss is None or p is None else pss + p
    return rss, pss, len(kids)


class TreeSampler(threading.Thread):
    """Samples sample_tree(pid) every 50 ms (or back to back when a sample
    takes longer: smaps_rollup walks the page tables) and keeps the peaks."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.stop_flag = threading.Event()
        self.peak_rss, self.peak_pss, self.children, self.samples = 0, 0, 0, 0

    def sample(self):
        rss, pss, kids = sample_tree(self.pid)
        self.samples += 1
        self.children = max(self.children, kids)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = None if pss is None or self.peak_pss is None else max(self.peak_pss, pss)

    def run(self):
        while not self.stop_flag.is_set():
            tick = time.monotonic()
            self.sample()
            self.stop_flag.wait(max(0.0, 0.05 - (time.monotonic() - tick)))

    def finish(self):
        self.stop_flag.set()
        self.join()
        self.sample()  # the last word, after the save


# The probe's own process: a thread of this one would share the GIL with the
# memory sampler, whose /proc walks then show up as milliseconds of latency.
PROBE_CODE = r"""
import json, socket, sys, threading, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
lists = {"before": [], "during": []}
state = {"cur": "before", "stop": False}
def control():
    for line in sys.stdin:
        if line.strip() == "mark":
            state["cur"] = "during"
        else:
            break
    state["stop"] = True
print("ready", flush=True)
sys.stdin.readline()  # "go"
threading.Thread(target=control, daemon=True).start()
while not state["stop"]:
    t0 = time.perf_counter()
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    buf = b""
    while not buf.endswith(b"\r\n"):
        chunk = s.recv(64)
        if not chunk:
            state["stop"] = True
            break
        buf += chunk
    lists[state["cur"]].append(time.perf_counter() - t0)
print(json.dumps(lists), flush=True)
"""


class LatencyProbe:
    """Another client in a process of its own: PING after PING on its own
    connection, each timed, while the flood and the BGSAVE run. mark()
    starts the BGSAVE window."""

    def __init__(self, port):
        self.proc = subprocess.Popen([sys.executable, "-c", PROBE_CODE, str(port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, start_new_session=True)
        PROCS.append(self.proc)
        self.before, self.during = [], []

    def start(self):
        if self.proc.stdout.readline().strip() != b"ready":
            raise BenchError("latency probe did not start")
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def is_alive(self):
        return self.proc.poll() is None

    def mark(self):
        self.proc.stdin.write(b"mark\n")
        self.proc.stdin.flush()

    def finish(self):
        try:
            self.proc.stdin.write(b"stop\n")
            self.proc.stdin.close()
            out = self.proc.stdout.readline()
            self.proc.wait(10)
            lists = json.loads(out)
            self.before, self.during = lists["before"], lists["during"]
        except (OSError, ValueError, subprocess.TimeoutExpired):
            stop_proc(self.proc)

    @staticmethod
    def pct(xs, q):
        if not xs:
            return None
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(q * len(xs)))]


def bgsave_under_writes(srv, keys):
    """BGSAVE during a SET flood over the dataset's keys: ({...}, None) or
    (None, error). RSS and PSS of the server and its children are sampled
    every 50 ms until rdb_bgsave_in_progress is 0."""
    used = srv.settled_memory()
    flood = subprocess.Popen(CLIENT_PIN + [BENCH_BIN, "-h", "127.0.0.1", "-p", str(srv.port), "-c", str(CLIENTS),
                                           "-n", "2000000000", "-r", str(keys), "-d", str(RDB_VALUE), "-t", "set",
                                           "-q"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    PROCS.append(flood)
    sampler = TreeSampler(srv.proc.pid)
    probe = LatencyProbe(srv.port)
    try:
        time.sleep(0.5)  # the flood's 50 connections are up and writing
        probe.start()
        time.sleep(1.0)  # the probe's baseline: the flood alone
        if flood.poll() is not None:
            srv.check_alive()
            return None, "the redis-benchmark write flood exited (%s)" % flood.returncode
        cmds0 = int(srv.info("stats").get("total_commands_processed", 0))
        sampler.sample()  # the server alone, before the BGSAVE
        rss0, pss0 = sampler.peak_rss, sampler.peak_pss
        t0 = time.monotonic()
        probe.mark()
        try:
            srv.call("BGSAVE")
        except RespError as e:
            return None, "BGSAVE: %s" % e
        sampler.start()
        while True:
            info = srv.info("persistence")
            if info.get("rdb_bgsave_in_progress") == "0":
                break
            if time.monotonic() - t0 > 900:
                return None, "BGSAVE still running after 900 s"
            time.sleep(0.05)
        secs = time.monotonic() - t0
        cmds1 = int(srv.info("stats").get("total_commands_processed", 0))
    finally:
        if sampler.is_alive():
            sampler.finish()
        if probe.is_alive():
            probe.finish()
        stop_proc(flood)
    if info.get("rdb_last_bgsave_status") != "ok":
        return None, "BGSAVE failed (rdb_last_bgsave_status:%s)" % info.get("rdb_last_bgsave_status")
    return {"used": used, "rss0": rss0, "pss0": pss0, "peak_rss": sampler.peak_rss, "peak_pss": sampler.peak_pss,
            "children": sampler.children, "samples": sampler.samples, "bgsave_s": secs,
            "writes": (cmds1 - cmds0) / secs if secs > 0 else 0,
            "lat_before_p99": LatencyProbe.pct(probe.before, 0.99), "lat_p50": LatencyProbe.pct(probe.during, 0.5),
            "lat_p99": LatencyProbe.pct(probe.during, 0.99), "lat_max": LatencyProbe.pct(probe.during, 1.0)}, None


def rdb_round(name, binary, tmp, master, dbsize, bgsave):
    """One server started on its own link to the file: seconds until loaded,
    used_memory, and with bgsave the BGSAVE measurement. Returns (row,
    BGSAVE error)."""
    d = tempfile.mkdtemp(prefix=name + "-rdb-", dir=tmp)
    try:
        os.link(master, os.path.join(d, "dump.rdb"))  # BGSAVE renames over it: the master stays
    except OSError:
        shutil.copyfile(master, os.path.join(d, "dump.rdb"))
    srv = Server(name, binary, tmp, NO_PERSISTENCE, dir=d)
    try:
        t0 = time.monotonic()
        srv.launch()
        seen = srv.wait_ready(timeout=900, poll=0.005, loaded=True)
        secs = time.monotonic() - t0
        n = srv.call("DBSIZE")
        if n != dbsize:
            raise RespError("%s loaded %s keys of %s" % (name, n, dbsize))
        row = {"load_s": secs, "used": srv.settled_memory(), "seen": seen}
        if not bgsave:
            return row, None
        if not srv.supports("BGSAVE"):
            return row, "no BGSAVE"
        bg, err = bgsave_under_writes(srv, dbsize - RDB_COLL_EACH * len(RDB_COLL_KINDS))
        if bg:
            row.update({"bg_" + k: v for k, v in bg.items()})
        return row, err
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)


def rdb_section(tmp, notes):
    """Load time of a large RDB and peak memory of BGSAVE under writes."""
    master, dbsize = make_rdb(tmp)
    size = os.path.getsize(master)
    names = (("keel", KEEL_BIN), ("redis", REDIS_BIN))
    rows = {"keel": [], "redis": []}
    bg_error = None
    try:
        for rnd in range(1, RDB_ROUNDS + 1):
            bgsave = rnd <= BGSAVE_ROUNDS and not bg_error
            log("RDB load%s round %d/%d (%.0f MB)" % (" + BGSAVE" if bgsave else "", rnd, RDB_ROUNDS, size / 1e6))
            for name, binary in (names if rnd % 2 == 1 else names[::-1]):
                try:
                    row, err = rdb_round(name, binary, tmp, master, dbsize, bgsave)
                except RespError as e:
                    notes.append("RDB load skipped: %s: %s" % (name, str(e).strip()[-300:]))
                    return None
                if err and not bg_error:
                    bg_error = "%s: %s" % (name, err)
                    notes.append("BGSAVE under writes skipped: %s" % bg_error)
                rows[name].append(row)
                log("  %-5s loaded in %6.2f s, used_memory %6.0f MB (polls: %d refused, %d -LOADING, %d +PONG "
                    "with loading:1)" % (name, row["load_s"], row["used"] / 1e6, row["seen"]["refused"],
                                         row["seen"]["loading"], row["seen"]["pong_loading"]))
                if "bg_peak_rss" in row:
                    log("        BGSAVE %.1f s, %d child process(es), peak RSS %.0f MB%s, %.0f SETs/s, %d samples" % (
                        row["bg_bgsave_s"], row["bg_children"], row["bg_peak_rss"] / 1e6,
                        "" if row["bg_peak_pss"] is None else " PSS %.0f MB" % (row["bg_peak_pss"] / 1e6),
                        row["bg_writes"], row["bg_samples"]))
    finally:
        os.unlink(master)
    return {"size": size, "dbsize": dbsize, "keys": dbsize - RDB_COLL_EACH * len(RDB_COLL_KINDS), "rows": rows,
            "bgsave": not bg_error and BGSAVE_ROUNDS > 0}


def persistence_section(tmp, notes):
    aof = aof_section(tmp, notes)
    rdb = None
    if not ONLY or re.search(ONLY, "RDB load BGSAVE", re.I):
        rdb = rdb_section(tmp, notes)
    return aof, rdb


# ---- replication ----

# Redis waits repl-diskless-sync-delay (5 s) for more replicas before a
# diskless full sync starts; that wait is policy, not work, so it is 0 here.
# DEBUG (POPULATE, DIGEST) is off by default, on Redis 7 as on Keel.
REPL_ARGS = NO_PERSISTENCE + ["--repl-diskless-sync-delay", "0", "--enable-debug-command", "local"]
REPL_SYNC_TIMEOUT = 300  # seconds for a full sync or a catch-up before giving up


class ReplError(Exception):
    """A replica that did not sync or catch up; the message has the details."""


def repl_offsets(primary, replica):
    """(INFO replication of the replica, of the primary), read in that order:
    the primary's offset is read last, so replica == primary means in sync."""
    return replica.info("replication"), primary.info("replication")


def repl_state(primary, replica):
    """What the two servers say about their link, for an error message."""
    out = []
    for role, srv in (("primary", primary), ("replica", replica)):
        out.append("%s %s (port %d):" % (role, srv.name, srv.port))
        if srv.proc.poll() is not None:
            out.append("  exited with %s" % srv.proc.returncode)
        else:
            try:
                for k, v in srv.info("replication").items():
                    out.append("  %s:%s" % (k, v))
            except (RespError, OSError, ConnectionError) as e:
                out.append("  INFO replication: %s" % e)
        out.append("  log tail:")
        out += ["    " + line for line in srv.log_tail().splitlines()[-15:]]
    return "\n".join(out)


def wait_synced(primary, replica, t0, poll=0.005, timeout=REPL_SYNC_TIMEOUT):
    """Polls until the replica says master_link_status:up and its
    slave_repl_offset equals the primary's master_repl_offset; returns the
    seconds since t0 (time.monotonic()). Raises ReplError after timeout."""
    while True:
        primary.check_alive()
        replica.check_alive()
        try:
            r, p = repl_offsets(primary, replica)
            if r.get("master_link_status") == "up" and r.get("slave_repl_offset") == p.get("master_repl_offset"):
                return time.monotonic() - t0
        except RespError as e:
            if not str(e).startswith("LOADING"):  # a replica may refuse INFO while it loads
                raise ReplError("INFO replication: %s\n%s" % (e, repl_state(primary, replica)))
        if time.monotonic() - t0 > timeout:
            raise ReplError("replica not in sync after %g s:\n%s" % (timeout, repl_state(primary, replica)))
        time.sleep(poll)


def wait_online(primary, replica, timeout=REPL_SYNC_TIMEOUT):
    """Polls until the primary lists its replica as state=online. A replica
    can be in sync by its own account before that: Redis holds the stream
    back after a diskless sync until the replica's first REPLCONF ACK."""
    t0 = time.monotonic()
    while True:
        primary.check_alive()
        replica.check_alive()
        if "state=online" in primary.info("replication").get("slave0", ""):
            return
        if time.monotonic() - t0 > timeout:
            raise ReplError("the primary does not list its replica as online after %g s:\n%s" % (
                timeout, repl_state(primary, replica)))
        time.sleep(0.005)


def start_replica(primary, tmp):
    """A fresh, empty server of the primary's kind (own directory, --save '',
    pinned like the primary), not yet replicating."""
    rep = Server(primary.name + "-replica", primary.binary, tmp, REPL_ARGS)
    try:
        rep.start()
    except BaseException:
        rep.stop()
        shutil.rmtree(rep.dir, ignore_errors=True)
        raise
    return rep


def attach(primary, replica):
    """REPLICAOF the primary; returns the seconds until the replica is in sync."""
    t0 = time.monotonic()
    replica.call("REPLICAOF", "127.0.0.1", primary.port)
    return wait_synced(primary, replica, t0)


class LagSampler(threading.Thread):
    """Every `interval` seconds: the replica's slave_repl_offset, then the
    primary's master_repl_offset, each over a connection of its own; the
    difference is the replica's lag in bytes (read in this order it is never
    below the true lag at the replica's reading, and above it by what the
    primary wrote during one INFO round trip)."""

    def __init__(self, primary, replica, interval, start_offset):
        super().__init__(daemon=True)
        self.pconn, self.rconn = Conn(primary.port), Conn(replica.port)
        self.interval = interval
        self.start_offset = start_offset  # samples count once the primary's offset has moved past it
        self.stop_flag = threading.Event()
        self.lags = []
        self.error = None

    @staticmethod
    def offset(conn, field):
        text = conn.call("INFO", "replication").decode()
        m = re.search(r"^%s:(-?\d+)" % field, text, re.M)
        if not m:
            raise RespError("INFO replication has no %s" % field)
        return int(m.group(1))

    def run(self):
        try:
            while not self.stop_flag.is_set():
                tick = time.monotonic()
                r = self.offset(self.rconn, "slave_repl_offset")
                p = self.offset(self.pconn, "master_repl_offset")
                if p != self.start_offset:
                    self.lags.append(p - r)
                self.stop_flag.wait(max(0.0, self.interval - (time.monotonic() - tick)))
        except (RespError, OSError, ConnectionError) as e:
            self.error = "lag sampler: %s" % e

    def finish(self):
        self.stop_flag.set()
        self.join()
        for c in (self.pconn, self.rconn):
            try:
                c.close()
            except OSError:
                pass


def repl_load_test(tmp, notes):
    """SET P16 against each primary with one replica attached, sampling the
    replica's lag meanwhile. Returns the Test (with .lag, .catchup, .stream
    per server) or None."""
    t = Test("SET with 1 replica P16", ["SET", "REPLICAOF"], "set", 16, max(1, N16 // 2), builtin="set")
    if ONLY and not re.search(ONLY, t.label, re.I):
        return None
    t.lag = {"keel": [], "redis": []}  # a list of samples per round
    t.catchup = {"keel": [], "redis": []}  # seconds from the run's end until the replica is in sync
    t.stream = {"keel": [], "redis": []}  # replication stream bytes per second of the run

    def run(srv, rnd):
        rep = srv.replica
        p0 = int(srv.info("replication")["master_repl_offset"])
        sampler = LagSampler(srv, rep, REPL_SAMPLE_MS / 1000.0, p0)
        t0 = time.monotonic()
        sampler.start()
        try:
            rows, err = run_benchmark(srv, t.invocation(rnd))
            t1 = time.monotonic()
        finally:
            sampler.finish()
        rep.check_alive()
        if err:
            return None, err
        try:
            catchup = wait_synced(srv, rep, t1)
        except ReplError as e:
            log("  %s: %s" % (srv.name, e))
            return None, str(e).splitlines()[0]
        if sampler.error:
            return None, sampler.error
        p1 = int(srv.info("replication")["master_repl_offset"])
        t.lag[srv.name].append(sampler.lags)
        t.catchup[srv.name].append(catchup)
        t.stream[srv.name].append((p1 - p0) / (t1 - t0))
        log("  %-40s %-5s lag max %s mean %s bytes (%d samples), in sync %.0f ms after the run" % (
            "replica lag", srv.name, fmt_rate(max(sampler.lags, default=0)),
            fmt_rate(statistics.mean(sampler.lags) if sampler.lags else 0), len(sampler.lags), catchup * 1000))
        return t.pick(rows), None

    t.runner = run
    primaries = []
    replicas = []
    try:
        try:
            primaries = start_pair(tmp, REPL_ARGS)
        except BenchError as e:
            notes.append("%s skipped: a server did not start: %s" % (t.label, str(e).strip()[-300:]))
            return None
        missing = sorted({c for c in t.requires for s in primaries if not s.supports(c)})
        if missing:
            notes.append("Replication skipped: no %s" % ", ".join(missing))
            return None
        for p in primaries:
            p.replica = start_replica(p, tmp)
            replicas.append(p.replica)
            try:
                secs = attach(p, p.replica)
                wait_online(p, p.replica)
            except (ReplError, RespError) as e:
                log("  %s: %s" % (p.name, e))
                notes.append("%s skipped: %s: %s" % (t.label, p.name, str(e).splitlines()[0]))
                return None
            log("replication: %s primary on port %d, replica on port %d (in sync after %.2f s, then online)" % (
                p.name, p.port, p.replica.port, secs))
        done = run_rounds([t], primaries, notes, "replication SET P16 ")
        if done:
            check_replicas(primaries, notes)
        return done[0] if done else None
    finally:
        stop_pair(replicas)
        stop_pair(primaries)


def check_replicas(primaries, notes):
    """After the runs: each replica must hold what its primary holds (DEBUG
    DIGEST where both have it, else DBSIZE)."""
    for p in primaries:
        rep = p.replica
        try:
            wait_synced(p, rep, time.monotonic())
            try:
                a, b = p.call("DEBUG", "DIGEST"), rep.call("DEBUG", "DIGEST")
                what = "DEBUG DIGEST"
            except RespError:
                a, b = p.call("DBSIZE"), rep.call("DBSIZE")
                what = "DBSIZE"
        except (ReplError, RespError) as e:
            notes.append("replication: %s replica not checked: %s" % (p.name, str(e).splitlines()[0]))
            continue
        if a != b:
            notes.append("replication: %s replica differs from its primary after the SET runs: %s %s vs %s" % (
                p.name, what, a, b))
        else:
            log("  %s replica matches its primary (%s)" % (p.name, what))


def populate(srv, n):
    """n string keys key:<i> = value:<i>: DEBUG POPULATE, or the same keys
    through redis-cli --pipe where DEBUG POPULATE is refused."""
    try:
        srv.conn.sock.settimeout(600)
        srv.call("DEBUG", "POPULATE", n)
        how = "DEBUG POPULATE"
    except RespError:
        pipe_stream(srv, ((b"SET", b"key:%d" % i, b"value:%d" % i) for i in range(n)))
        how = "redis-cli --pipe"
    finally:
        srv.conn.sock.settimeout(60)
    got = srv.call("DBSIZE")
    if got != n:
        raise RespError("%s holds %s keys after %s of %d" % (srv.name, got, how, n))
    return how


def sync_once(primary, tmp):
    """A fresh replica of primary: seconds from REPLICAOF until in sync."""
    rep = start_replica(primary, tmp)
    try:
        secs = attach(primary, rep)
        got, want = rep.call("DBSIZE"), primary.call("DBSIZE")
        if got != want:
            raise ReplError("%s replica holds %s keys after the full sync, its primary %s" % (primary.name, got, want))
        return secs
    finally:
        stop_pair([rep])


def full_sync_test(tmp, notes):
    """Time of a full sync of REPL_KEYS keys to a fresh replica, in
    REPL_SYNC_ROUNDS alternating rounds; Redis once in each of its modes
    (diskless, its default, and to disk). Returns {"rows": {"keel": [s..],
    "keel_disk": [s..], "redis": [s..], "redis_disk": [s..]}, "how": {server: loader}} or None."""
    try:
        primaries = start_pair(tmp, REPL_ARGS)
    except BenchError as e:
        notes.append("Full sync skipped: a server did not start: %s" % str(e).strip()[-300:])
        return None
    try:
        if not all(s.supports("REPLICAOF") for s in primaries):
            notes.append("Full sync skipped: no REPLICAOF")
            return None
        how = {}
        for p in primaries:
            t0 = time.monotonic()
            how[p.name] = populate(p, REPL_KEYS)
            log("full sync: %s primary on port %d loaded %s keys with %s in %.1f s" % (
                p.name, p.port, fmt_rate(REPL_KEYS), how[p.name], time.monotonic() - t0))
        keel, redis = primaries
        runs = [("keel", keel, "yes"), ("keel_disk", keel, "no"), ("redis", redis, "yes"), ("redis_disk", redis, "no")]
        rows = {name: [] for name, _, _ in runs}
        for rnd in range(1, REPL_SYNC_ROUNDS + 1):
            log("full sync round %d/%d" % (rnd, REPL_SYNC_ROUNDS))
            for name, p, diskless in (runs if rnd % 2 == 1 else runs[::-1]):
                if diskless:
                    p.call("CONFIG", "SET", "repl-diskless-sync", diskless)
                try:
                    secs = sync_once(p, tmp)
                except ReplError as e:
                    log("  %s: %s" % (name, e))
                    notes.append("Full sync failed: %s: %s" % (name, str(e).splitlines()[0]))
                    return None
                rows[name].append(secs)
                log("  full sync %-10s %6.2f s" % (name, secs))
        return {"rows": rows, "how": how}
    except RespError as e:
        notes.append("Full sync skipped: %s" % str(e).strip()[-300:])
        return None
    finally:
        stop_pair(primaries)


def replication_section(tmp, notes):
    load = repl_load_test(tmp, notes)
    sync = None
    if REPL_SYNC_ROUNDS > 0 and (not ONLY or re.search(ONLY, "Full sync", re.I)):
        sync = full_sync_test(tmp, notes)
    return load, sync


# ---- TLS ----


def make_pki(dir):
    """A CA and a server certificate for 127.0.0.1 / localhost (EC P-256,
    cheap handshakes) made with the openssl CLI; the server certificate is
    also the clients' (no extendedKeyUsage). Returns {ca, cert, key}."""
    os.makedirs(dir, exist_ok=True)

    def ossl(*args):
        r = subprocess.run(["openssl"] + list(args), cwd=dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise BenchError("openssl %s: %s" % (args[0], r.stdout.decode(errors="replace")[-500:]))

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Keel bench CA")
    ossl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(dir, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "1", "-days", "2",
         "-extfile", "san.ext", "-out", "server.crt")
    return {k: os.path.join(dir, v) for k, v in (("ca", "ca.crt"), ("cert", "server.crt"), ("key", "server.key"))}


def tls_section(tmp, notes):
    """GET/SET through redis-benchmark --tls against a fresh pair with a
    tls-port each."""
    tests = []
    for cmd in ("set", "get"):
        for p in (1, 16):
            tests.append(Test("%s TLS P%d" % (cmd.upper(), p), [cmd.upper()], cmd, p, count(p, 0), builtin=cmd))
    if ONLY:
        tests = [t for t in tests if re.search(ONLY, t.label, re.I)]
    if not tests:
        return []
    try:
        pki = make_pki(os.path.join(tmp, "pki"))
    except (BenchError, OSError) as e:
        notes.append("TLS skipped: no certificates (%s)" % str(e).strip()[-300:])
        return []
    opts = ["--tls", "--cacert", pki["ca"], "--cert", pki["cert"], "--key", pki["key"]]
    pair = []
    try:
        for name, binary in (("keel", KEEL_BIN), ("redis", REDIS_BIN)):
            tls_port = free_port()
            args = NO_PERSISTENCE + ["--tls-port", str(tls_port), "--tls-cert-file", pki["cert"], "--tls-key-file",
                                     pki["key"], "--tls-ca-cert-file", pki["ca"]]
            srv = Server(name, binary, tmp, args)
            srv.tls = (tls_port, opts)
            pair.append(srv)
            srv.start()
    except BenchError as e:
        stop_pair(pair)
        notes.append("TLS skipped: a server did not start with a tls-port: %s" % str(e).strip()[-300:])
        return []
    try:
        for t in tests:
            def run(srv, rnd, t=t):
                rows, err = run_benchmark(srv, t.invocation(rnd), tls=srv.tls)
                return t.pick(rows), err
            t.runner = run
        log("TLS: keel on tls-port %d, redis on tls-port %d" % (pair[0].tls[0], pair[1].tls[0]))
        return run_rounds(runnable_tests(tests, pair, notes), pair, notes, "TLS ")
    finally:
        stop_pair(pair)


def iothreads_section(tmp, notes):
    """SET/GET at pipeline 1 with io-threads N (reads threaded too) against
    Redis with the same, for N = 2, 4, ... while the server's N cores and
    redis-benchmark's cores fit the machine: a fresh pair per N, the
    servers on cores 0..N-1, redis-benchmark on the others."""
    cores = os.cpu_count() or 1
    counts = [n for n in (2, 4, 8, 16) if 2 * n <= cores]
    if not counts or not shutil.which("taskset"):
        notes.append("io-threads: skipped on %d cores (needs 4: N cores for the server's threads and as many for "
                     "redis-benchmark); io-threads 1, the default, is measured by every other section" % cores)
        return []
    tests = []
    for n in counts:
        server_pin = ["taskset", "-c", "0-%d" % (n - 1)]
        client_pin = ["taskset", "-c", "%d-%d" % (n, cores - 1)]
        group = []
        for cmd in ("set", "get"):
            t = Test("%s io-threads %d" % (cmd.upper(), n), [cmd.upper()], cmd, 1, count(1, 0), builtin=cmd)
            if not ONLY or re.search(ONLY, t.label, re.I):
                group.append(t)
        if not group:
            continue
        pair = []
        try:
            for name, binary in (("keel", KEEL_BIN), ("redis", REDIS_BIN)):
                srv = Server(name, binary, tmp, NO_PERSISTENCE + ["--io-threads", str(n), "--io-threads-do-reads",
                                                                  "yes"], pin=server_pin)
                pair.append(srv)
                srv.start()
            for t in group:
                def run(srv, rnd, t=t):
                    rows, err = run_benchmark(srv, ["-c", 4 * CLIENTS] + t.invocation(rnd)[2:], pin=client_pin)
                    return t.pick(rows), err
                t.runner = run
            log("io-threads %d: servers on cores 0-%d, redis-benchmark on %d-%d" % (n, n - 1, n, cores - 1))
            tests += run_rounds(runnable_tests(group, pair, notes), pair, notes, "io-threads ")
        except BenchError as e:
            notes.append("io-threads %d skipped: %s" % (n, str(e).strip()[-300:]))
        finally:
            stop_pair(pair)
    return tests


# ---- server CPU per request ----

CPU_N = {1: env_int("BENCH_CPU_N", 15000 if QUICK else 100000), 16: env_int("BENCH_CPU_NP", 50000 if QUICK else 400000)}


def server_cpu_ns(pid):
    """CPU time used so far by every thread of pid, in ns (schedstat)."""
    total = 0
    for path in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended between the listing and the read
    return total


def cpu_section(tmp, notes):
    """Requests per second of server CPU (every thread, from
    /proc/<pid>/task/*/schedstat) while bench/loadgen drives the server: what
    a request costs the server, whatever the client's own ceiling. Keel runs
    with --busy-poll-us 0 here, since a polling loop's idle spins would count
    as CPU."""
    if not glob.glob("/proc/self/task/*/schedstat"):
        notes.append("server CPU per request: skipped (no /proc/<pid>/task/*/schedstat)")
        return []
    binary, err = helper_bin(tmp, "loadgen")
    if err:
        notes.append("server CPU per request: skipped (%s)" % err)
        return []

    load_locks = lock_loader(tmp)

    def runner(words, p):
        def run(srv, rnd):
            cmd = words(rnd) if callable(words) else words
            fields, err = run_loadgen(srv, binary, CPU_N[p], p, KEYSPACE, cmd,
                                      around=lambda: server_cpu_ns(srv.proc.pid))
            if err:
                return None, err
            before, after = fields["around"]
            if after <= before:
                return None, "no server CPU time counted"
            return CPU_N[p] / ((after - before) / 1e9), None
        return run

    group = []
    for p in (1, 16):
        rows = [("SET", ["SET", "key:__rand_int__", "xxx"], None, None),
                ("GET", ["GET", "key:__rand_int__"], None, None),
                ("LPUSH", ["LPUSH", "mylist", "xxx"], None, None),
                ("EVALSHA rate limiter",
                 lambda rnd, p=p: ["EVALSHA", SHAS.get("rate", ""), "1", "rl:cpu:%d:%d:__rand_int__" % (p, rnd),
                                   "__rand_int__", "0", "100", "60"], None,
                 ["EVALSHA", "SCRIPT", "ZREMRANGEBYSCORE", "ZCARD", "ZADD", "EXPIRE"]),
                ("EVALSHA lock release", lambda rnd: ["EVALSHA", SHAS.get("lock", ""), "1", "lock:__rand_int__", "tok"],
                 load_locks, ["EVALSHA", "SCRIPT", "GET", "DEL"])]
        for label, words, prep, requires in rows:
            t = Test("%s P%d [CPU]" % (label, p), requires or [words[0]], None, p, CPU_N[p], prep=prep,
                     runner=runner(words, p))
            if not ONLY or re.search(ONLY, t.label, re.I):
                group.append(t)
    if not group:
        return []
    pair = []
    try:
        for name, binary_path, extra in (("keel", KEEL_BIN, ["--busy-poll-us", "0"]), ("redis", REDIS_BIN, [])):
            srv = Server(name, binary_path, tmp, NO_PERSISTENCE + (extra if not redis_like(binary_path) else []))
            pair.append(srv)
            srv.start()
        load_scripts(pair)
        log("server CPU per request: busy-poll off, bench/loadgen on the client core")
        return run_rounds(runnable_tests(group, pair, notes), pair, notes, "cpu ")
    except BenchError as e:
        notes.append("server CPU per request skipped: %s" % str(e).strip()[-300:])
        return []
    finally:
        stop_pair(pair)


SWEEP_KEYS = env_int("BENCH_SWEEP_KEYS", 30000 if QUICK else 100000)


def sweep_section(tmp, notes):
    """SETs of new keys right after a client's SCAN + DEL sweep: a fresh pair
    per run of rounds; each round loads SWEEP_KEYS keys, deletes the first
    80% of them in SCAN's cursor order (hash order, which leaves the rest
    bunched in one part of the hash range), then bench/loadgen sets
    SWEEP_KEYS new keys at pipeline 1. An open-addressing table is at risk
    here where a chained one is not (docs/ARCHITECTURE.md, "Keyspace")."""
    binary, err = helper_bin(tmp, "loadgen")
    if err:
        notes.append("SET after a SCAN + DEL sweep: skipped (%s)" % err)
        return []
    path = os.path.join(tmp, "sweep.resp")

    def prep(srv, rnd):
        srv.call("FLUSHALL")
        if not os.path.exists(path):
            write_resp(path, ((b"SET", b"sw:%d" % i, b"v") for i in range(SWEEP_KEYS)))
        pipe_load(srv, path)
        deleted, cursor = 0, b"0"
        while deleted < SWEEP_KEYS * 4 // 5:
            cursor, keys = srv.call("SCAN", cursor, "COUNT", "1000")
            if keys:
                deleted += srv.call("DEL", *keys)
            if cursor in (b"0", "0", 0):
                break

    def run(srv, rnd):
        fields, err = run_loadgen(srv, binary, SWEEP_KEYS, 1, 1000000000, ["SET", "new:__rand_int__", "v"], 900)
        return (None, err) if err else (float(fields["rps"]), None)

    t = Test("SET new keys after a SCAN + DEL sweep [loadgen P1]", ["SET", "SCAN", "DEL"], None, 1, SWEEP_KEYS,
             prep=prep, runner=run)
    if ONLY and not re.search(ONLY, t.label, re.I):
        return []
    pair = []
    try:
        for name, binary_path in (("keel", KEEL_BIN), ("redis", REDIS_BIN)):
            srv = Server(name, binary_path, tmp, NO_PERSISTENCE)
            pair.append(srv)
            srv.start()
        log("SET after a SCAN + DEL sweep of %d keys" % SWEEP_KEYS)
        return run_rounds(runnable_tests([t], pair, notes), pair, notes, "sweep ")
    except BenchError as e:
        notes.append("SET after a SCAN + DEL sweep skipped: %s" % str(e).strip()[-300:])
        return []
    finally:
        stop_pair(pair)


def render_sweep(tests):
    return render_pair_section(
        "Inserts after a SCAN + DEL sweep",
        "A fresh pair (`--save '' --appendonly no`). Each of %d alternating rounds starts with FLUSHALL, loads "
        "%d keys through redis-cli --pipe, deletes the first 80%% of them in SCAN's cursor order (SCAN COUNT "
        "1000, then DEL of the batch), then bench/loadgen -c %d sets %d new keys at pipeline 1. A chained table "
        "has no case here; an open-addressing one can, since the survivors sit bunched in one part of the hash "
        "range (docs/ARCHITECTURE.md)." % (ROUNDS, SWEEP_KEYS, CLIENTS, SWEEP_KEYS), "sweep", tests)


def render_cpu(tests):
    return render_pair_section(
        "Server CPU per request: requests per second of server CPU",
        "A fresh pair (keel with `--busy-poll-us 0`, so its idle loop does not count; both `--save '' "
        "--appendonly no`), driven by bench/loadgen -c %d -r %d at pipeline 1 (-n %d) and 16 (-n %d) from the "
        "other core, %d alternating rounds. The figure is requests divided by the CPU time every thread of the "
        "server used during the run (user and kernel, from /proc/<pid>/task/*/schedstat), so it compares what a "
        "request costs each server even where the client's own ceiling caps the throughput rows above." % (
            CLIENTS, KEYSPACE, CPU_N[1], CPU_N[16], ROUNDS), "server CPU per request", tests)


def render_pair_section(title, intro, name, tests):
    """A section of Test rows from fresh server pairs: heading, how it was
    run, the table and the geometric mean."""
    if not tests:
        return []
    out = ["### %s (ratio > 1 means keel is faster)" % title, "", intro, ""]
    out += throughput_rows(tests)
    out.append("")
    line = geomean_line(name, tests)
    if line:
        out += [line, ""]
    return out


def render_iothreads(tests):
    return render_pair_section(
        "I/O threads: SET and GET at pipeline 1 with io-threads N",
        "A fresh pair per N, both with `--io-threads N --io-threads-do-reads yes --save '' --appendonly no`, "
        "pinned to cores 0..N-1; redis-benchmark -c %d -r %d on the remaining cores, %d alternating rounds." % (
            4 * CLIENTS, KEYSPACE, ROUNDS), "io-threads", tests)


def render_tls(tests):
    return render_pair_section(
        "TLS: SET and GET over TLS",
        "A fresh pair of servers, each with a plain port and a tls-port (EC P-256 certificate from a throwaway "
        "CA, `tls-auth-clients yes`, `--save '' --appendonly no`); redis-benchmark --tls --cacert --cert --key "
        "-c %d -r %d on the tls-port, %d alternating rounds. Opt-in: `BENCH_SECTIONS=tls`." % (
            CLIENTS, KEYSPACE, ROUNDS), "TLS", tests)


# ---- report ----


def machine_info():
    cpu = platform.processor() or "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = ", %.1f GiB RAM" % (kb / 1048576)
    except (OSError, ValueError, IndexError):
        pass
    return "%s, %d cores%s, Linux %s" % (cpu, os.cpu_count() or 0, mem, platform.release())


def git_commit():
    try:
        r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=10)
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "src"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
        if r.returncode == 0:
            return r.stdout.decode().strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def fmt_rate(v):
    return "{:,.0f}".format(v)


def throughput_rows(tests):
    """The table rows of Test results: medians and per-round ratios."""
    out = ["| Test | -n | keel ops/s | redis ops/s | keel/redis | per-round ratios |", "|---|---:|---:|---:|---:|---|"]
    for t in tests:
        k = statistics.median(t.results["keel"])
        r = statistics.median(t.results["redis"])
        pairs = [a / b for a, b in zip(t.results["keel"], t.results["redis"]) if b]
        per = " ".join("%.2f" % x for x in pairs)
        out.append("| %s | %s | %s | %s | %.2f | %s |" % (t.label, fmt_rate(t.n), fmt_rate(k), fmt_rate(r),
                                                         statistics.median(pairs) if pairs else 0, per))
    return out


# The tests whose latency percentiles the report shows (issue 15's nine,
# and the seed's lock release).
LATENCY_TESTS = ("SET", "GET", "INCR", "LPUSH", "RPOP", "SADD", "HSET", "ZADD", "EVALSHA rate limiter",
                 "EVALSHA lock release")


def latency_rows(tests):
    """p50 / p99 / p99.9 of each server (medians over the rounds) for the
    LATENCY_TESTS at each pipeline depth."""
    out = ["| Test | keel p50 | redis p50 | keel p99 | redis p99 | keel p99.9 | redis p99.9 |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    n = 0
    for t in tests:
        base = re.sub(r" (P\d+|\[loadgen P1\])$", "", t.label)
        if base not in LATENCY_TESTS or not (t.latency["keel"] and t.latency["redis"]):
            continue
        med = {name: [statistics.median(x[i] for x in t.latency[name]) for i in range(3)] for name in t.latency}
        out.append("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |" % (
            t.label, med["keel"][0], med["redis"][0], med["keel"][1], med["redis"][1], med["keel"][2],
            med["redis"][2]))
        n += 1
    return out if n else []


def geomean_line(name, tests):
    logs = [math.log(a / b) for t in tests for a, b in zip(t.results["keel"], t.results["redis"]) if a and b]
    if not logs:
        return None
    return "- Geometric mean of all %s ratios (%d rounds): %.2f" % (name, len(logs), math.exp(statistics.mean(logs)))


def render_persistence(aof, rdb):
    out = []
    if aof:
        out.append("### Persistence: SET with the AOF on (ratio > 1 means keel is faster)")
        out.append("")
        out.append("A fresh pair of servers per appendfsync mode, each with `--appendonly yes --appendfsync <mode> "
                   "--save ''` in its own directory (Redis also with `--auto-aof-rewrite-percentage 0`: Keel never "
                   "rewrites by itself); redis-benchmark -t set -c %d -r %d, %d alternating rounds." % (
                       CLIENTS, KEYSPACE, ROUNDS))
        out.append("")
        out += throughput_rows(aof)
        out.append("")
        line = geomean_line("AOF", aof)
        if line:
            out += [line, ""]
    if rdb:
        r = rdb["rows"]
        bg_rounds = min(len([x for x in r["keel"] if "bg_peak_rss" in x]),
                        len([x for x in r["redis"] if "bg_peak_rss" in x])) if rdb["bgsave"] else 0
        out.append("### Persistence: RDB load and BGSAVE (keel/redis < 1 means keel is faster or needs less memory)")
        out.append("")
        text = ("A dump.rdb of %.0f MB written by redis-server (SAVE): %s string keys `key:%%012d` with %s-byte random "
                "values and %d each of hashes, lists, sets and sorted sets of %s elements (%s keys). In %d "
                "alternating rounds each server starts (`--save '' --appendonly no`) in a new directory holding a "
                "link to that file; load time is the wall time from process start until PING answers +PONG and "
                "INFO no longer says loading:1 (polled every 5 ms)."
                % (rdb["size"] / 1e6, fmt_rate(rdb["keys"]), fmt_rate(RDB_VALUE), RDB_COLL_EACH, human(RDB_COLL_N),
                   fmt_rate(rdb["dbsize"]), RDB_ROUNDS))
        if bg_rounds:
            text += (" In the first %s the loaded server then runs a BGSAVE under a redis-benchmark SET "
                     "flood over the same keys (-c %d -r %s -d %d, started 1.5 s before; another client times PING after PING on its own connection in the last second before the BGSAVE and during it), while the RSS and PSS of "
                     "the server plus its children are sampled every 50 ms until rdb_bgsave_in_progress is 0; the "
                     "peaks are divided by used_memory before the flood."
                     % ("round" if bg_rounds == 1 else "%d rounds" % bg_rounds, CLIENTS, fmt_rate(rdb["keys"]),
                        RDB_VALUE))
        out.append(text + " Medians over the rounds; keel/redis is the median of the per-round ratios.")
        out.append("")
        out.append("| Measure | keel | redis | keel/redis | per-round ratios |")
        out.append("|---|---:|---:|---:|---|")
        measures = [("Load time (s)", lambda x: x["load_s"], "{:.2f}", False),
                    ("used_memory after load (MB)", lambda x: x["used"] / 1e6, "{:,.0f}", False)]
        if bg_rounds:
            measures += [
                ("BGSAVE peak RSS, server + children (MB)", lambda x: x["bg_peak_rss"] / 1e6, "{:,.0f}", True),
                ("BGSAVE peak RSS / used_memory", lambda x: x["bg_peak_rss"] / x["bg_used"], "{:.2f}", True)]
            if all(x["bg_peak_pss"] is not None for v in r.values() for x in v if "bg_peak_pss" in x):
                measures += [
                    ("BGSAVE peak PSS, server + children (MB)", lambda x: x["bg_peak_pss"] / 1e6, "{:,.0f}", True),
                    ("BGSAVE peak PSS / used_memory", lambda x: x["bg_peak_pss"] / x["bg_used"], "{:.2f}", True)]
            measures += [("BGSAVE time under the flood (s)", lambda x: x["bg_bgsave_s"], "{:.2f}", True),
                         ("SETs/s during BGSAVE (higher is better)", lambda x: x["bg_writes"], "{:,.0f}", True),
                         ("Another client's PING p99, flood alone (ms)", lambda x: x["bg_lat_before_p99"] * 1e3,
                          "{:.2f}", True),
                         ("Another client's PING p50 during BGSAVE (ms)", lambda x: x["bg_lat_p50"] * 1e3, "{:.2f}",
                          True),
                         ("Another client's PING p99 during BGSAVE (ms)", lambda x: x["bg_lat_p99"] * 1e3, "{:.2f}",
                          True),
                         ("Another client's PING max during BGSAVE (ms)", lambda x: x["bg_lat_max"] * 1e3, "{:.1f}",
                          True)]
        for label, get, fmt, bg in measures:
            k = [get(x) for x in r["keel"] if not bg or "bg_peak_rss" in x]
            rr = [get(x) for x in r["redis"] if not bg or "bg_peak_rss" in x]
            pairs = [a / b for a, b in zip(k, rr) if b]
            out.append("| %s | %s | %s | %.2f | %s |" % (
                label, fmt.format(statistics.median(k)), fmt.format(statistics.median(rr)),
                statistics.median(pairs) if pairs else 0, " ".join("%.2f" % x for x in pairs)))
        out.append("")
        if bg_rounds:
            kids = {n: max(x["bg_children"] for x in r[n] if "bg_peak_rss" in x) for n in r}
            out.append("- Child processes seen during BGSAVE: keel %d, redis %d (with none, a BGSAVE that does not "
                       "fork, the peak is the server process alone)" % (kids["keel"], kids["redis"]))
            out.append("")
    return out


def measure_row(label, k, r, fmt, overall=None):
    """One row of a keel/redis measure table: k and r are per-round values;
    the ratio is the median of the per-round ratios unless overall gives
    (keel, redis) to show and divide instead."""
    pairs = [a / b for a, b in zip(k, r) if b]
    if overall:
        shown_k, shown_r = overall
        ratio = shown_k / shown_r if shown_r else None
    else:
        shown_k, shown_r = statistics.median(k), statistics.median(r)
        ratio = statistics.median(pairs) if pairs else None
    return "| %s | %s | %s | %s | %s |" % (label, fmt.format(shown_k), fmt.format(shown_r),
                                         "–" if ratio is None else "%.2f" % ratio,
                                         " ".join("%.2f" % x for x in pairs))


def render_replication(load, sync):
    out = []
    if load:
        out.append("### Replication: SET with one replica attached (ratio > 1 means keel is faster)")
        out.append("")
        out.append("Each primary has one replica of the same server (keel → keel, redis → redis), all with "
                   "`--save ''` in their own directories; the replica runs on the primary's core (%s), and before "
                   "the runs it is in sync and its primary lists it as online. Both get "
                   "`--repl-diskless-sync-delay 0`. redis-benchmark -t set -c %d -r %d -P 16, %d alternating "
                   "rounds." % ("core 1, redis-benchmark on core 0" if PIN else "no core pinning", CLIENTS,
                                KEYSPACE, ROUNDS))
        out.append("")
        out += throughput_rows([load])
        out.append("")
        lag = load.lag
        every = {n: [x for rnd in lag[n] for x in rnd] for n in lag}
        out.append("Replica lag during those runs: the primary's master_repl_offset minus the replica's "
                   "slave_repl_offset, sampled every %d ms (%d samples from keel, %d from redis; the replica is "
                   "read first, so a sample is never below the real lag). Max and mean are over all samples of "
                   "all rounds, keel/redis their ratio; the per-round ratios compare each round's max or mean. "
                   "A faster primary writes more bytes per second, so the lag is also given as the time the "
                   "mean lag stands for at that round's stream rate (bytes propagated / run time). Samples taken "
                   "before the primary's offset first moved (redis-benchmark still connecting) are not counted. "
                   "\"In sync after the run\" is the time from redis-benchmark's exit until the offsets are "
                   "equal (polled every 5 ms). Lower is better in this table."
                   % (REPL_SAMPLE_MS, len(every["keel"]), len(every["redis"])))
        out.append("")
        out.append("| Measure | keel | redis | keel/redis | per-round ratios |")
        out.append("|---|---:|---:|---:|---|")
        rmax = {n: [max(r, default=0) for r in lag[n]] for n in lag}
        rmean = {n: [statistics.mean(r) if r else 0 for r in lag[n]] for n in lag}
        out.append(measure_row("Replica lag, max (bytes)", rmax["keel"], rmax["redis"], "{:,.0f}",
                               (max(every["keel"], default=0), max(every["redis"], default=0))))
        out.append(measure_row("Replica lag, mean (bytes)", rmean["keel"], rmean["redis"], "{:,.0f}",
                               tuple(statistics.mean(every[n]) if every[n] else 0 for n in ("keel", "redis"))))
        ms = {n: [m / s * 1000 if s else 0 for m, s in zip(rmean[n], load.stream[n])] for n in lag}
        out.append(measure_row("Mean lag at the stream rate (ms)", ms["keel"], ms["redis"], "{:.1f}"))
        out.append(measure_row("Replication stream (MB/s)", [x / 1e6 for x in load.stream["keel"]],
                               [x / 1e6 for x in load.stream["redis"]], "{:.1f}"))
        # A few ms at most while the replica keeps up: below the 5 ms poll,
        # so a ratio would be noise; the worst round shows it did catch up.
        out.append("| In sync after the run, worst round (ms) | %.0f | %.0f | – | |" % (
            max(load.catchup["keel"]) * 1000, max(load.catchup["redis"]) * 1000))
        out.append("")
    if sync:
        rows = sync["rows"]
        how = sync["how"]
        out.append("### Replication: full sync of %s keys (keel/redis < 1 means keel is faster)" % human(REPL_KEYS))
        out.append("")
        loader = ("DEBUG POPULATE %d" % REPL_KEYS if set(how.values()) == {"DEBUG POPULATE"} else
                  ", ".join("%s: %s" % kv for kv in sorted(how.items())))
        out.append("One primary per server, loaded with %s (string keys `key:<i>` = `value:<i>`) and then used "
                   "for every round; in %d alternating rounds a fresh empty replica of the same server (its own "
                   "directory, `--save ''`, on the primary's core) gets `REPLICAOF`, and the time runs from "
                   "sending it until the replica says master_link_status:up with slave_repl_offset equal to the "
                   "primary's master_repl_offset (INFO polled every 5 ms); DBSIZE must then match. (The primary may "
                   "list the replica as online a little later; that is not waited for.) Both "
                   "servers are measured in both modes, `repl-diskless-sync yes` (the default; with "
                   "`repl-diskless-sync-delay 0` on both, as the 5 s wait for more replicas is not work) and `no` "
                   "(through a file), switched with CONFIG SET on the same primary. Both replicas load from disk (repl-diskless-load disabled, the "
                   "default). Each round's keel time in a mode is divided by Redis's in the same mode; medians "
                   "over the rounds." % (loader, REPL_SYNC_ROUNDS))
        out.append("")
        out.append("| Measure | keel | redis | keel/redis | per-round ratios |")
        out.append("|---|---:|---:|---:|---|")
        out.append(measure_row("Full sync (s), diskless (the default)", rows["keel"], rows["redis"], "{:.2f}"))
        out.append(measure_row("Full sync (s), through a file", rows["keel_disk"], rows["redis_disk"], "{:.2f}"))
        out.append("")
    return out


def render(meta, mem_rows, tests, notes, aof=(), rdb=None, repl=(None, None), tls=(), iot=(), cpu=(), sweep=()):
    out = []
    out.append("- Date: %s" % meta["date"])
    out.append("- Machine: %s (load average at start %s, at end %s)" % (meta["machine"], meta["load0"],
                                                                       meta["load1"]))
    out.append("- Servers: keel %s at commit %s (redis_version %s) vs Debian redis-server %s; redis-benchmark from "
               "redis-tools%s" % (meta["keel_version"], meta["commit"], meta["keel_compat"], meta["redis_version"],
                                  "; keel with the extra arguments %s (BENCH_KEEL_ARGS)" % " ".join(KEEL_EXTRA)
                                  if KEEL_EXTRA else ""))
    out.append("- Settings: %d alternating rounds; redis-benchmark -c %d -r %d (ZRANK/ZRANGE: -r %d; rate limiter: "
               "-r 10000); -n per test in the table; both servers with --save '' --appendonly no%s; %s"
               % (ROUNDS, CLIENTS, KEYSPACE, ZSET_N,
                  " (the persistence, replication and TLS sections start their own: see there)"
                  if aof or rdb or any(repl) or tls else "",
                  "servers pinned to core 1, load generators to core 0" if PIN else "no core pinning"))
    out.append("- Run time: %.0f s" % meta["elapsed"])
    out.append("")
    if tests:
        out.append("### Throughput (ratio > 1 means keel is faster)")
        out.append("")
        out.append("ops/s are each server's median over the rounds; keel/redis is the median of the per-round "
                   "ratios (each round runs both servers back to back, so a ratio compares like with like).")
        out.append("")
        out += throughput_rows(tests)
        out.append("")
        # One row's median still moves several percent between runs; the
        # geometric mean over every round of a group of rows is far steadier.
        groups = [("pipeline 1", lambda t: t.label.endswith(" P1")),
                  ("pipeline 1 (loadgen)", lambda t: t.label.endswith(LOADGEN_SUFFIX)),
                  ("pipeline 16", lambda t: t.label.endswith(" P16")),
                  ("pub/sub", lambda t: t.label.startswith("PUBLISH")),
                  ("Redis 7 data commands (P16)", lambda t: t.label.endswith(DATA_SUFFIX))]
        for name, member in groups:
            line = geomean_line(name, [t for t in tests if member(t)])
            if line:
                out.append(line)
        if LOADGEN_CPU["keel"] and LOADGEN_CPU["redis"]:
            out.append("- bench/loadgen's own CPU share in the `[loadgen P1]` rows (median over its runs; near 1.00 "
                       "means the client, not the server, set the pace): against keel %.2f, against redis %.2f" % (
                           statistics.median(LOADGEN_CPU["keel"]), statistics.median(LOADGEN_CPU["redis"])))
        out.append("")
        lat = latency_rows(tests)
        if lat:
            out.append("### Latency of the throughput tests above (ms; lower is better)")
            out.append("")
            out.append("Each server's median over the rounds of redis-benchmark's p50 and p99 (exact) and p99.9 "
                       "(the lowest bound of its latency distribution at or above 99.9%%, so an upper bound; its "
                       "steps are 0.1 ms below 2 ms). The `[loadgen P1]` rows are bench/loadgen's exact order "
                       "statistics over every request, timed from the loop iteration that sent it to the one that "
                       "read its reply. With %d clients a request's latency includes its wait behind the others, "
                       "so these compare servers, not one client's round trip." % CLIENTS)
            out.append("")
            out += lat
            out.append("")
    if mem_rows:
        out.append("### Memory (used_memory delta per item; ratio < 1 means keel is smaller)")
        out.append("")
        out.append("| Data | keel bytes/item | redis bytes/item | keel/redis |")
        out.append("|---|---:|---:|---:|")
        for label, unit, k, r in mem_rows:
            out.append("| %s (per %s) | %.1f | %.1f | %.2f |" % (label, unit, k, r, k / r if r else 0))
        out.append("")
    out += render_persistence(aof, rdb)
    out += render_replication(*repl)
    out += render_cpu(cpu)
    out += render_sweep(sweep)
    out += render_tls(tls)
    out += render_iothreads(iot)
    if notes:
        out.append("### Not measured in this run")
        out.append("")
        for n in notes:
            out.append("- %s" % n)
        out.append("")
    return "\n".join(out)


def write_docs(text):
    with open(DOCS) as f:
        doc = f.read()
    a, b = doc.find(BEGIN_MARK), doc.find(END_MARK)
    if a < 0 or b < a:
        raise BenchError("%s has no results markers" % DOCS)
    doc = doc[: a + len(BEGIN_MARK)] + "\n" + text.rstrip() + "\n" + doc[b:]
    with open(DOCS, "w") as f:
        f.write(doc)
    log("wrote results to %s" % DOCS)


def main():
    write = "--write-docs" in sys.argv[1:]
    unknown = [a for a in sys.argv[1:] if a != "--write-docs"]
    if unknown:
        print(__doc__)
        return 2
    signal.signal(signal.SIGTERM, on_sigterm)
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="keel-bench-")
    notes = []
    servers = []
    try:
        load0 = "%.2f" % os.getloadavg()[0]
        servers = start_pair(tmp)
        ki, ri = servers[0].info("server"), servers[1].info("server")
        meta = {
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "machine": machine_info(),
            "keel_version": ki.get("keel_version", "?"),
            "keel_compat": ki.get("redis_version", "?"),
            "redis_version": ri.get("redis_version", "?"),
            "load0": load0,
            "commit": git_commit(),
        }
        log("keel on port %d, redis %s on port %d; %d rounds%s" % (servers[0].port, meta["redis_version"],
                                                                   servers[1].port, ROUNDS,
                                                                   " (quick)" if QUICK else ""))
        mem_rows, tests, ps_tests = [], [], []
        if "memory" in SECTIONS:
            log("memory")
            mem_rows = memory_section(servers, tmp, notes)
        if "throughput" in SECTIONS:
            tests = throughput_section(servers, tmp, notes)
        if "pubsub" in SECTIONS:
            ps_tests = pubsub_section(servers, tmp, notes)
        if "datacmds" in SECTIONS:
            tests += data_section(servers, tmp, notes)
        if "acl" in SECTIONS:
            tests += acl_section(servers, tmp, notes)
        aof, rdb = [], None
        if "persistence" in SECTIONS:
            aof, rdb = persistence_section(tmp, notes)
        repl = (None, None)
        if "replication" in SECTIONS:
            repl = replication_section(tmp, notes)
        tls = []
        if "tls" in SECTIONS:
            tls = tls_section(tmp, notes)
        cpu = []
        if "cpu" in SECTIONS:
            cpu = cpu_section(tmp, notes)
        sweep = []
        if "sweep" in SECTIONS:
            sweep = sweep_section(tmp, notes)
        iot = []
        if "iothreads" in SECTIONS:
            iot = iothreads_section(tmp, notes)
        meta["load1"] = "%.2f" % os.getloadavg()[0]
        meta["elapsed"] = time.time() - t0
        text = render(meta, mem_rows, tests + ps_tests, notes, aof, rdb, repl, tls, iot, cpu, sweep)
        print()
        print(text)
        if write:
            write_docs(text)
        return 0
    except BenchError as e:
        print("bench: error: %s" % e, file=sys.stderr)
        return 1
    except (RespError, ConnectionError, OSError) as e:
        print("bench: error: %s" % e, file=sys.stderr)
        for s in servers:
            if s.proc and s.proc.poll() is not None:
                print("bench: %s exited with %s:\n%s" % (s.name, s.proc.returncode, s.log_tail()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped", file=sys.stderr)
        return 130
    finally:
        for s in servers:
            s.stop()
        cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
