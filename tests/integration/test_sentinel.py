"""Failover by Debian's redis-sentinel (7.0): Keel's replication must speak
Redis's protocol well enough for an unmodified Sentinel to watch, elect and
promote. Validated first with KEEL_SERVER=/usr/bin/redis-server (real Redis
in every role), then with Keel.

Each test runs a primary and two replicas (all KEEL_SERVER, each with its
own config file so Sentinel's CONFIG REWRITE has somewhere to write) and
three redis-sentinel processes monitoring the primary as "keel" with quorum
2, all on free loopback ports. Sentinel's timings are shortened by config
(down-after-milliseconds 2000, failover-timeout 10000) and by its own
SENTINEL DEBUG knobs (INFO every second instead of every ten, hellos every
half second instead of every two), which only make it look more often.
Why 2000 and not 1000: right after a failover the leader's new link to the
promoted replica must answer a PING within down-after-milliseconds, and a
sentinel keeps the other sentinels' "master is down" votes from the
election it just won; on a loaded 2-core machine a 1 s hiccup there made it
see the new master objectively down at once and fail over a second time
(seen with real Redis in every role, three test runs in parallel).

The tests: Sentinel discovers the replicas and the other sentinels (SENTINEL
REPLICAS flags, hellos on the primary's __sentinel__:hello channel); after a
kill -9 of the primary under a writer that checks every write with WAIT 1,
the sentinels promote a replica, a client that asks Sentinel for the master
writes to it, the other replica follows it and every write WAIT acknowledged
is there; the old primary, restarted on its port, is turned into a replica
of the new one by Sentinel (and a replica with replica-priority 0 is never
the one promoted).

Every process is stopped at the end of its test, also when it fails; waits
poll with deadlines of 20-35 s, and a failed wait prints each server's ROLE
and INFO replication and the tail of each sentinel's log."""
import os
import signal
import subprocess
import threading
import time

import pytest
import redis
import redis.sentinel
from conftest import SERVER, free_port
from persist_util import TempDirs, answers_ping, removal_fixture
from repl_util import HOST

SENTINEL = "/usr/bin/redis-sentinel"
pytestmark = pytest.mark.skipif(not os.access(SENTINEL, os.X_OK),
                                reason="needs Debian's redis-sentinel at %s (apt-get install redis-sentinel)"
                                % SENTINEL)

NAME = "keel"  # the name the sentinels monitor the primary under
QUORUM = 2
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 10000
DEADLINE = 20
# An election that splits the votes is retried only after twice the
# failover timeout, so the wait for a failover allows for one retry.
FAILOVER_DEADLINE = 35

mkdir = TempDirs("keel-sentinel-")
_remove_tmpdirs = removal_fixture(mkdir)


# ---------------------------------------------------------------- processes

class Proc:
    """A process on a fixed port whose output goes to <dir>/<name>.log; ready
    once it answers PING with PONG."""

    def __init__(self, name, argv, port, dir):
        self.name, self.argv, self.port, self.dir = name, argv, port, dir
        self.log = os.path.join(dir, name + ".log")
        self.killed = False
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + DEADLINE
        while not answers_ping(port):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("%s did not start:\n%s" % (name, self.log_tail()))
            time.sleep(0.02)

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, lines=40):
        with open(self.log, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def kill9(self):
        self.killed = True
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self):
        if self.alive():
            self.proc.terminate()

    def stop(self):
        """SIGTERM, SIGKILL after 10 s; returns a complaint when the process
        ended badly (not by SIGTERM, SIGKILL we sent, or a clean exit)."""
        self.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "%s on port %d ignored SIGTERM for 10 s" % (self.name, self.port)
        finally:
            if not self.logf.closed:
                self.logf.close()
        rc = self.proc.returncode
        if rc not in (0, -signal.SIGTERM) and not self.killed:
            return "%s on port %d exited with %s:\n%s" % (self.name, self.port, rc, self.log_tail())
        return None


class Node(Proc):
    """A KEEL_SERVER started from its own config file (port, dir, no save
    points, an immediate diskless sync); restart() starts it again on the
    same port, dir and file."""

    def __init__(self, name, dir, port=None):
        port = port or free_port()
        self.conf = os.path.join(dir, "server.conf")
        if not os.path.exists(self.conf):
            with open(self.conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndir %s\nsave \"\"\nappendonly no\n"
                        "repl-diskless-sync-delay 0\n" % (port, dir))
        super().__init__(name, [SERVER, self.conf], port, dir)
        self.c = self.client()
        self.c.response_callbacks.pop("INFO", None)  # INFO as text: see info()

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        kw.setdefault("decode_responses", True)
        return redis.Redis(host=HOST, port=self.port, **kw)

    def restart(self):
        return Node(self.name, self.dir, self.port)

    def role(self):
        return self.c.execute_command("ROLE")

    def info(self, section):
        """INFO <section> as {field: str} (redis-py would turn an all-digit
        value such as a replication ID of zeros into an int)."""
        out = {}
        for line in self.c.execute_command("INFO", section).splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def repl(self):
        return self.info("replication")

    def stop(self):
        if hasattr(self, "c"):  # not when start-up failed
            self.c.close()
        return super().stop()


