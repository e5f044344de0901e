"""The module API's streams and aux data, against Redis 7.0.

testmod's section "streams and aux data" (tests/modules/testmod.c) holds
the commands: tm.stream calls one function of the Stream key API on a key
opened READ ("r") or READ|WRITE ("w") and answers what it returned, a
failure as "ERR <function>: <errno name>" (StreamAdd, StreamDelete,
StreamIteratorStart / Stop / NextID / NextField / Delete,
StreamTrimByLength / ByID, StringToStreamID, CreateStringFromStreamID);
tm.aux sets and reads the state a data type with aux data (tmauxtype,
registered when testmod is loaded with "aux", "auxbefore" or "auxafter")
saves into RDB files and reads back, and the log its aux_save and
aux_load keep.

Every test here passes against Redis 7.0 (KEEL_SERVER=/usr/bin/redis-server);
test_stream_differential compares the two reply by reply, the RDB, full
sync and AOF preamble tests move files written by one server to the other.

Keel's differences from Redis 7.0 these tests found, fixed:
- the Stream API was missing (NULL from the look-up) and aux_save was
  never called: RDB files held no aux data;
- the message for aux data of a type without aux_load now is Redis's.
Keel's StreamDelete / StreamIteratorDelete first removed entries as XDEL
does, also moving XINFO STREAM's max-deleted-entry-id and
recorded-first-entry-id; Redis 7.0's module deletes leave both alone
(its trims do move the recorded first ID), so Keel's do too.

Redis 7.0 behaviour the tests rely on (found by running them on it):
- StreamAdd: EINVAL for a NULL key (a missing key opened READ), flags
  other than AUTOID, or no ID without AUTOID; ENOTSUP for a key of
  another type; EBADF for a key opened READ; EDOM for 0-0 or an ID not
  above the stream's last one; EFBIG once the last ID is the greatest
  (with AUTOID too). AUTOID gives <ms>-0 for a new millisecond, else the
  last ID + 1, and fills in the ID when one is passed. An entry with no
  fields (numfields 0) is accepted: XRANGE shows it with an empty list.
  A failed StreamAdd on a missing key creates nothing;
- StreamDelete: EINVAL (NULL key or ID), ENOTSUP, EBADF (opened READ, or
  an iterator running on the key), ENOENT (no such entry). A stream left
  empty stays;
- the iterator: no start is the first entry, no end the last; EXCLUSIVE
  leaves the bounds out, EDOM when that is impossible (a start of
  max-max, an end of 0-0); REVERSE walks down. A second start is EBADF,
  NextID at the end ENOENT (and from then on), NextField past the
  entry's pairs ENOENT, Stop with no iterator EBADF; NULL out-pointers
  are allowed. IteratorDelete removes the entry NextID gave (EBADF on a
  READ key, ENOENT with none or after the delete) and the walk goes on
  with the next one. Closing the key ends a running iterator. NextID
  before the previous entry's fields were all read trips an assertion in
  Redis 7.0 (Keel skips them), so every walk here reads them all;
- StreamTrimByLength / ByID: EINVAL (NULL key, bad flags, a negative
  length, a NULL ID), ENOTSUP, EBADF; the number removed. APPROX trims
  whole blocks only, at most 100 * stream-node-max-entries entries (no
  limit when that is 0); XINFO's recorded-first-entry-id follows;
- StringToStreamID reads "ms-seq", "ms" (seq 0), "-" (0-0) and "+"
  (max-max), not "ms-*";
- none of these emit keyspace events or propagate: a module command that
  writes a stream reaches replicas and the AOF only by Replicate (here
  "XADD key <the ID> ..." after an AUTOID add). WATCH sees the writes and
  XREAD BLOCK on the key (or a key that StreamAdd creates) is served;
- aux data: for each type whose aux_save_triggers hold the moment, an
  RDB_OPCODE_MODULE_AUX record (type id, UINT opcode, when, what
  aux_save wrote, EOF) after the header's aux fields (when 1) and after
  the keys (when 2): SAVE, BGSAVE, DEBUG RELOAD, a full sync and an AOF's
  RDB preamble. aux_load gets the type's encver and when. An RDB holding
  aux data of a type the server does not have, or whose aux_load fails,
  does not load ("... no matching module 'tmauxtype'"). Redis calls
  aux_save in its fork child for BGSAVE and full syncs, so only SAVE and
  DEBUG RELOAD show in the server's own log.
"""
import glob
import os
import shutil
import time

import pytest
from conftest import REDIS_BIN, SERVER, Server
from module_util import loadmodule
from persist_util import TempDirs, removal_fixture, spawn_fixture, start_expect_failure
from repl_util import cluster_fixture, kinds_param, parse_commands, replicate, wait_in_sync
from resp_client import RespConn
from test_differential_more import tplain
from test_modules import (BASE, HAVE_REDIS, NO_REDIS, c, conn_of, dbl, err_text, mref, msrv, poll, so,  # noqa: F401
                          typed, x)

mkdir = TempDirs("keel-modstream-")
_remove_tmpdirs = removal_fixture(mkdir)
spawn = spawn_fixture(mkdir, base_args=lambda binary: ["--enable-debug-command", "yes"])
cluster = cluster_fixture(mkdir)

MAX = "18446744073709551615-18446744073709551615"
AUTOID, EXCL, REV, APPROX = "1", "1", "2", "1"


