"""Modules in active defragmentation (Redis 7.0's API), with
tests/modules/testmod_defrag.c: a data type's defrag callback moves its
blocks with DefragAlloc and DefragRedisModuleString, a big value (free
effort over active-defrag-max-scan-fields) comes back in later calls that
resume from DefragCursorGet and stop on DefragShouldStop, and the
RegisterDefragFunc callback moves the module's global data.

DEBUG DEFRAG FORCE moves every block, so a pointer the server failed to
fix shows as damaged data (or, in the sanitizer build, a use-after-free);
DEBUG DEFRAG FORCE STEPS n runs the pass n steps at a time and makes
DefragShouldStop answer yes at once, so a big value goes a batch per step."""
import os

import pytest
from conftest import REDIS_BIN, SERVER, Server
from module_util import build_module, loadmodule

ON_REDIS = os.path.realpath(SERVER) == os.path.realpath(REDIS_BIN)
pytestmark = pytest.mark.skipif(ON_REDIS, reason="DEBUG DEFRAG is Keel's; Debian's Redis cannot defragment")

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "modules", "testmod_defrag.c")
PLAIN, LATER, GLOBAL, MOVED, NAME_OK, CURSOR_ERR, MAX_CURSOR, LAST_DB, STOPPED = range(9)


@pytest.fixture(scope="module")
def so():
    return build_module(SRC)


@pytest.fixture
def c(so):
    s = Server("--save", "", "--appendonly", "no", *loadmodule(so))
    conn = s.client()
    yield conn
    conn.close()
    s.stop()


def stats(c):
    return c.execute_command("tmd.stats")


def test_plain_values_move_and_read_back(c):
    for i in range(50):
        assert c.execute_command("tmd.set", "k%d" % i, 20) == b"OK"
    c.execute_command("SELECT", 4)
    c.execute_command("tmd.set", "in4", 3)
    c.execute_command("SELECT", 0)
    moved = c.execute_command("DEBUG", "DEFRAG", "FORCE")
    st = stats(c)
    assert st[PLAIN] == 51 and st[LATER] == 0
    # Each value: its struct, its block array, its name and 20 (or 3) blocks.
    assert st[MOVED] == 50 * 23 + 6
    assert moved >= st[MOVED] + 51  # and the keys' own entries
    assert st[NAME_OK] == 51
    assert st[CURSOR_ERR] == 51  # no cursor outside a later call
    assert st[LAST_DB] in (0, 4)
    assert st[GLOBAL] == 1
    assert all(c.execute_command("tmd.check", "k%d" % i) == 20 for i in range(50))
    assert c.execute_command("tmd.global") == b"OK"
    c.execute_command("SELECT", 4)
    assert c.execute_command("tmd.check", "in4") == 3


def test_big_value_is_resumed_from_its_cursor(c):
    c.config_set("active-defrag-max-scan-fields", 10)
    c.execute_command("tmd.set", "big", 1000)
    # In a later database, so the pass meets it after the big value's end.
    c.execute_command("SELECT", 1)
    c.execute_command("tmd.set", "small", 5)
    before = stats(c)
    steps = 0
    while True:
        c.execute_command("DEBUG", "DEFRAG", "FORCE", "STEPS", 1)
        steps += 1
        st = stats(c)
        if st[LATER] > before[LATER] and st[LATER] - before[LATER] == st[STOPPED] - before[STOPPED] + 1:
            break  # the last later call returned 0: done
        assert steps < 1000
    assert st[PLAIN] == before[PLAIN]
    c.execute_command("DEBUG", "DEFRAG", "FORCE")  # the rest of the pass
    st = stats(c)
    # The small value at once; the big one in batches of 4 blocks, each
    # call going on from the cursor the last one set.
    assert st[PLAIN] - before[PLAIN] == 1
    assert st[LATER] - before[LATER] == 250
    assert st[MAX_CURSOR] == 996
    assert st[MOVED] - before[MOVED] == (5 + 3) + (1000 + 3)
    assert c.execute_command("tmd.check", "small") == 5
    c.execute_command("SELECT", 0)
    assert c.execute_command("tmd.check", "big") == 1000


def test_big_value_replaced_between_steps(c):
    c.config_set("active-defrag-max-scan-fields", 10)
    c.execute_command("tmd.set", "big", 400)
    for _ in range(3):
        c.execute_command("DEBUG", "DEFRAG", "FORCE", "STEPS", 1)
    # A smaller value under the same key: the pass goes on from its cursor
    # and must not walk past the new value's end.
    c.execute_command("tmd.set", "big", 30)
    for _ in range(20):
        c.execute_command("DEBUG", "DEFRAG", "FORCE", "STEPS", 1)
    c.execute_command("DEBUG", "DEFRAG", "FORCE")
    assert c.execute_command("tmd.check", "big") == 30
    c.delete("big")
    c.execute_command("DEBUG", "DEFRAG", "FORCE")
    assert c.execute_command("tmd.global") == b"OK"