class Sentinel(Proc):
    """A redis-sentinel monitoring `primary` as NAME, with its own config
    file (Sentinel rewrites it as it learns the topology)."""

    def __init__(self, name, dir, primary):
        port = free_port()
        conf = os.path.join(dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndaemonize no\nlogfile \"\"\ndir %s\n"
                    "sentinel resolve-hostnames no\n"
                    "sentinel announce-hostnames no\n"
                    "sentinel announce-ip 127.0.0.1\n"
                    "sentinel monitor %s 127.0.0.1 %d %d\n"
                    "sentinel down-after-milliseconds %s %d\n"
                    "sentinel failover-timeout %s %d\n"
                    "sentinel parallel-syncs %s 1\n"
                    % (port, dir, NAME, primary.port, QUORUM, NAME, DOWN_AFTER_MS, NAME, FAILOVER_TIMEOUT_MS, NAME))
        super().__init__(name, [SENTINEL, conf], port, dir)
        self.c = redis.Redis(host=HOST, port=port, socket_timeout=10, decode_responses=True)
        self.c.execute_command("SENTINEL", "DEBUG", "info-period", 1000, "publish-period", 500)

    def cmd(self, *args):
        return self.c.execute_command("SENTINEL", *args)

    def master_addr(self):
        reply = self.cmd("GET-MASTER-ADDR-BY-NAME", NAME)
        return None if reply is None else (reply[0], int(reply[1]))

    def master(self):
        return pairs(self.cmd("MASTER", NAME))

    def replicas(self):
        return [pairs(r) for r in self.cmd("REPLICAS", NAME)]

    def sentinels(self):
        return [pairs(r) for r in self.cmd("SENTINELS", NAME)]

    def stop(self):
        if hasattr(self, "c"):  # not when start-up failed
            self.c.close()
        return super().stop()


def pairs(flat):
    """A flat [field, value, ...] reply as a dict."""
    return dict(zip(flat[0::2], flat[1::2]))


class Deployment:
    """The processes of one test: servers and sentinels, stopped by
    stop_all() (sentinels first, so none reconfigures a server being
    stopped; then every server at once)."""

    def __init__(self):
        self.nodes, self.sentinels = [], []

    def node(self, name):
        n = Node(name, mkdir())
        self.nodes.append(n)
        return n

    def restart(self, node):
        n = node.restart()
        self.nodes.append(n)
        return n

    def sentinel(self, name, primary):
        s = Sentinel(name, mkdir(), primary)
        self.sentinels.append(s)
        return s

    def describe(self):
        """What a failed wait prints: each live server's ROLE and INFO
        replication, each sentinel's view and the tail of its log."""
        out = []
        for n in self.nodes:
            if not n.alive():
                continue
            try:
                out.append("%s :%d ROLE %r\n  %r" % (n.name, n.port, n.role(), n.repl()))
            except redis.RedisError as e:
                out.append("%s :%d %r" % (n.name, n.port, e))
            out.append("  log:\n" + n.log_tail(15))
        for s in self.sentinels:
            try:
                view = "master at %r" % (s.master_addr(),)
            except redis.RedisError as e:
                view = repr(e)
            out.append("%s :%d %s; log:\n%s" % (s.name, s.port, view, s.log_tail()))
        return "\n".join(out)

    def wait(self, cond, what, timeout=DEADLINE):
        """Polls cond() until it returns something true and returns it. A
        connection error counts as "not yet": Sentinel's reconfiguration
        ends with CLIENT KILL TYPE normal, which cuts our clients too."""
        deadline = time.time() + timeout
        while True:
            try:
                v = cond()
            except (redis.ConnectionError, redis.TimeoutError):
                v = None
            if v:
                return v
            if time.time() > deadline:
                raise AssertionError("timed out after %d s waiting for %s\n%s" % (timeout, what, self.describe()))
            time.sleep(0.05)

    def stop_all(self):
        problems = [s.stop() for s in self.sentinels]
        for n in self.nodes:
            n.terminate()
        problems += [n.stop() for n in self.nodes]
        problems = [p for p in problems if p]
        if problems:
            raise AssertionError("\n".join(problems))