def fill(conn, key, n, fields=("a", "b")):
    """n entries i-1 (i = 1..n), each fields[0]=i, fields[1]=x<i> (the
    second left out when fields has one name)."""
    for i in range(1, n + 1):
        args = [fields[0], str(i)] + ([fields[1], "x%d" % i] if len(fields) > 1 else [])
        assert x(conn, "XADD", key, "%d-1" % i, *args) == b"%d-1" % i


def entry(i):
    return [b"%d-1" % i, [b"a", b"%d" % i, b"b", b"x%d" % i]]


def xinfo(conn, key):
    """XINFO STREAM without the index's shape (radix-tree-keys / -nodes),
    which is Keel's own."""
    flat = x(conn, "XINFO", "STREAM", key)
    info = dict(zip(flat[0::2], flat[1::2]))
    for k in (b"radix-tree-keys", b"radix-tree-nodes"):
        info.pop(k, None)
    return info


# ---------------------------------------------------------------- StreamAdd


def test_stream_add_with_ids(c):
    assert x(c, "tm.stream", "add", "s", "w", "0", "1-1", "a", "1", "b", "2") == b"1-1"
    assert x(c, "tm.stream", "add", "s", "w", "0", "5", "a", "2") == b"5-0"
    assert x(c, "XRANGE", "s", "-", "+") == [[b"1-1", [b"a", b"1", b"b", b"2"]], [b"5-0", [b"a", b"2"]]]
    # Not above the last ID, or 0-0.
    for bad in ("1-1", "5-0", "4-9", "0-0"):
        assert err_text(x(c, "tm.stream", "add", "s", "w", "0", bad, "a", "1")) == "ERR StreamAdd: EDOM", bad
    # No fields at all is an entry too.
    assert x(c, "tm.stream", "add", "s", "w", "0", "6-0") == b"6-0"
    assert x(c, "XRANGE", "s", "6", "+") == [[b"6-0", []]]
    assert x(c, "XLEN", "s") == 3
    # The greatest ID, then nothing more.
    assert x(c, "tm.stream", "add", "s", "w", "0", "+", "z", "1") == MAX.encode()
    assert err_text(x(c, "tm.stream", "add", "s", "w", "0", "7-0", "a", "1")) == "ERR StreamAdd: EFBIG"
    assert err_text(x(c, "tm.stream", "add", "s", "w", AUTOID, "null", "a", "1")) == "ERR StreamAdd: EFBIG"
    # The arguments, the type and the mode.
    assert err_text(x(c, "tm.stream", "add", "s", "w", "0", "null", "a", "1")) == "ERR StreamAdd: EINVAL"
    assert err_text(x(c, "tm.stream", "add", "s", "w", "2", "8-0", "a", "1")) == "ERR StreamAdd: EINVAL"
    assert err_text(x(c, "tm.stream", "add", "s", "w", "3", "8-0", "a", "1")) == "ERR StreamAdd: EINVAL"
    assert err_text(x(c, "tm.stream", "add", "s", "r", "0", "8-0", "a", "1")) == "ERR StreamAdd: EBADF"
    assert err_text(x(c, "tm.stream", "add", "new", "r", "0", "8-0", "a", "1")) == "ERR StreamAdd: EINVAL"
    x(c, "SET", "str", "v")
    assert err_text(x(c, "tm.stream", "add", "str", "w", "0", "8-0", "a", "1")) == "ERR StreamAdd: ENOTSUP"
    # A failure on a missing key leaves no key behind.
    assert err_text(x(c, "tm.stream", "add", "new", "w", "0", "0-0", "a", "1")) == "ERR StreamAdd: EDOM"
    assert x(c, "EXISTS", "new") == 0
    assert x(c, "TYPE", "str") == "string"


def test_stream_add_autoid(c):
    before = int(time.time() * 1000)
    first = x(c, "tm.stream", "add", "s", "w", AUTOID, "0-0", "f", "v")  # the ID given is only written to
    ms, seq = map(int, first.split(b"-"))
    assert before - 1000 <= ms <= int(time.time() * 1000) + 1000 and seq in (0, 1, 2), first
    # AUTOID with no ID to fill in: OK.
    assert x(c, "tm.stream", "add", "s", "w", AUTOID, "null", "f", "v") == "OK"
    ids = [e[0] for e in x(c, "XRANGE", "s", "-", "+")]
    assert ids[0] == first and ids[1] > first and len(ids) == 2
    # After an ID in the future: the next sequence number of it.
    assert x(c, "tm.stream", "add", "s", "w", "0", "99999999999999-5", "f", "v") == b"99999999999999-5"
    assert x(c, "tm.stream", "add", "s", "w", AUTOID, "1-1", "f", "v") == b"99999999999999-6"
    assert x(c, "tm.stream", "add", "s", "w", "0", "99999999999999-18446744073709551615", "f", "v") == \
        b"99999999999999-18446744073709551615"
    assert x(c, "tm.stream", "add", "s", "w", AUTOID, "null", "f", "v") == "OK"
    assert x(c, "XREVRANGE", "s", "+", "-", "COUNT", "1")[0][0] == b"100000000000000-0"
    # A new key.
    assert x(c, "tm.stream", "add", "t", "w", AUTOID, "0-0", "f", "v").count(b"-") == 1
    assert x(c, "TYPE", "t") == "stream"


def test_stream_add_wakes_blocked_readers(msrv, c):
    fill(c, "s", 2)
    for key, existing in (("s", True), ("fresh", False)):
        reader = RespConn(msrv)
        reader.send("XREAD", "BLOCK", "0", "STREAMS", key, "$")
        poll(lambda: b"blocked_clients:1" in x(c, "INFO", "clients"), "the reader to block")
        assert x(c, "tm.stream", "add", key, "w", "0", "10-1", "f", key) == b"10-1"
        assert reader.read() == [[key.encode(), [[b"10-1", [b"f", key.encode()]]]]], existing
        reader.close()


