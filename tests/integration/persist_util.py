"""Helpers shared by the persistence tests (test_rdb.py, test_aof.py):
servers started on a chosen --dir and restarted on it, servers that must
refuse to start, and a whole dataset read back and compared.

Each test module makes its own `mkdir = TempDirs(prefix)` and gets its
fixtures from `removal_fixture(mkdir)` and `spawn_fixture(mkdir, ...)`."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis
from conftest import DEBUG_ARGS, SERVER, Server, free_port

REDIS = "/usr/bin/redis-server"
IS_REDIS = SERVER.endswith("redis-server")
# Commands whose replies Node.raw() leaves as the server sent them (no
# redis-py parsing into dicts, tuples or bools).
RAW_REPLIES = ("SAVE", "XRANGE", "XREVRANGE", "XPENDING", "XCLAIM", "XAUTOCLAIM", "XREADGROUP", "XREAD", "XADD",
               "ZRANGE")


# ---------------------------------------------------------------- directories and files

class TempDirs:
    """mkdir(): a fresh temporary directory named with `prefix`;
    remove_all() deletes every one made so far."""

    def __init__(self, prefix):
        self.prefix, self.made = prefix, []

    def __call__(self):
        d = tempfile.mkdtemp(prefix=self.prefix)
        self.made.append(d)
        return d

    def remove_all(self):
        for d in self.made:
            shutil.rmtree(d, ignore_errors=True)
        self.made.clear()


def removal_fixture(mkdir):
    """An autouse module fixture that removes mkdir's directories (data
    files of up to a few hundred KB) when the module is done."""

    @pytest.fixture(scope="module", autouse=True, name="_remove_tmpdirs")
    def remove_tmpdirs():
        yield
        mkdir.remove_all()

    return remove_tmpdirs


def read_file(path):
    """The bytes of a file."""
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------- servers

def no_args(binary):
    """base_args for servers that get nothing but their own arguments."""
    return []


def server_argv(binary, port, dir, args, save=""):
    """The command line of a server on `port` and `dir`, with the save
    points `save` (none by default)."""
    return [binary, "--port", str(port), "--dir", dir, "--save", save] + DEBUG_ARGS + list(args)


class Node:
    """A server process on a given --dir (kept across restarts). Its command
    line is server_argv() with base_args(binary) before `args`; node.args
    are only the latter, so a restart with another binary gets that
    binary's base arguments. `prefix` goes before the command line (e.g.
    prlimit and its options)."""

    def __init__(self, binary, dir, args=(), save="", base_args=no_args, port=None, prefix=()):
        self.binary, self.dir, self.args, self.save = binary, dir, list(args), save
        self.base_args = base_args
        self.killed = False
        # The free port may be taken (by another test's outgoing connection)
        # before the server binds it: then start again on another one
        # (unless the port was given: a restart where peers expect it).
        for attempt in range(5):
            self.port = port or free_port()
            self.log = os.path.join(dir, "server-%d.log" % self.port)
            self.logf = open(self.log, "w")
            argv = list(prefix) + server_argv(binary, self.port, dir, list(base_args(binary)) + self.args, save)
            self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT)
            if self._wait_listening():
                break
            self.logf.close()
        else:
            raise RuntimeError("server could not bind a port:\n" + self.log_text())
        # Redis listens before it loads the files: wait out -LOADING.
        deadline = time.time() + 10
        c = self.client()
        while True:
            try:
                c.ping()
                break
            except redis.BusyLoadingError:
                if time.time() > deadline:
                    raise
                time.sleep(0.01)
        c.close()

    def _wait_listening(self):
        """True once the port answers; False if the server exited because
        the port was taken; raises on any other failure."""
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                if "Address already in use" in self.log_text():
                    return False
                raise RuntimeError("server exited at start-up:\n" + self.log_text())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("server did not start:\n" + self.log_text())

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def client(self, db=0, **kw):
        kw.setdefault("socket_timeout", 20)
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, **kw)

    def raw(self, db=0):
        """A bytes client without redis-py's parsers for RAW_REPLIES."""
        c = self.client(db)
        for name in RAW_REPLIES:
            c.response_callbacks.pop(name, None)
        return c

    def path(self, *names):
        return os.path.join(self.dir, *names)

    @property
    def rdb(self):
        return self.path("dump.rdb")

    def kill9(self):
        self.killed = True
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.logf.close()

    def wait_exit(self, timeout=10):
        rc = self.proc.wait(timeout=timeout)
        if not self.logf.closed:
            self.logf.close()
        return rc

    def shutdown(self, *args):
        """SHUTDOWN [args] (the server goes away instead of replying), and a
        clean exit."""
        c = self.client()
        with pytest.raises(redis.ConnectionError):
            c.execute_command("SHUTDOWN", *args)
        assert self.wait_exit() == 0, self.log_text()[-3000:]

    def stop(self):
        """Stopped as conftest's Server stops (SIGTERM, SIGKILL after 10 s,
        any exit but a clean one fails); one kill9() ended is already gone."""
        if not self.killed:
            Server.stop(self)