# ---------------------------------------------------------------- the set-up

def follows(replica, primary):
    """ROLE and INFO replication of `replica` say it replicates `primary`
    with the link up."""
    role = replica.role()
    if role[0] != "slave" or (role[1], int(role[2]), role[3]) != (HOST, primary.port, "connected"):
        return False
    info = replica.repl()
    return (info.get("role"), info.get("master_port"), info.get("master_link_status")) == \
        ("slave", str(primary.port), "up")


def in_sync(primary, replica):
    return follows(replica, primary) and \
        int(primary.repl()["master_repl_offset"]) == int(replica.repl()["slave_repl_offset"])


def sees_everything(s, primary, replicas, nsentinels):
    """Sentinel s knows the primary as up, every replica as a healthy
    replica of it, and the other sentinels."""
    m = s.master()
    if (m["ip"], int(m["port"]), m["flags"]) != (HOST, primary.port, "master"):
        return False
    if int(m["num-slaves"]) != len(replicas) or int(m["num-other-sentinels"]) != nsentinels - 1:
        return False
    found = {int(r["port"]): r for r in s.replicas()}
    return set(found) == {r.port for r in replicas} and all(
        (r["ip"], r["flags"], r["master-link-status"], r["master-host"], int(r["master-port"]))
        == (HOST, "slave", "ok", HOST, primary.port) for r in found.values())


@pytest.fixture
def dep():
    """A primary, two replicas in sync with it and three sentinels that see
    all of them and each other."""
    d = Deployment()
    try:
        primary = d.node("primary")
        replicas = [d.node("replica1"), d.node("replica2")]
        for r in replicas:
            assert r.c.execute_command("REPLICAOF", HOST, primary.port) == "OK"
        for r in replicas:
            d.wait(lambda: in_sync(primary, r), "%s in sync with the primary" % r.name)
        for i in range(3):
            d.sentinel("sentinel%d" % (i + 1), primary)
        for s in d.sentinels:
            d.wait(lambda: sees_everything(s, primary, replicas, 3),
                   "%s to see the primary, both replicas and two other sentinels" % s.name)
        d.primary, d.replicas = primary, replicas
        yield d
    finally:
        d.stop_all()


def all_agree_on_new_master(d, old_port):
    """The address every sentinel gives for NAME once all moved off
    old_port, else None."""
    addrs = {s.master_addr() for s in d.sentinels}
    if len(addrs) == 1:
        addr = addrs.pop()
        if addr is not None and addr[1] != old_port:
            return addr
    return None


def fail_over(d):
    """kill -9 the primary; returns (promoted replica, the other replica)
    once every sentinel names the same replica as master, that replica says
    it is a master and Sentinel says the failover is over."""
    old = d.primary
    old.kill9()
    addr = d.wait(lambda: all_agree_on_new_master(d, old.port),
                  "the sentinels to agree on a new master", timeout=FAILOVER_DEADLINE)
    by_port = {r.port: r for r in d.replicas}
    assert addr[0] == HOST and addr[1] in by_port, addr
    promoted = by_port[addr[1]]
    other = [r for r in d.replicas if r is not promoted][0]
    d.wait(lambda: promoted.role()[0] == "master" and promoted.repl()["role"] == "master",
           "the promoted replica to say it is a master")
    d.wait(lambda: all("failover_in_progress" not in s.master()["flags"] for s in d.sentinels),
           "the failover to end on every sentinel")
    return promoted, other


# ---------------------------------------------------------------- tests