def test_stream_writes_are_seen_by_watch(msrv, c):
    fill(c, "s", 3)
    for write in (["add", "s", "w", "0", "9-1", "f", "v"], ["del", "s", "w", "1-1"],
                  ["trimlen", "s", "w", "0", "1"], ["iter", "s", "w", "0", "null", "null", "next", "fields", "del"]):
        assert x(c, "WATCH", "s") == "OK"
        other = RespConn(msrv)
        assert not isinstance(x(other, "tm.stream", *write), Exception)
        other.close()
        assert x(c, "MULTI") == "OK"
        assert x(c, "XLEN", "s") == "QUEUED"
        assert x(c, "EXEC") is None, write


def test_stream_writes_emit_no_keyspace_events(c):
    x(c, "tm.notify", "log")
    assert x(c, "tm.notify", "sub", str((1 << 10) | (1 << 2))) == 0  # stream and generic events
    fill(c, "s", 4)
    assert x(c, "tm.notify", "log") == [b"1024 xadd s db=0"] * 4
    assert x(c, "tm.stream", "add", "s", "w", "0", "9-1", "f", "v") == b"9-1"
    assert x(c, "tm.stream", "add", "new", "w", "0", "9-1", "f", "v") == b"9-1"
    assert x(c, "tm.stream", "del", "s", "w", "1-1") == "OK"
    assert x(c, "tm.stream", "trimlen", "s", "w", "0", "2") == 2
    assert x(c, "tm.stream", "trimid", "s", "w", "0", "9-0") == 1
    assert x(c, "tm.stream", "iter", "s", "w", "0", "null", "null", "next", "fields", "del") == \
        ["OK", [b"9-1", 1], [b"f", b"v"], "OK"]
    assert x(c, "tm.notify", "log") == []
    assert x(c, "XLEN", "s") == 0


# ---------------------------------------------------------------- StreamDelete


def test_stream_delete(c):
    fill(c, "s", 3)
    assert x(c, "tm.stream", "del", "s", "w", "2-1") == "OK"
    assert err_text(x(c, "tm.stream", "del", "s", "w", "2-1")) == "ERR StreamDelete: ENOENT"
    assert err_text(x(c, "tm.stream", "del", "s", "w", "9-9")) == "ERR StreamDelete: ENOENT"
    assert err_text(x(c, "tm.stream", "del", "s", "w", "null")) == "ERR StreamDelete: EINVAL"
    assert err_text(x(c, "tm.stream", "del", "s", "r", "1-1")) == "ERR StreamDelete: EBADF"
    assert err_text(x(c, "tm.stream", "del", "nokey", "r", "1-1")) == "ERR StreamDelete: EINVAL"
    assert err_text(x(c, "tm.stream", "del", "nokey", "w", "1-1")) == "ERR StreamDelete: ENOTSUP"
    x(c, "SET", "str", "v")
    assert err_text(x(c, "tm.stream", "del", "str", "w", "1-1")) == "ERR StreamDelete: ENOTSUP"
    assert x(c, "XRANGE", "s", "-", "+") == [entry(1), entry(3)]
    # The first entry: the recorded first ID and the greatest deleted ID
    # stay as they were (XDEL moves both).
    assert x(c, "tm.stream", "del", "s", "w", "1-1") == "OK"
    info = xinfo(c, "s")
    assert (info[b"length"], info[b"max-deleted-entry-id"], info[b"recorded-first-entry-id"],
            info[b"first-entry"]) == (1, b"0-0", b"1-1", entry(3))
    assert x(c, "tm.stream", "del", "s", "w", "3-1") == "OK"
    assert (x(c, "EXISTS", "s"), x(c, "XLEN", "s")) == (1, 0)  # an empty stream stays
    assert xinfo(c, "s")[b"recorded-first-entry-id"] == b"1-1"
    fill(c, "x", 2)
    assert x(c, "XDEL", "x", "1-1") == 1
    info = xinfo(c, "x")
    assert (info[b"max-deleted-entry-id"], info[b"recorded-first-entry-id"]) == (b"1-1", b"2-1")


# ---------------------------------------------------------------- the iterator


def walk(conn, key, flags="0", start="null", end="null", mode="r"):
    r = x(conn, "tm.stream", "iter", key, mode, flags, start, end, "all")
    assert r[0] == "OK", r
    return r[1]


def test_stream_iterator_ranges(c):
    fill(c, "s", 5)
    x(c, "XADD", "s", "6-0", "c", "6")
    last = [b"6-0", [b"c", b"6"]]
    every = [entry(i) for i in range(1, 6)] + [last]
    assert walk(c, "s") == every
    assert walk(c, "s", REV) == every[::-1]
    assert walk(c, "s", "0", "2-1", "5-1") == every[1:5]
    assert walk(c, "s", EXCL, "2-1", "5-1") == every[2:4]
    assert walk(c, "s", str(int(EXCL) | int(REV)), "2-1", "5-1") == every[2:4][::-1]
    assert walk(c, "s", REV, "2-1", "5-1") == every[1:5][::-1]
    assert walk(c, "s", "0", "3") == every[2:]  # 3-0 .. the end
    assert walk(c, "s", "0", "null", "3") == every[:2]  # .. 3-0
    assert walk(c, "s", "0", "5-1", "2-1") == []
    assert walk(c, "s", EXCL, "3-1", "4-1") == []
    assert walk(c, "s", EXCL, "0-0", "+") == every
    assert walk(c, "s", EXCL, "-", "+") == every
    for bounds in (("+", "null"), ("null", "0-0"), ("+", "0-0")):
        assert x(c, "tm.stream", "iter", "s", "r", EXCL, *bounds, "next") == ["EDOM", "EBADF"], bounds
    assert x(c, "tm.stream", "iter", "s", "r", "4", "null", "null", "next") == ["EINVAL", "EBADF"]
    assert x(c, "tm.stream", "iter", "nokey", "r", "0", "null", "null", "next", "stop") == ["EINVAL"] * 3
    assert x(c, "tm.stream", "iter", "nokey", "w", "0", "null", "null", "next", "stop") == ["ENOTSUP"] * 3
    x(c, "SET", "str", "v")
    assert x(c, "tm.stream", "iter", "str", "r", "0", "null", "null", "next", "field", "del", "stop") == \
        ["ENOTSUP"] * 5


