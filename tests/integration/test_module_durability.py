"""Module data survives kill -9 under load, with appendfsync always.

Writers append records to module values (the test module's data type,
tm.tadd) and add documents to a RediSearch index (FT.ADD), each logging
every write the server acknowledged. The server is killed with SIGKILL
while they write, restarted on the same directory, and what it holds is
compared with the logs: every acknowledged write is there, each writer's
records form a prefix of what it sent (so no write after a lost one
survived), and nothing nobody sent appears. Module commands reach the AOF
only through what they replicate (ReplicateVerbatim here), so this checks
that path end to end; a final restart after a BGREWRITEAOF checks the
rewrite's form of module values (the type's aof_rewrite).

Runs against Debian's redis-server too (KEEL_SERVER=/usr/bin/redis-server)."""
import os
import random
import threading
import time

import pytest
import redis
from conftest import SERVER
from module_util import NO_REDISEARCH, REDISEARCH, build_testmod, loadmodule
from persist_util import TempDirs, removal_fixture, spawn_fixture

ALWAYS = ("--appendonly", "yes", "--appendfsync", "always")

mkdir = TempDirs("keel-moddur-")
_remove_tmpdirs = removal_fixture(mkdir)
spawn = spawn_fixture(mkdir)


class Writer(threading.Thread):
    """Sends tm.tadd (or FT.ADD) until the connection dies; records what
    was sent and what was acknowledged, in order."""

    def __init__(self, port, tag, search):
        super().__init__(daemon=True)
        self.port, self.tag, self.search = port, tag, search
        self.sent, self.acked = [], []
        self.error = None

    def run(self):
        c = redis.Redis(port=self.port, socket_timeout=10)
        n = 0
        try:
            while True:
                n += 1
                self.sent.append(n)
                if self.search:
                    c.execute_command("FT.ADD", "idx", "%s:%d" % (self.tag, n), "1.0", "FIELDS", "body",
                                      "word%s n%d" % (self.tag, n), "num", n)
                else:
                    c.execute_command("tm.tadd", "t:" + self.tag, n, n / 4, "s%d" % n)
                self.acked.append(n)
        except (redis.ConnectionError, redis.TimeoutError, ConnectionError):
            pass  # the kill
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def stored(c, w):
    """The writer's numbers the server holds, in stored order."""
    if w.search:
        reply = c.execute_command("FT.SEARCH", "idx", "@body:word%s" % w.tag, "NOCONTENT", "LIMIT", "0", "100000")
        return sorted(int(d.split(b":")[1]) for d in reply[1:])
    recs = c.execute_command("tm.tget", "t:" + w.tag) or []
    return [int(r[0]) for r in recs]


def check(c, writers, seen):
    for w in writers:
        got = stored(c, w)
        assert got == list(range(1, len(got) + 1)), "writer %s: not a prefix of what it sent: %r" % (w.tag, got[:20])
        assert len(got) >= len(w.acked), "writer %s lost acknowledged writes: %d stored, %d acknowledged" % (
            w.tag, len(got), len(w.acked))
        assert len(got) <= len(w.sent), "writer %s: more stored than sent" % w.tag
        # Once found after a restart, the same later.
        assert seen.setdefault(w.tag, len(got)) == len(got), (w.tag, seen[w.tag], len(got))


def kill_cycles(spawn, modargs, search, cycles=6):
    d = mkdir()
    rng = random.Random()
    all_writers, seen = [], {}
    for cycle in range(cycles):
        node = spawn(SERVER, d, *ALWAYS, *modargs)
        c = node.client()
        if cycle == 0 and search:
            c.execute_command("FT.CREATE", "idx", "SCHEMA", "body", "TEXT", "num", "NUMERIC")
        check(c, all_writers, seen)
        writers = [Writer(node.port, "c%dw%d" % (cycle, i), search) for i in range(3)]
        for w in writers:
            w.start()
        time.sleep(rng.uniform(0.1, 0.4))
        deadline = time.monotonic() + 10
        while not any(w.acked for w in writers) and time.monotonic() < deadline:
            time.sleep(0.01)
        node.kill9()
        for w in writers:
            w.join(timeout=15)
            assert not w.is_alive(), "writer still running after the kill"
            assert w.error is None, "writer %s failed: %r" % (w.tag, w.error)
        assert sum(len(w.acked) for w in writers) > 0, node.log_text()[-2000:]
        all_writers.extend(writers)
        c.close()
    # A rewrite of the log, then a clean restart: the rewritten form too.
    node = spawn(SERVER, d, *ALWAYS, *modargs)
    c = node.client()
    check(c, all_writers, seen)
    c.execute_command("BGREWRITEAOF")
    deadline = time.monotonic() + 30
    while c.info("persistence")["aof_rewrite_in_progress"] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    c.close()
    node.stop()
    node = spawn(SERVER, d, *ALWAYS, *modargs)
    c = node.client()
    check(c, all_writers, seen)
    c.close()
    node.stop()
    return sum(len(w.acked) for w in all_writers)


def test_kill9_keeps_every_acknowledged_module_write(spawn):
    assert kill_cycles(spawn, loadmodule(build_testmod()), search=False) > 50


@pytest.mark.skipif(not os.path.exists(REDISEARCH), reason=NO_REDISEARCH)
def test_kill9_keeps_every_acknowledged_redisearch_document(spawn):
    assert kill_cycles(spawn, loadmodule(REDISEARCH, "SAFEMODE"), search=True) > 50