def test_sentinel_discovers_replicas_and_sentinels(dep):
    primary = dep.primary
    for s in dep.sentinels:
        m = s.master()
        assert (m["name"], m["ip"], int(m["port"]), m["flags"]) == (NAME, HOST, primary.port, "master")
        assert int(m["quorum"]) == QUORUM
        assert int(m["down-after-milliseconds"]) == DOWN_AFTER_MS
        # The run ID Sentinel read from the primary's INFO.
        assert m["runid"] == primary.info("server")["run_id"]
        reps = sorted(s.replicas(), key=lambda r: int(r["port"]))
        assert [int(r["port"]) for r in reps] == sorted(r.port for r in dep.replicas)
        for r in reps:
            assert r["flags"] == "slave", r
            assert r["role-reported"] == "slave", r
            assert r["master-link-status"] == "ok", r
            assert (r["master-host"], int(r["master-port"])) == (HOST, primary.port), r
            assert int(r["slave-priority"]) == 100, r
            assert int(r["slave-repl-offset"]) >= 0, r
        others = {int(o["port"]) for o in s.sentinels()}
        assert others == {o.port for o in dep.sentinels if o is not s}
        assert s.cmd("CKQUORUM", NAME).startswith("OK 3 usable Sentinels.")

    # Each sentinel announces itself on the primary's hello channel (and on
    # the replicas'): "ip,port,runid,epoch,name,master ip,master port,epoch".
    sub = primary.client().pubsub()
    try:
        sub.psubscribe("__sentinel__:*")
        seen = {}

        def hellos_from_all():
            m = sub.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                assert m["channel"] == "__sentinel__:hello", m
                f = m["data"].split(",")
                assert len(f) == 8, m
                seen[int(f[1])] = f
            return len(seen) == 3

        dep.wait(hellos_from_all, "a hello from each sentinel on __sentinel__:hello")
        assert set(seen) == {s.port for s in dep.sentinels}
        for f in seen.values():
            assert f[0] == HOST and len(f[2]) == 40
            assert (f[4], f[5], int(f[6])) == (NAME, HOST, primary.port)
    finally:
        sub.close()


class Writer(threading.Thread):
    """Writes to the primary until stopped or cut off: SET k:<i> <i>,
    INCR counter, RPUSH log <i>, then WAIT 1 1000. Every i whose WAIT
    counted at least one replica goes to `acked` (and the counter's value
    to `acked_counter`); `unacked` counts the rest."""

    def __init__(self, node):
        super().__init__(daemon=True)
        self.c = node.client(socket_timeout=5)
        self.acked, self.acked_counter, self.unacked = [], 0, 0
        self.stopping = threading.Event()
        self.error = None

    def run(self):
        i = 0
        try:
            while not self.stopping.is_set():
                i += 1
                self.c.set("k:%d" % i, i)
                n = self.c.incr("counter")
                self.c.rpush("log", i)
                if self.c.execute_command("WAIT", 1, 1000) >= 1:
                    self.acked.append(i)
                    self.acked_counter = n
                else:
                    self.unacked += 1
        except redis.RedisError as e:
            self.error = e
        finally:
            self.c.close()


class Loader(threading.Thread):
    """Load beside the writer: pipelines of 50 SETs of 1 KB values, never
    waited for."""

    def __init__(self, node):
        super().__init__(daemon=True)
        self.c = node.client(socket_timeout=5)
        self.stopping = threading.Event()
        self.batches = 0

    def run(self):
        try:
            while not self.stopping.is_set():
                p = self.c.pipeline(transaction=False)
                for j in range(50):
                    p.set("bulk:%d" % ((self.batches * 50 + j) % 5000), "x" * 1024)
                p.execute()
                self.batches += 1
        except redis.RedisError:
            pass
        finally:
            self.c.close()