def test_stream_iterator_steps(c):
    fill(c, "s", 3)
    x(c, "XADD", "s", "4-0", "c", "4")
    assert x(c, "tm.stream", "iter", "s", "r", "0", "null", "null", "field", "next", "field", "fieldnull",
             "field", "next", "fields", "nextnull", "fields", "next", "fields", "next", "field", "next") == [
        "OK", "ENOENT", [b"1-1", 2], [b"a", b"1"], "OK", "ENOENT", [b"2-1", 2], [b"a", b"2", b"b", b"x2"], "OK",
        [b"a", b"3", b"b", b"x3"], [b"4-0", 1], [b"c", b"4"], "ENOENT", "ENOENT", "ENOENT"]
    # Start, Stop and the state between them.
    assert x(c, "tm.stream", "iter", "s", "r", "0", "null", "null", "start", "0", "null", "null", "next", "fields",
             "stop", "next", "stop", "field", "start", REV, "null", "null", "next") == [
        "OK", "EBADF", [b"1-1", 2], [b"a", b"1", b"b", b"x1"], "OK", "EBADF", "EBADF", "EBADF", "OK", [b"4-0", 1]]


def test_stream_iterator_delete(c):
    fill(c, "s", 6)
    # Delete with nothing current, twice, after a delete; StreamDelete
    # while the iterator runs; on to the next entry after each delete.
    assert x(c, "tm.stream", "iter", "s", "w", "0", "null", "null", "del", "next", "del", "del", "next", "field",
             "sdel", "3-1", "fields", "next", "del", "next", "fields") == [
        "OK", "ENOENT", [b"1-1", 2], "OK", "ENOENT", [b"2-1", 2], [b"a", b"2"], "EBADF", [b"b", b"x2"],
        [b"3-1", 2], "OK", [b"4-1", 2], [b"a", b"4", b"b", b"x4"]]
    assert x(c, "XRANGE", "s", "-", "+") == [entry(i) for i in (2, 4, 5, 6)]
    # Backwards, deleting every other entry.
    assert x(c, "tm.stream", "iter", "s", "w", REV, "null", "null", "next", "fields", "del", "next", "fields",
             "next", "fields", "del", "all") == [
        "OK", [b"6-1", 2], [b"a", b"6", b"b", b"x6"], "OK", [b"5-1", 2], [b"a", b"5", b"b", b"x5"], [b"4-1", 2],
        [b"a", b"4", b"b", b"x4"], "OK", [entry(2)]]
    assert x(c, "XRANGE", "s", "-", "+") == [entry(2), entry(5)]
    # At the end nothing is current; a READ key refuses; the end stays.
    assert x(c, "tm.stream", "iter", "s", "w", "0", "null", "null", "all", "next", "field", "del") == \
        ["OK", [entry(2), entry(5)], "ENOENT", "ENOENT", "ENOENT"]
    assert x(c, "tm.stream", "iter", "s", "r", "0", "null", "null", "next", "del") == ["OK", [b"2-1", 2], "EBADF"]
    # Emptied by the iterator: the key stays, an empty stream.
    assert x(c, "tm.stream", "iter", "s", "w", "0", "null", "null", "next", "del", "next", "del", "next") == \
        ["OK", [b"2-1", 2], "OK", [b"5-1", 2], "OK", "ENOENT"]
    assert (x(c, "EXISTS", "s"), x(c, "XLEN", "s")) == (1, 0)


def test_stream_iterator_over_blocks(c):
    """Walks and deletes across many blocks of a long stream (the key
    closed with its iterator still running each time)."""
    x(c, "CONFIG", "SET", "stream-node-max-entries", "7")
    try:
        for i in range(1, 101):
            x(c, "XADD", "s", "%d-1" % i, "n", str(i), *(["odd", "1"] if i % 2 else []))
        got = walk(c, "s", REV, "11-1", "90-1")
        assert [e[0] for e in got] == [b"%d-1" % i for i in range(90, 10, -1)]
        assert got[0] == [b"90-1", [b"n", b"90"]] and got[1] == [b"89-1", [b"n", b"89", b"odd", b"1"]]
        steps = []
        for _ in range(30):
            steps += ["next", "fields", "del", "next", "fields"]
        r = x(c, "tm.stream", "iter", "s", "w", "0", "5-1", "null", *steps)
        assert r[0] == "OK" and r.count("OK") == 31
        kept = [int(e[0].split(b"-")[0]) for e in x(c, "XRANGE", "s", "-", "+")]
        assert kept == list(range(1, 5)) + list(range(6, 65, 2)) + list(range(65, 101))
    finally:
        x(c, "CONFIG", "SET", "stream-node-max-entries", "100")