class Spawner:
    """spawn(binary=SERVER, dir=None, *args, save="") starts a Node (on a
    fresh mkdir() unless dir is given); spawn.restart(node, binary=None)
    stops it (unless it is already gone) and starts the same binary, or the
    one given, with the same arguments on the same dir; kill_all() kills
    whatever still runs."""

    def __init__(self, mkdir, base_args=no_args):
        self.mkdir, self.base_args, self.nodes = mkdir, base_args, []

    def __call__(self, binary=SERVER, dir=None, *args, save=""):
        n = Node(binary, dir or self.mkdir(), args, save, self.base_args)
        self.nodes.append(n)
        return n

    def restart(self, node, binary=None):
        node.stop()
        return self(binary or node.binary, node.dir, *node.args, save=node.save)

    def kill_all(self):
        for n in self.nodes:
            if n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait()
            if not n.logf.closed:
                n.logf.close()


def spawn_fixture(mkdir, base_args=no_args):
    """The `spawn` fixture: a Spawner on mkdir's directories; whatever still
    runs at the end of the test is killed."""

    @pytest.fixture(name="spawn")
    def spawn():
        s = Spawner(mkdir, base_args)
        yield s
        s.kill_all()

    return spawn


def restart_after_expiry(spawn, node, take_down):
    """Sets gone (PX 300), kept and later (PX 60000) on `node`, which
    take_down(node) then ends; restarts it 0.5 s later (gone's TTL is
    over) and checks gone is not back and kept is. Returns a client of the
    restarted node."""
    c = node.client()
    c.set("gone", "x", px=300)
    c.set("kept", "y")
    c.set("later", "z", px=60_000)
    take_down(node)
    time.sleep(0.5)
    c = spawn.restart(node).client()
    assert c.exists("gone") == 0
    assert c.get("kept") == b"y"
    return c