def test_failover_keeps_every_write_acknowledged_by_wait(dep):
    events = dep.sentinels[0].c.pubsub()
    writer, loader = Writer(dep.primary), Loader(dep.primary)
    try:
        events.subscribe("+switch-master")
        assert events.get_message(timeout=5)["type"] == "subscribe"
        writer.start()
        loader.start()
        dep.wait(lambda: len(writer.acked) >= 300 or writer.error,
                 "300 writes acknowledged by WAIT 1")
        assert writer.error is None, writer.error
        assert loader.batches > 0

        promoted, other = fail_over(dep)
        writer.join(timeout=10)
        assert not writer.is_alive()
        # The writer ended because its primary went away, having had at
        # least 300 writes acknowledged.
        assert isinstance(writer.error, redis.ConnectionError), writer.error
        acked = list(writer.acked)
        assert len(acked) >= 300

        # Sentinel announced the switch.
        msg = dep.wait(lambda: events.get_message(timeout=0.2), "+switch-master on sentinel1")
        assert msg["channel"] == "+switch-master"
        assert msg["data"].split() == [NAME, HOST, str(dep.primary.port), HOST, str(promoted.port)]

        # A client that asks Sentinel for the master reaches the new one and
        # writes there.
        sentinel = redis.sentinel.Sentinel([(HOST, s.port) for s in dep.sentinels], socket_timeout=5)
        assert sentinel.discover_master(NAME) == (HOST, promoted.port)
        master = sentinel.master_for(NAME, socket_timeout=5, decode_responses=True)
        assert master.set("after-failover", "yes") is True
        assert promoted.c.get("after-failover") == "yes"
        assert master.incr("counter") == int(promoted.c.get("counter"))
        master.close()

        # Sentinel reconfigured the other replica to follow the new primary,
        # which lists it as its replica.
        dep.wait(lambda: in_sync(promoted, other), "%s to replicate the promoted %s" % (other.name, promoted.name))
        role = promoted.role()
        assert role[0] == "master"
        assert [(h, int(p)) for h, p, _ in role[2]] == [(HOST, other.port)]
        info = promoted.repl()
        assert info["role"] == "master" and info["connected_slaves"] == "1"
        # PSYNC2: the promoted replica kept the old primary's history as its
        # second replication ID, so the follower continued with a partial
        # resync (both had the same offset when the primary died).
        assert info["master_replid2"] != "0" * 40
        stats = promoted.info("stats")
        assert (stats["sync_full"], stats["sync_partial_ok"]) == ("0", "1"), stats
        assert other.c.dbsize() == promoted.c.dbsize()
        # Sentinel offers the follower to read from (the old primary stays
        # on its list, flagged down, so it is not offered).
        dep.wait(lambda: sentinel.discover_slaves(NAME) == [(HOST, other.port)],
                 "Sentinel to offer %s alone as a replica" % other.name)

        # Every write WAIT acknowledged before the kill is on the new
        # primary (and on the replica that follows it).
        for node in (promoted, other):
            values = node.c.mget(["k:%d" % i for i in acked])
            missing = [i for i, v in zip(acked, values) if v != str(i)]
            assert not missing, "%s lacks %d acknowledged writes, first %r (of %d acknowledged; %d not)" % (
                node.name, len(missing), missing[:10], len(acked), writer.unacked)
            assert int(node.c.get("counter")) >= writer.acked_counter + 1
            # The log holds every write in order, up to the last one acknowledged at least.
            log = node.c.lrange("log", 0, -1)
            assert log == [str(i) for i in range(1, len(log) + 1)]
            assert len(log) >= acked[-1]

        # Sentinel's CONFIG REWRITE made the reconfiguration durable: the
        # follower's config file names its new primary, the promoted one's
        # names none.
        with open(other.conf) as f:
            assert "replicaof 127.0.0.1 %d" % promoted.port in f.read()
        with open(promoted.conf) as f:
            assert "replicaof" not in f.read()
    finally:
        writer.stopping.set()
        loader.stopping.set()
        writer.join(timeout=10)
        loader.join(timeout=10)
        events.close()


def test_old_primary_rejoins_as_replica_of_the_new_one(dep):
    old = dep.primary
    old.c.mset({"before:%d" % i: i for i in range(1000)})
    for r in dep.replicas:
        dep.wait(lambda: in_sync(old, r), "%s in sync before the kill" % r.name)
    # replica-priority 0 (INFO's slave_priority) rules replica1 out: Sentinel
    # must promote replica2.
    assert dep.replicas[0].c.config_set("replica-priority", 0) is True
    for s in dep.sentinels:
        dep.wait(lambda: {int(r["port"]): int(r["slave-priority"]) for r in s.replicas()}
                 == {dep.replicas[0].port: 0, dep.replicas[1].port: 100},
                 "%s to read slave_priority 0 from replica1" % s.name)
    promoted, other = fail_over(dep)
    assert (promoted, other) == (dep.replicas[1], dep.replicas[0])
    promoted.c.set("written-after-failover", "1")

    # The old primary comes back on its port, from its own config file,
    # believing it is a master (with no data: no save points).
    back = dep.restart(old)
    assert back.port == old.port
    # Sentinel tells it to replicate the new primary.
    dep.wait(lambda: in_sync(promoted, back), "Sentinel to make the restarted primary a replica of %s" % promoted.name)
    assert back.c.get("written-after-failover") == "1"
    assert back.c.get("before:999") == "999"
    assert back.c.dbsize() == promoted.c.dbsize()
    dep.wait(lambda: in_sync(promoted, other), "%s to replicate %s" % (other.name, promoted.name))
    with open(back.conf) as f:
        assert "replicaof 127.0.0.1 %d" % promoted.port in f.read()

    # Every sentinel sees both as healthy replicas of the new master.
    def healthy_replicas(s):
        reps = {int(r["port"]): r for r in s.replicas()}
        return set(reps) == {back.port, other.port} and all(
            r["flags"] == "slave" and r["master-link-status"] == "ok" and int(r["master-port"]) == promoted.port
            for r in reps.values())

    for s in dep.sentinels:
        dep.wait(lambda: healthy_replicas(s), "%s to list both replicas of the new master as healthy" % s.name)
        assert s.master_addr() == (HOST, promoted.port)
    role = promoted.role()
    assert sorted(int(p) for _, p, _ in role[2]) == sorted((back.port, other.port))