# ---------------------------------------------------------------- trimming


def test_stream_trim(c):
    x(c, "CONFIG", "SET", "stream-node-max-entries", "3")
    try:
        fill(c, "s", 20, fields=("f",))
        # Whole blocks of 3 only with APPROX.
        assert x(c, "tm.stream", "trimlen", "s", "w", APPROX, "15") == 3
        assert x(c, "tm.stream", "trimlen", "s", "w", APPROX, "10") == 6
        assert x(c, "tm.stream", "trimlen", "s", "w", "0", "10") == 1
        assert x(c, "tm.stream", "trimlen", "s", "w", "0", "7") == 3
        assert x(c, "tm.stream", "trimid", "s", "w", APPROX, "17-0") == 2
        assert x(c, "tm.stream", "trimid", "s", "w", "0", "17-0") == 1
        assert x(c, "tm.stream", "trimid", "s", "w", "0", "17-0") == 0
        assert x(c, "XRANGE", "s", "-", "+") == [[b"%d-1" % i, [b"f", b"%d" % i]] for i in range(17, 21)]
        assert xinfo(c, "s")[b"recorded-first-entry-id"] == b"17-1"
        assert x(c, "tm.stream", "trimid", "s", "w", "0", "+") == 4
        info = xinfo(c, "s")
        assert (info[b"length"], info[b"recorded-first-entry-id"], info[b"max-deleted-entry-id"]) == \
            (0, b"0-0", b"0-0")
        # Errors.
        for args, want in [(("trimlen", "s", "w", "2", "1"), "StreamTrimByLength: EINVAL"),
                           (("trimlen", "s", "w", "0", "-1"), "StreamTrimByLength: EINVAL"),
                           (("trimlen", "s", "r", "0", "1"), "StreamTrimByLength: EBADF"),
                           (("trimlen", "nokey", "w", "0", "1"), "StreamTrimByLength: ENOTSUP"),
                           (("trimlen", "nokey", "r", "0", "1"), "StreamTrimByLength: EINVAL"),
                           (("trimid", "s", "w", "0", "null"), "StreamTrimByID: EINVAL"),
                           (("trimid", "s", "w", "4", "1-1"), "StreamTrimByID: EINVAL"),
                           (("trimid", "s", "r", "0", "1-1"), "StreamTrimByID: EBADF")]:
            assert err_text(x(c, "tm.stream", *args)) == "ERR " + want, args
        x(c, "SET", "str", "v")
        assert err_text(x(c, "tm.stream", "trimid", "str", "w", "0", "1")) == "ERR StreamTrimByID: ENOTSUP"
        # APPROX removes at most 100 blocks' worth (none when blocks are unbounded).
        x(c, "CONFIG", "SET", "stream-node-max-entries", "1")
        fill(c, "t", 150, fields=("f",))
        assert x(c, "tm.stream", "trimlen", "t", "w", APPROX, "0") == 100
        assert x(c, "tm.stream", "trimlen", "t", "w", "0", "0") == 50
        x(c, "CONFIG", "SET", "stream-node-max-entries", "0")
        fill(c, "u", 20, fields=("f",))
        assert x(c, "tm.stream", "trimlen", "u", "w", APPROX, "3") == 0
        assert x(c, "tm.stream", "trimlen", "u", "w", "0", "3") == 17
    finally:
        x(c, "CONFIG", "SET", "stream-node-max-entries", "100")


def test_stream_id_strings(c):
    for s, want in [("-", b"0-0"), ("+", MAX.encode()), ("5", b"5-0"), ("5-3", b"5-3"), (" 5-3", b"5-3"),
                    ("18446744073709551615-0", b"18446744073709551615-0")]:
        assert x(c, "tm.stream", "conv", s) == want, s
    for s in ["5-*", "abc", "", "18446744073709551616", "1-2-3", "-5"]:
        assert err_text(x(c, "tm.stream", "conv", s)) == "ERR invalid stream ID", s


# ---------------------------------------------------------------- against Redis 7.0


def stream_commands():
    """The commands test_stream_differential runs on both servers."""
    out = [("CONFIG", "SET", "stream-node-max-entries", "4")]
    for i in range(1, 31):
        out.append(("XADD", "s", "%d-1" % i, "k", str(i), *(["j", str(i * i)] if i % 3 else [])))
    out += [
        ("tm.stream", "add", "s", "w", "0", "31", "k", "31", "j", "x"), ("tm.stream", "add", "s", "w", "0", "31-0"),
        ("tm.stream", "add", "s", "w", "0", "32-7"), ("tm.stream", "add", "s", "w", "0", "32-8", "k", ""),
        ("tm.stream", "add", "s", "w", "0", "33-0"),
        ("tm.stream", "add", "s", "r", "0", "40", "k", "1"), ("tm.stream", "add", "n", "w", "0", "1", "k", "1"),
        ("tm.stream", "iter", "s", "r", "0", "null", "null", "all"),
        ("tm.stream", "iter", "s", "r", REV, "10-1", "25", "all"),
        ("tm.stream", "iter", "s", "r", "3", "10-1", "25", "all"),
        ("tm.stream", "iter", "s", "w", "0", "5-1", "12-1", "next", "fields", "del", "next", "fields", "next",
         "fields", "del", "next", "fields", "del", "all"),
        ("tm.stream", "del", "s", "w", "1-1"), ("tm.stream", "del", "s", "w", "6-1"),
        ("tm.stream", "del", "s", "w", "32-7"), ("XINFO", "STREAM", "s"),
        ("XRANGE", "s", "-", "+"), ("XLEN", "s"),
        ("tm.stream", "trimlen", "s", "w", APPROX, "20"), ("XINFO", "STREAM", "s"),
        ("tm.stream", "trimid", "s", "w", APPROX, "20-0"), ("tm.stream", "trimid", "s", "w", "0", "20-0"),
        ("XINFO", "STREAM", "s"), ("XRANGE", "s", "-", "+"),
        ("XGROUP", "CREATE", "s", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">"),
        ("tm.stream", "del", "s", "w", "22-1"), ("XINFO", "GROUPS", "s"),
        ("DEBUG", "RELOAD"), ("XRANGE", "s", "-", "+"), ("XINFO", "STREAM", "s"), ("XINFO", "GROUPS", "s"),
        ("tm.stream", "add", "s", "w", "0", "+"), ("tm.stream", "add", "s", "w", AUTOID, "null", "k", "1"),
        ("XINFO", "STREAM", "s"), ("tm.stream", "conv", "7"), ("tm.stream", "conv", "+"),
        ("CONFIG", "SET", "stream-node-max-entries", "100"),
    ]
    return out