def answers_ping(port):
    """True once the server answers PING with PONG. Redis listens before it
    loads its files (and says -LOADING meanwhile), so a connection alone
    proves nothing."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_expect_failure(binary, dir, *args, timeout=8, argv=server_argv):
    """Start a server that must refuse to start (argv(binary, port, dir,
    args) is its command line): returns (returncode, log). One that answers
    PING or is still running after `timeout` seconds fails the test. A
    refusal because the free port was taken meanwhile (by another test's
    outgoing connection) is not the one asked for: it starts again on
    another port."""
    for attempt in range(5):
        port = free_port()
        log = os.path.join(dir, "refused-%d.log" % port)
        with open(log, "w") as f:
            p = subprocess.Popen(argv(binary, port, dir, args), stdout=f, stderr=subprocess.STDOUT)
            deadline = time.time() + timeout
            while p.poll() is None:
                started = answers_ping(port)
                if started or time.time() > deadline:
                    p.kill()
                    p.wait()
                    pytest.fail("server %s on a bad file:\n%s" % ("accepted connections" if started else "did not exit",
                                                                  read_file(log).decode(errors="replace")[-3000:]))
                time.sleep(0.02)
        text = read_file(log).decode(errors="replace")
        if "Address already in use" not in text:
            break
    return p.returncode, text


def assert_refused(rc, log, *names):
    """The server exited with an error of its own (not 0, not a signal, no
    sanitizer report) and its log names each of `names` (in any case)."""
    assert rc != 0, "server exited 0 on a bad file:\n" + log[-3000:]
    assert rc > 0, "server died from signal %d:\n%s" % (-rc, log[-3000:])
    assert "AddressSanitizer" not in log and "runtime error:" not in log, log[-3000:]
    for name in names:
        assert name.lower() in log.lower(), "log does not mention %r:\n%s" % (name, log[-3000:])


# ---------------------------------------------------------------- streams both datasets hold

def add_big_stream(c):
    """x:big: 700 entries with IDs (10^12 + i)-(i % 3), in several listpack
    nodes and master entries (the field names change every 50 entries,
    every 7th entry has one more field)."""
    p = c.pipeline(transaction=False)
    for i in range(1, 701):
        fields = ["f%d" % (i // 50), str(i), "g", "x" * (i % 70)]
        if i % 7 == 0:
            fields += ["extra", str(-i)]
        p.execute_command("XADD", "x:big", "%d-%d" % (10**12 + i, i % 3), *fields)
    p.execute()


def add_drained_and_empty_streams(c):
    """x:drained: every entry deleted, the group's PEL still names them;
    x:empty: created by MKSTREAM, never written."""
    x = c.execute_command
    x("XADD", "x:drained", "5-1", "a", "1")
    x("XADD", "x:drained", "5-2", "a", "2")
    x("XGROUP", "CREATE", "x:drained", "g", "0")
    x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x:drained", ">")
    x("XDEL", "x:drained", "5-1", "5-2")
    x("XGROUP", "CREATE", "x:empty", "g", "$", "MKSTREAM")


# ---------------------------------------------------------------- the dataset read back

def pairs(flat):
    """A flat [name, value, ...] reply as a dict with str names."""
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in zip(flat[::2], flat[1::2])}


def stream_state(c, k):
    """Everything XINFO, XRANGE and XPENDING tell of a stream and its groups
    (c must be a Node.raw() client)."""
    info = pairs(c.execute_command("XINFO", "STREAM", k))
    state = {f: info[f] for f in ("length", "last-generated-id", "max-deleted-entry-id", "entries-added",
                                  "recorded-first-entry-id", "groups", "first-entry", "last-entry")}
    state["entries"] = c.execute_command("XRANGE", k, "-", "+")
    groups = []
    for g in c.execute_command("XINFO", "GROUPS", k):
        g = pairs(g)
        name = g["name"]
        consumers = sorted((pairs(x)["name"], pairs(x)["pending"])
                           for x in c.execute_command("XINFO", "CONSUMERS", k, name))
        pending = [(e[0], e[1], e[3]) for e in c.execute_command("XPENDING", k, name, "-", "+", 1_000_000)]
        groups.append({"name": name, "consumers": g["consumers"], "pending": g["pending"],
                       "last-delivered-id": g["last-delivered-id"], "entries-read": g["entries-read"],
                       "lag": g["lag"], "consumer-list": consumers, "pel": pending,
                       "summary": c.execute_command("XPENDING", k, name)})
    state["group-list"] = sorted(groups, key=lambda g: g["name"])
    return state


def read_value(c, k):
    """(type, value) of a key, in a form that compares with ==."""
    t = c.type(k).decode()
    if t == "string":
        v = c.get(k)
    elif t == "list":
        v = c.lrange(k, 0, -1)
    elif t == "set":
        v = sorted(c.smembers(k))
    elif t == "zset":
        flat = c.execute_command("ZRANGE", k, 0, -1, "WITHSCORES")
        v = [(m, float(s)) for m, s in zip(flat[::2], flat[1::2])]
    elif t == "hash":
        v = sorted(c.hgetall(k).items())
    elif t == "stream":
        v = stream_state(c, k)
    else:
        raise AssertionError("unexpected type %r of %r" % (t, k))
    return t, v


def functions(c):
    """FUNCTION LIST WITHCODE as {library: (engine, {function: (description, flags)}, code)}."""
    out = {}
    for lib in c.execute_command("FUNCTION", "LIST", "WITHCODE"):
        lib = pairs(lib)
        fns = {}
        for f in lib["functions"]:
            f = pairs(f)
            fns[f["name"]] = (f["description"], sorted(f["flags"]))
        out[lib["library_name"]] = (lib["engine"], fns, lib["library_code"])
    return out


def snapshot(node, dbs):
    """Everything readable: {(db, key): (type, value)} and {(db, key): PTTL}
    for the databases `dbs`, the function libraries, the sizes of the other
    databases, and when."""
    data, ttls = {}, {}
    for db in dbs:
        c = node.raw(db)
        for k in c.scan_iter(count=1000):
            data[(db, k)] = read_value(c, k)
            ttls[(db, k)] = c.pttl(k)
        c.close()
    c = node.raw(0)
    fns = functions(c)
    c.close()
    others = {db: node.client(db).dbsize() for db in range(16) if db not in dbs}
    return {"data": data, "ttls": ttls, "functions": fns, "others": others, "time": time.time()}


def short(v):
    """repr(v), cut at 300 characters."""
    r = repr(v)
    return r if len(r) < 300 else r[:300] + "..."


def diff(before, after, path=""):
    """Where two values differ, field by field for stream states."""
    if isinstance(before, tuple) and isinstance(after, tuple) and len(before) == len(after) == 2 \
            and before[0] == after[0] == "stream":
        before, after = before[1], after[1]
    if isinstance(before, dict) and isinstance(after, dict):
        return "\n".join(diff(before.get(f), after.get(f), "%s.%s" % (path, f))
                         for f in before if before.get(f) != after.get(f))
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after) \
            and all(isinstance(x, dict) for x in before + after):
        return "\n".join(diff(x, y, "%s[%d]" % (path, i)) for i, (x, y) in enumerate(zip(before, after)) if x != y)
    return " %s before %s\n %s after  %s" % (path, short(before), path, short(after))


def forget_what_redis70_aof_forgets(data):
    """Redis 7.0 does not propagate a group's entries-read with the XCLAIM
    of a delivery, nor the delivery count of a re-read of a consumer's
    history (XREADGROUP ... 0): its AOF (and replicas) lose them, and a
    group's lag with the first. Keel's propagation replays exactly."""
    out = {}
    for k, (t, v) in data.items():
        if t == "stream":
            v = dict(v)
            groups = []
            for g in v["group-list"]:
                g = dict(g)
                del g["entries-read"], g["lag"]
                g["pel"] = [(i, c) for i, c, _ in g["pel"]]
                groups.append(g)
            v["group-list"] = groups
        out[k] = (t, v)
    return out


def assert_same(before, after, exact=True):
    """Two snapshots hold the same keys, values, functions and other
    databases' sizes; TTLs no larger than before (an absolute expiry, not a
    relative one replayed) and not shorter than the time elapsed since
    (plus slack) allows. exact=False: less what Redis 7.0's AOF forgets of
    stream groups."""
    bd, ad = before["data"], after["data"]
    if not exact:
        bd, ad = forget_what_redis70_aof_forgets(bd), forget_what_redis70_aof_forgets(ad)
    missing = sorted(set(bd) - set(ad))
    extra = sorted(set(ad) - set(bd))
    assert not missing and not extra, "missing %s, extra %s" % (short(missing), short(extra))
    differ = [k for k in bd if ad[k] != bd[k]]
    assert not differ, "%d keys differ, first %r:\n%s" % (len(differ), differ[0], diff(bd[differ[0]], ad[differ[0]]))
    elapsed_ms = (after["time"] - before["time"]) * 1000
    for k, t in before["ttls"].items():
        u = after["ttls"][k]
        if t < 0:
            assert u == t, (k, t, u)
        else:
            assert t - elapsed_ms - 3000 <= u <= t, (k, t, u)
    assert after["functions"] == before["functions"]
    assert after["others"] == before["others"]
