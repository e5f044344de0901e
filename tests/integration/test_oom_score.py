"""oom-score-adj and oom-score-adj-values act on /proc/<pid>/oom_score_adj
as in Redis 7: relative (yes) adds the class's value to the score the
process had when Keel took control, absolute sets it, no puts the old
score back; the class follows the role (primary, replica) and a forked
background child takes the third value. Passes against Debian's
redis-server 7.0 too (KEEL_SERVER=/usr/bin/redis-server)."""
import os
import subprocess
import time

import pytest


def score(pid):
    with open("/proc/%d/oom_score_adj" % pid) as f:
        return int(f.read())


def set_score(pid, v):
    with open("/proc/%d/oom_score_adj" % pid, "w") as f:
        f.write("%d\n" % v)


@pytest.fixture
def srv(keel):
    s = keel()
    yield s, s.client(decode_responses=True), s.proc.pid


def test_relative_absolute_and_restore(srv):
    s, c, pid = srv
    set_score(pid, 22)
    c.config_set("oom-score-adj-values", "9 19 29")
    assert score(pid) == 22  # off: the values alone change nothing
    c.config_set("oom-score-adj", "yes")
    assert score(pid) == 31
    c.config_set("oom-score-adj-values", "15 19 29")
    assert score(pid) == 37
    c.config_set("oom-score-adj", "absolute")
    assert score(pid) == 15
    c.config_set("oom-score-adj", "relative")
    assert c.config_get("oom-score-adj") == {"oom-score-adj": "yes"}
    assert score(pid) == 37
    c.config_set("oom-score-adj", "no")
    assert score(pid) == 22
    # taken again from the score it has then
    set_score(pid, 40)
    c.config_set("oom-score-adj", "yes")
    assert score(pid) == 55
    c.config_set("oom-score-adj", "absolute", "oom-score-adj-values", "2000 0 0")
    assert score(pid) == 1000  # clamped to the kernel's range
    c.config_set("oom-score-adj", "no")
    assert score(pid) == 40


def test_the_class_follows_the_role_and_children(srv):
    s, c, pid = srv
    set_score(pid, 0)
    c.config_set("oom-score-adj-values", "10 20 30", "oom-score-adj", "yes")
    assert score(pid) == 10
    c.execute_command("REPLICAOF", "127.0.0.1", 1)
    assert score(pid) == 20
    c.execute_command("REPLICAOF", "NO", "ONE")
    assert score(pid) == 10
    # a forked BGSAVE child takes the background class
    c.set("k", "v")
    if c.config_get("bgsave-forkless"):  # Keel's own: snapshots fork only when asked to
        c.config_set("bgsave-forkless", "no")
    c.config_set("rdb-key-save-delay", 1000000)
    c.execute_command("BGSAVE")
    child = None
    deadline = time.time() + 5
    while child is None and time.time() < deadline:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        child = int(out[0]) if out else None
        time.sleep(0.01)
    assert child, "no BGSAVE child"
    deadline = time.time() + 5
    while score(child) != 30 and time.time() < deadline:
        time.sleep(0.01)
    assert score(child) == 30
    assert score(pid) == 10
    c.config_set("rdb-key-save-delay", 0)
    os.kill(child, 9)


def test_out_of_range_values_are_refused(srv):
    s, c, pid = srv
    for bad in ("-2001 0 0", "0 2001 0", "1 2", "a b c"):
        with pytest.raises(Exception) as e:
            c.config_set("oom-score-adj-values", bad)
        assert "oom-score-adj-values" in str(e.value)
    assert c.config_get("oom-score-adj-values") == {"oom-score-adj-values": "0 200 800"}


def test_set_at_start_up(keel):
    s = keel("--oom-score-adj", "absolute", "--oom-score-adj-values", "5 10 15")
    assert score(s.proc.pid) == 5