@pytest.mark.parametrize("proto", [2, 3])
def test_stream_differential(msrv, mref, proto):
    k, r = typed(msrv, proto), typed(mref, proto)
    for conn in (k, r):
        assert conn.call("FLUSHALL") == "OK"
    done = []
    for args in stream_commands():
        got = [dbl(tplain(conn.call(*args))) for conn in (k, r)]
        if args[:2] == ("XINFO", "STREAM"):
            got = [info_without_index(g) for g in got]
        done.append(args)
        assert got[0] == got[1], "reply to %r differs (RESP%d):\n  keel:  %r\n  redis: %r\nafter %r" % (
            args, proto, got[0], got[1], done[-6:-1])
    k.close()
    r.close()


def info_without_index(reply):
    """XINFO STREAM's reply (a flat array or RESP3 map pairs) without the
    index's shape, nor Redis 8.6's idempotent-production fields."""
    drop = (b"radix-tree-keys", b"radix-tree-nodes", b"idmp-duration", b"idmp-maxsize", b"pids-tracked",
            b"iids-tracked", b"iids-added", b"iids-duplicates")
    if isinstance(reply, list):
        pairs = list(zip(reply[0::2], reply[1::2]))
        return [kv for kv in pairs if kv[0] not in drop]
    if hasattr(reply, "value"):
        return [kv for kv in reply.value if kv[0] not in drop]
    return reply


# ---------------------------------------------------------------- propagation


def aof_incr_commands(server):
    out = []
    for path in sorted(glob.glob(os.path.join(server.dir, "appendonlydir", "*.incr.aof"))):
        with open(path, "rb") as f:
            out += [[a.decode() for a in cmd] for cmd in parse_commands(f.read())]
    return [cmd for cmd in out if cmd[0] != "SELECT"]


def rewrite_done(conn):
    info = x(conn, "INFO", "persistence").decode()
    return "aof_rewrite_in_progress:0" in info and "aof_rewrite_scheduled:0" in info


def test_stream_writes_reach_the_aof_only_replicated(so):
    s = Server(*BASE, "--appendonly", "yes", "--appendfsync", "always", "--aof-use-rdb-preamble", "no",
               *loadmodule(so))
    try:
        conn = RespConn(s)
        poll(lambda: rewrite_done(conn), "the first AOF rewrite")
        assert x(conn, "tm.stream", "add", "s", "w", "0", "5-1", "f", "v") == b"5-1"
        rid = x(conn, "tm.stream", "addrep", "s", "f", "w", "g", "z")
        assert x(conn, "tm.stream", "del", "s", "w", "5-1") == "OK"
        assert x(conn, "tm.stream", "trimlen", "s", "w", "0", "0") == 1
        assert x(conn, "SET", "marker", "1") == "OK"
        assert aof_incr_commands(s) == [["XADD", "s", rid.decode(), "f", "w", "g", "z"], ["SET", "marker", "1"]]
        conn.close()
    finally:
        s.stop()


def test_stream_entry_without_fields_in_aof_rewrite(so):
    """No XADD can remake an entry without fields: the rewrite leaves it
    out (Redis 7.0 writes an XADD that fails on replay and is dropped), the
    rest of the stream comes back."""
    s = Server(*BASE, "--appendonly", "yes", "--aof-use-rdb-preamble", "no", *loadmodule(so))
    try:
        conn = RespConn(s)
        poll(lambda: rewrite_done(conn), "the first AOF rewrite")
        assert x(conn, "tm.stream", "add", "s", "w", "0", "1-0") == b"1-0"
        fill(conn, "s", 3)
        x(conn, "XDEL", "s", "1-1")
        assert x(conn, "tm.stream", "add", "s", "w", "0", "4-1") == b"4-1"
        assert x(conn, "XRANGE", "s", "-", "+") == [[b"1-0", []], entry(2), entry(3), [b"4-1", []]]
        x(conn, "BGREWRITEAOF")
        time.sleep(0.1)
        poll(lambda: rewrite_done(conn), "the AOF rewrite")
        assert x(conn, "DEBUG", "LOADAOF") == "OK"
        assert x(conn, "XRANGE", "s", "-", "+") == [entry(2), entry(3)]
        info = xinfo(conn, "s")
        assert (info[b"last-generated-id"], info[b"entries-added"], info[b"max-deleted-entry-id"]) == \
            (b"4-1", 5, b"1-1")
        conn.close()
    finally:
        s.stop()


@pytest.mark.parametrize("kinds", [kinds_param("keel", "keel"), kinds_param("redis", "keel"),
                                   kinds_param("keel", "redis")])
def test_stream_writes_replicated(cluster, so, kinds):
    primary = cluster.start(kinds[0], *loadmodule(so))
    replica = cluster.start(kinds[1], *loadmodule(so))
    p = conn_of(primary)
    # Before the replica attaches: in the full sync's RDB.
    assert x(p, "tm.stream", "add", "s:before", "w", "0", "1-1", "f", "v") == b"1-1"
    x(p, "tm.stream", "add", "s:before", "w", "0", "2-1")
    replicate(primary, replica)
    q = conn_of(replica)
    # After: only what the module replicates.
    ids = [x(p, "tm.stream", "addrep", "s:rep", "n", str(i)) for i in range(3)]
    assert x(p, "tm.stream", "add", "s:local", "w", "0", "1-1", "f", "v") == b"1-1"
    assert x(p, "tm.stream", "add", "s:rep", "w", AUTOID, "null", "not", "replicated") == "OK"
    wait_in_sync(primary, replica)
    assert x(q, "XRANGE", "s:before", "-", "+") == [[b"1-1", [b"f", b"v"]], [b"2-1", []]]
    assert [e[0] for e in x(q, "XRANGE", "s:rep", "-", "+")] == ids
    assert x(q, "EXISTS", "s:local") == 0
    assert x(p, "XLEN", "s:rep") == 4
    p.close()
    q.close()


# ---------------------------------------------------------------- aux data


def aux_log(conn):
    return [e.decode() for e in x(conn, "tm.aux", "log")]


def saved(when, value):
    return "save when=%d value=%s" % (when, value)


def loaded(when, value):
    return "load when=%d encver=2 saved_when=%d value=%s signed=%d double=%g float=%g error=0" % (
        when, when, value, -7 * when, when + 0.5, 0.25 * when)


@pytest.fixture(scope="module")
def auxsrv(so):
    s = Server(*BASE, *loadmodule(so, "aux"))
    yield s
    s.stop()


def test_aux_save_and_debug_reload(auxsrv):
    conn = RespConn(auxsrv)
    aux_log(conn)
    assert x(conn, "tm.aux", "set", "first") == "OK"
    assert x(conn, "SET", "k", "v") == "OK"
    assert x(conn, "SAVE") == "OK"
    assert aux_log(conn) == [saved(1, "first"), saved(2, "first")]
    assert x(conn, "tm.aux", "set", "second") == "OK"
    assert x(conn, "DEBUG", "RELOAD") == "OK"
    assert aux_log(conn) == [saved(1, "second"), saved(2, "second"), loaded(1, "second"), loaded(2, "second")]
    assert (x(conn, "tm.aux", "get"), x(conn, "GET", "k")) == (b"second", b"v")
    # Without keys: the records still come, around no data.
    assert x(conn, "FLUSHALL") == "OK"
    assert x(conn, "DEBUG", "RELOAD") == "OK"
    assert aux_log(conn) == [saved(1, "second"), saved(2, "second"), loaded(1, "second"), loaded(2, "second")]
    conn.close()


def test_aux_not_registered_without_the_argument(c):
    assert err_text(x(c, "tm.aux", "set", "v")) == "ERR tmauxtype is not registered (load with aux)"
    assert x(c, "SAVE") == "OK"
    assert x(c, "tm.aux", "log") == []


@pytest.mark.parametrize("arg,whens", [("auxbefore", [1]), ("auxafter", [2])])
def test_aux_triggers(spawn, so, arg, whens):
    n = spawn(SERVER, None, *loadmodule(so, arg))
    conn = conn_of(n)
    x(conn, "tm.aux", "set", "only")
    x(conn, "HSET", "h", "f", "v")
    assert x(conn, "DEBUG", "RELOAD") == "OK"
    assert aux_log(conn) == [saved(w, "only") for w in whens] + [loaded(w, "only") for w in whens]
    conn.close()


@pytest.mark.parametrize("writer,reader", [("keel", "redis"), ("redis", "keel"), ("keel", "keel")])
@pytest.mark.parametrize("how", ["SAVE", "BGSAVE"])
def test_aux_rdb_across_servers(spawn, so, writer, reader, how):
    if "redis" in (writer, reader) and not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    bins = {"keel": SERVER, "redis": REDIS_BIN}
    w = spawn(bins[writer], None, *loadmodule(so, "aux"))
    conn = conn_of(w)
    x(conn, "tm.aux", "set", "from-" + writer)
    x(conn, "tm.tadd", "t", "1", "1.5", "typed")
    fill(conn, "s", 3)
    if how == "SAVE":
        assert x(conn, "SAVE") == "OK"
    else:
        x(conn, "BGSAVE")

        def saved():
            info = x(conn, "INFO", "persistence")
            return b"rdb_bgsave_in_progress:0" in info and b"rdb_changes_since_last_save:0" in info

        poll(saved, "the BGSAVE")
    conn.close()
    d = mkdir()
    shutil.copy(w.rdb, os.path.join(d, "dump.rdb"))
    r = spawn(bins[reader], d, *loadmodule(so, "aux"))
    conn = conn_of(r)
    value = "from-" + writer
    assert aux_log(conn) == [loaded(1, value), loaded(2, value)]
    assert x(conn, "tm.aux", "get") == value.encode()
    assert x(conn, "XRANGE", "s", "-", "+") == [entry(i) for i in (1, 2, 3)]
    assert dbl(x(conn, "tm.tget", "t")) == [[1, 1.5, 1.5, b"typed"]]
    conn.close()


@pytest.mark.parametrize("binary", ["keel", "redis"])
@pytest.mark.parametrize("problem", ["no type", "aux_load fails"])
def test_aux_rdb_refused(spawn, so, binary, problem):
    if binary == "redis" and not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    w = spawn(SERVER, None, *loadmodule(so, "aux"))
    conn = conn_of(w)
    x(conn, "tm.aux", "set", "fail" if problem == "aux_load fails" else "fine")
    assert x(conn, "SAVE") == "OK"
    conn.close()
    d = mkdir()
    shutil.copy(w.rdb, os.path.join(d, "dump.rdb"))
    args = loadmodule(so) if problem == "no type" else loadmodule(so, "aux")
    rc, log = start_expect_failure({"keel": SERVER, "redis": REDIS_BIN}[binary], d, *args)
    assert rc >= 0, "server died from signal %d:\n%s" % (-rc, log[-3000:])
    assert "tmauxtype" in log, log[-3000:]


def aux_record(name, encver):
    """The start of a module's aux record: the opcode (247), then the type's
    64-bit id (9 letters of 6 bits, the encoding version's 10 bits) as an
    RDB length (0x81 and 8 big-endian bytes)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    mid = 0
    for ch in name:
        mid = (mid << 6) | alphabet.index(ch)
    return b"\xf7\x81" + ((mid << 10) | encver).to_bytes(8, "big")


@pytest.mark.skipif(SERVER.endswith("redis-server"), reason="aux_save2 is Redis 7.2's")
def test_aux_save2_writes_a_record_only_with_data(spawn, so):
    """aux_save2 (Redis 7.2): a type that wrote nothing leaves no record,
    so the file loads where the module is missing, even in Redis 7.0; once
    it writes, the record is there as aux_save's would be."""
    w = spawn(SERVER, None, *loadmodule(so, "aux2"))
    conn = conn_of(w)
    x(conn, "SET", "k", "v")
    assert x(conn, "SAVE") == "OK"
    assert aux_log(conn) == []
    d = mkdir()
    shutil.copy(w.rdb, os.path.join(d, "dump.rdb"))
    with open(w.rdb, "rb") as f:
        assert aux_record("tmauxtype", 2) not in f.read()
    readers = [SERVER] + ([REDIS_BIN] if HAVE_REDIS else [])
    for binary in readers:
        r = spawn(binary, d, *loadmodule(so))
        rc = conn_of(r)
        assert x(rc, "GET", "k") == b"v"
        rc.close()
        r.stop()
    x(conn, "tm.aux", "set", "kept")
    assert x(conn, "SAVE") == "OK"
    assert aux_log(conn) == [saved(1, "kept"), saved(2, "kept")]
    with open(w.rdb, "rb") as f:
        assert f.read().count(aux_record("tmauxtype", 2)) == 2
    conn.close()
    d = mkdir()
    shutil.copy(w.rdb, os.path.join(d, "dump.rdb"))
    code, log = start_expect_failure(SERVER, d, *loadmodule(so))
    assert code >= 0 and "tmauxtype" in log, log[-3000:]
    r = spawn(SERVER, d, *loadmodule(so, "aux"))
    rc = conn_of(r)
    assert aux_log(rc) == [loaded(1, "kept"), loaded(2, "kept")]
    assert x(rc, "tm.aux", "get") == b"kept"
    rc.close()


@pytest.mark.parametrize("kinds", [kinds_param("keel", "keel"), kinds_param("redis", "keel"),
                                   kinds_param("keel", "redis")])
def test_aux_in_full_sync(cluster, so, kinds):
    primary = cluster.start(kinds[0], *loadmodule(so, "aux"))
    replica = cluster.start(kinds[1], *loadmodule(so, "aux"))
    p, q = conn_of(primary), conn_of(replica)
    x(p, "tm.aux", "set", "from-primary")
    x(p, "SET", "k", "v")
    aux_log(q)
    replicate(primary, replica)
    wait_in_sync(primary, replica)
    assert aux_log(q) == [loaded(1, "from-primary"), loaded(2, "from-primary")]
    assert (x(q, "tm.aux", "get"), x(q, "GET", "k")) == (b"from-primary", b"v")
    p.close()
    q.close()


@pytest.mark.parametrize("writer,reader", [("keel", "redis"), ("redis", "keel")])
def test_aux_in_aof_preamble(spawn, so, writer, reader):
    if not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    bins = {"keel": SERVER, "redis": REDIS_BIN}
    args = ["--appendonly", "yes", "--aof-use-rdb-preamble", "yes", *loadmodule(so, "aux")]
    w = spawn(bins[writer], None, *args)
    conn = conn_of(w)
    poll(lambda: rewrite_done(conn), "the first AOF rewrite")
    x(conn, "tm.aux", "set", "in-preamble")
    x(conn, "SET", "k", "v")
    x(conn, "BGREWRITEAOF")
    time.sleep(0.1)
    poll(lambda: rewrite_done(conn), "the AOF rewrite")
    conn.close()
    d = mkdir()
    shutil.copytree(w.path("appendonlydir"), os.path.join(d, "appendonlydir"))
    r = spawn(bins[reader], d, *args)
    conn = conn_of(r)
    assert aux_log(conn) == [loaded(1, "in-preamble"), loaded(2, "in-preamble")]
    assert (x(conn, "tm.aux", "get"), x(conn, "GET", "k")) == (b"in-preamble", b"v")
    conn.close()
