"""The module API's data-type functions Keel added last: a value to and from
a string (SaveDataTypeToString, LoadDataTypeFromString(Encver)), the key
and db of an IO (GetDbIdFromIO) and of a digest (GetKeyNameFromDigest,
GetDbIdFromDigest), and the type callbacks that learn a key's fate: unlink
and free_effort (method version 3), mem_usage2, free_effort2, unlink2 and
copy2 (version 4) with GetKeyNameFromOptCtx, GetToKeyNameFromOptCtx,
GetDbIdFromOptCtx and GetToDbIdFromOptCtx; and Yield, by which a type's
rdb_load lets the server serve clients during a long load.

testmod's commands of its "API coverage: data type callbacks" section
(tests/modules/testmod.c: tm.dt, types testtype4 and testtype3) call them.
Every test here passes against Redis 7.0 too
(KEEL_SERVER=/usr/bin/redis-server).

Redis 7.0 behaviour the tests rely on (found by running them on it):
- SaveDataTypeToString gives what rdb_save writes, each item after its
  opcode, without the type's id or the EOF opcode; long strings in it are
  LZF-compressed as rdbcompression says. Loading runs rdb_load with no key
  (NULL) and db -1; LoadDataTypeFromString passes encver 0.
- GetDbIdFromIO is the key's db when an RDB file, DEBUG RELOAD, DUMP,
  RESTORE or an AOF rewrite saves or loads it.
- a type with the version 4 callbacks gets them, never its version 3
  unlink, free_effort and copy, nor mem_usage; a version 3 type's version
  4 fields are not read.
- unlink(2) runs when a key holding a module value leaves the keyspace:
  DEL, UNLINK, an overwrite (SET, a module's ModuleTypeSetValue, COPY ...
  REPLACE, RENAME onto it), expiry, and also RENAME and MOVE for the key
  moved away (after the target's value, on RENAME). Never for FLUSHALL,
  FLUSHDB or SWAPDB. Its context has no target key (NULL, db -1).
- copy2 is told both keys and dbs; a copy callback that returns NULL fails
  COPY with "ERR module key failed to copy".
- MEMORY USAGE tells mem_usage2 its SAMPLES count (5 by default, LLONG_MAX
  for 0).
- a value whose free effort is above 64 (or 0, "too much to count") is
  freed by the lazy-free thread and counts in INFO's lazyfreed_objects.
- Yield inside rdb_load during DEBUG RELOAD serves clients: INFO says
  loading:1, PING hears -LOADING, an allow-loading module command runs;
  the DEBUG RELOAD caller gets its OK once the load ends.

Deliberate difference: Keel frees every big value on its lazy-free thread,
whatever the lazyfree-lazy-* settings say (Redis 7.0 frees a value
synchronously on DEL, expiry and overwrite unless the matching setting is
yes); test_lazy_free_by_free_effort skips that one assertion on Redis.
"""
import os
import time

from conftest import REDIS_BIN, SERVER, Server
from module_util import err_text, loadmodule, poll, x
from resp_client import RespConn
from test_modules import BASE, c, msrv, so  # noqa: F401 - fixtures
from test_modules_api2 import aof_commands, rewrite_done

ON_REDIS = os.path.realpath(SERVER) == os.path.realpath(REDIS_BIN)


def dtlog(conn):
    return [e.decode() for e in x(conn, "tm.dt", "log")]


def lazyfreed(conn):
    for line in x(conn, "INFO", "memory").decode().splitlines():
        if line.startswith("lazyfreed_objects:"):
            return int(line.split(":")[1])
    raise AssertionError("no lazyfreed_objects in INFO memory")


def usage(conn, key, *samples):
    return x(conn, "MEMORY", "USAGE", key, *(("SAMPLES",) + samples if samples else ()))


# ---------------------------------------------------------------- to and from a string


def test_save_to_string_and_load_back(c):
    x(c, "tm.dt", "log")
    assert x(c, "tm.dt", "set4", "k", "100") == "OK"
    dump = x(c, "tm.dt", "dump", "k")
    # SaveSigned as an unsigned item (opcode 2, 100 in two bytes), then the
    # string (opcode 5); neither the type id nor an EOF opcode.
    assert dump == b"\x02\x40\x64\x05\x034@k"
    assert dtlog(c) == ["save key=(null) db=-1"]
    assert x(c, "tm.dt", "restore", "k2", dump, "7") == "OK"
    assert x(c, "tm.dt", "get", "k2") == [100, b"4@k"]
    assert x(c, "tm.dt", "restore", "k3", dump) == "OK"
    assert dtlog(c) == ["load key=(null) db=-1 encver=7", "load key=(null) db=-1 encver=0"]
    assert x(c, "tm.dt", "get", "k3") == [100, b"4@k"]


def test_string_form_compresses_as_rdbcompression_says(c):
    origin = "ab" * 100
    assert x(c, "tm.dt", "set4", "k", "3", origin) == "OK"
    try:
        compressed = x(c, "tm.dt", "dump", "k")
        assert len(compressed) < 40  # LZF: 200 bytes of "ab" shrink
        assert x(c, "CONFIG", "SET", "rdbcompression", "no") == "OK"
        plain = x(c, "tm.dt", "dump", "k")
    finally:
        x(c, "CONFIG", "SET", "rdbcompression", "yes")
    assert plain == b"\x02\x03\x05\x40\xc8" + origin.encode()
    for payload in (compressed, plain):
        assert x(c, "tm.dt", "restore", "k2", payload, "1") == "OK"
        assert x(c, "tm.dt", "get", "k2") == [3, origin.encode()]


def test_load_from_a_bad_string_fails_cleanly(c):
    # HANDLE_IO_ERRORS: Redis stops the process at a read error otherwise.
    assert x(c, "tm.options") == "OK"
    assert x(c, "tm.dt", "set4", "k", "100") == "OK"
    dump = x(c, "tm.dt", "dump", "k")
    x(c, "tm.dt", "log")
    for bad in (dump[:-1], dump[:3], b"", b"\x05\x01a\x02\x01", b"\xff\xff\xff"):
        assert err_text(x(c, "tm.dt", "restore", "k2", bad, "1")) == "ERR Invalid payload", bad
    assert x(c, "EXISTS", "k2") == 0
    assert dtlog(c) == ["load key=(null) db=-1 encver=1"] * 5
    assert x(c, "PING") == "PONG"


# ---------------------------------------------------------------- the db of an IO and a digest


def test_db_id_from_io_in_rdb_dump_and_restore(c):
    x(c, "tm.dt", "log")
    x(c, "SELECT", "2")
    assert x(c, "tm.dt", "set4", "k", "5") == "OK"
    assert x(c, "DEBUG", "RELOAD") == "OK"
    assert dtlog(c) == ["save key=k db=2", "load key=k db=2 encver=1"]
    assert x(c, "tm.dt", "get", "k") == [5, b"4@k"]
    payload = x(c, "DUMP", "k")
    x(c, "SELECT", "4")
    assert x(c, "RESTORE", "k", "0", payload) == "OK"
    assert dtlog(c) == ["save key=k db=2", "load key=k db=4 encver=1"]
    assert x(c, "tm.dt", "get", "k") == [5, b"4@k"]


def test_db_id_from_io_in_an_aof_rewrite(so):
    s = Server(*BASE, "--appendonly", "yes", "--aof-use-rdb-preamble", "no", *loadmodule(so))
    try:
        conn = RespConn(s)
        poll(lambda: rewrite_done(conn), "the first AOF rewrite")
        assert x(conn, "tm.dt", "set4", "a", "7") == "OK"
        x(conn, "SELECT", "3")
        assert x(conn, "tm.dt", "set3", "b", "8") == "OK"
        assert x(conn, "BGREWRITEAOF") in ("Background append only file rewriting started",
                                           b"Background append only file rewriting started")
        poll(lambda: rewrite_done(conn), "the AOF rewrite")
        base = aof_commands(s, "base")
        assert ["tm.dt", "set4", "a", "7", "aof:db0"] in base
        assert ["tm.dt", "set3", "b", "8", "aof:db3"] in base
        assert x(conn, "DEBUG", "LOADAOF") == "OK"
        assert x(conn, "tm.dt", "get", "b") == [8, b"3aof:db3"]
        x(conn, "SELECT", "0")
        assert x(conn, "tm.dt", "get", "a") == [7, b"aof:db0"]
        conn.close()
    finally:
        s.stop()


def test_digest_knows_key_and_db(c):
    x(c, "tm.dt", "log")
    assert x(c, "tm.dt", "set4", "k", "5", "same") == "OK"
    assert x(c, "tm.dt", "set4", "j", "5", "same") == "OK"
    dk, dj = x(c, "DEBUG", "DIGEST-VALUE", "k", "j")
    x(c, "SELECT", "1")
    assert x(c, "tm.dt", "set4", "k", "5", "same") == "OK"
    (dk1,) = x(c, "DEBUG", "DIGEST-VALUE", "k")
    assert dtlog(c) == ["digest key=k db=0", "digest key=j db=0", "digest key=k db=1"]
    # The key and the db are folded in: three different digests, the
    # same as Redis 7.0's for this data.
    assert (dk, dj, dk1) == ("5fe8e66fc8178564b2ca18633651709df5862fff", "fae5f9ec6df68c2652ffc0043d8aeff9bf68e5af",
                             "99712f48d48d62793b62c9999bc667a793fe334d")
    assert x(c, "DEBUG", "DIGEST") == "9328ab68335441e2f40144e60218b7395295adf0"
    assert sorted(dtlog(c)) == ["digest key=j db=0", "digest key=k db=0", "digest key=k db=1"]


# ---------------------------------------------------------------- unlink


def test_unlink2_when_a_key_leaves(c):
    x(c, "tm.dt", "log")
    for k in ("a", "b", "c", "d"):
        assert x(c, "tm.dt", "set4", k, "1") == "OK"
    assert x(c, "DEL", "a") == 1
    assert x(c, "UNLINK", "b") == 1
    assert x(c, "SET", "c", "v") == "OK"  # an overwrite
    assert x(c, "tm.dt", "set4", "d", "2") == "OK"  # ModuleTypeSetValue over a value
    assert dtlog(c) == ["unlink2 key=a db=0 to=(null)/-1", "unlink2 key=b db=0 to=(null)/-1",
                        "unlink2 key=c db=0 to=(null)/-1", "unlink2 key=d db=0 to=(null)/-1"]
    assert x(c, "tm.dt", "get", "d") == [2, b"4@d"]
    # Nothing for a key that is not there, nor for other types.
    assert x(c, "DEL", "a", "c") == 1
    assert dtlog(c) == []


def test_unlink2_on_rename_move_and_copy_replace(c):
    x(c, "tm.dt", "log")
    assert x(c, "tm.dt", "set4", "a", "1") == "OK"
    assert x(c, "tm.dt", "set4", "b", "1") == "OK"
    assert x(c, "RENAME", "a", "a2") == "OK"
    assert dtlog(c) == ["unlink2 key=a db=0 to=(null)/-1"]
    assert x(c, "RENAME", "a2", "b") == "OK"  # the target's value goes first
    assert dtlog(c) == ["unlink2 key=b db=0 to=(null)/-1", "unlink2 key=a2 db=0 to=(null)/-1"]
    assert x(c, "tm.dt", "get", "b") == [1, b"4@a"]
    assert x(c, "MOVE", "b", "3") == 1
    assert dtlog(c) == ["unlink2 key=b db=0 to=(null)/-1"]
    x(c, "SELECT", "3")
    assert x(c, "tm.dt", "set4", "c", "2") == "OK"
    assert x(c, "COPY", "c", "b", "REPLACE") == 1
    assert dtlog(c) == ["copy2 from=c/3 to=b/3", "unlink2 key=b db=3 to=(null)/-1"]
    assert x(c, "tm.dt", "get", "b") == [2, b"4@c"]


def test_unlink2_on_expiry_but_not_on_flush_or_swapdb(c):
    x(c, "tm.dt", "log")
    assert x(c, "tm.dt", "set4", "e", "1") == "OK"
    assert x(c, "PEXPIRE", "e", "1") == 1
    time.sleep(0.02)
    assert x(c, "EXISTS", "e") == 0
    assert dtlog(c) == ["unlink2 key=e db=0 to=(null)/-1"]
    for k in ("a", "b"):
        assert x(c, "tm.dt", "set4", k, "1") == "OK"
    x(c, "SELECT", "1")
    assert x(c, "tm.dt", "set4", "c", "1") == "OK"
    assert x(c, "SWAPDB", "0", "1") == "OK"
    assert x(c, "FLUSHDB") == "OK"
    assert x(c, "FLUSHALL") == "OK"
    assert dtlog(c) == []


def test_version3_callbacks(c):
    """testtype3 gives unlink, free_effort and copy (and an unlink2 its
    version, 3, leaves unread)."""
    x(c, "tm.dt", "log")
    x(c, "tm.dt", "lasteffort")
    assert x(c, "tm.dt", "set3", "a", "1") == "OK"
    assert x(c, "COPY", "a", "b") == 1
    assert x(c, "tm.dt", "get", "b") == [1, b"3@a"]
    assert x(c, "UNLINK", "a") == 1
    assert x(c, "tm.dt", "lasteffort") == [b"a", -1]
    assert x(c, "SET", "b", "v") == "OK"
    assert dtlog(c) == ["copy v3 from=a to=b", "unlink v3 key=a", "unlink v3 key=b"]


# ---------------------------------------------------------------- copy2 and mem_usage2


def test_copy2_gets_both_keys_and_dbs(c):
    x(c, "tm.dt", "log")
    assert x(c, "tm.dt", "set4", "k", "4") == "OK"
    assert x(c, "COPY", "k", "k2") == 1
    assert x(c, "COPY", "k", "k3", "DB", "2") == 1
    assert dtlog(c) == ["copy2 from=k/0 to=k2/0", "copy2 from=k/0 to=k3/2"]
    x(c, "SELECT", "2")
    assert x(c, "tm.dt", "get", "k3") == [4, b"4@k"]
    assert x(c, "tm.dt", "set4", "f", "4", "failcopy") == "OK"
    assert err_text(x(c, "COPY", "f", "g")) == "ERR module key failed to copy"
    assert dtlog(c) == ["copy2 from=f/2 to=g/2"]
    assert x(c, "EXISTS", "g") == 0
    # A type without copy callbacks (testtype1).
    assert x(c, "tm.tadd", "t", "1", "2", "s") == 1
    assert err_text(x(c, "COPY", "t", "t2")) == "ERR not supported for this module key"


def test_mem_usage2_gets_key_db_and_samples(c):
    x(c, "tm.dt", "log")
    assert x(c, "tm.dt", "set4", "k", "1") == "OK"
    base = usage(c, "k")
    # The sample count: 5 by default, as given, LLONG_MAX for 0 (999 here).
    assert usage(c, "k", "7") - base == 2
    assert usage(c, "k", "5") == base
    assert usage(c, "k", "0") - base == 994
    # The key: mem_usage2 adds 1000 while the key is the one it was set
    # under ("4@k"); a key of the same length after RENAME.
    assert x(c, "RENAME", "k", "j") == "OK"
    assert base - usage(c, "j") == 1000
    # The db: 1000000 per db number.
    assert x(c, "tm.dt", "set4", "m", "1", "same") == "OK"
    in0 = usage(c, "m")
    x(c, "SELECT", "3")
    assert x(c, "tm.dt", "set4", "m", "1", "same") == "OK"
    assert x(c, "tm.dt", "set4", "j", "1", "same") == "OK"
    assert usage(c, "m") - in0 == 3000000
    # mem_usage (version 1) is never asked when mem_usage2 is given.
    assert [e for e in dtlog(c) if e.startswith("mem")] == []


# ---------------------------------------------------------------- lazy freeing by free effort


def test_lazy_free_by_free_effort(c):
    x(c, "CONFIG", "RESETSTAT")
    x(c, "tm.dt", "lasteffort")
    x(c, "tm.dt", "log")
    assert lazyfreed(c) == 0
    assert x(c, "tm.dt", "set4", "a", "64") == "OK"
    assert x(c, "UNLINK", "a") == 1  # 64 is not above the threshold: freed at once
    assert x(c, "tm.dt", "lasteffort") == [b"a", 0]
    assert x(c, "tm.dt", "set4", "b", "65") == "OK"
    assert x(c, "UNLINK", "b") == 1
    assert x(c, "tm.dt", "lasteffort") == [b"b", 0]
    poll(lambda: lazyfreed(c) == 1, "b freed lazily")
    x(c, "SELECT", "5")
    assert x(c, "tm.dt", "set4", "z", "0") == "OK"  # 0: too much to count
    assert x(c, "UNLINK", "z") == 1
    assert x(c, "tm.dt", "lasteffort") == [b"z", 5]
    poll(lambda: lazyfreed(c) == 2, "z freed lazily")
    unlinked = "unlink2 key=%s db=%d to=(null)/-1"
    assert dtlog(c) == [unlinked % ("a", 0), unlinked % ("b", 0), unlinked % ("z", 5)]
    assert x(c, "tm.dt", "set3", "t", "100") == "OK"  # version 3's free_effort
    assert x(c, "UNLINK", "t") == 1
    assert x(c, "tm.dt", "lasteffort") == [b"t", -1]
    poll(lambda: lazyfreed(c) == 3, "t freed lazily")
    assert dtlog(c) == ["unlink v3 key=t"]
    # DEL: Redis 7.0 frees synchronously unless lazyfree-lazy-user-del is
    # yes; Keel frees a big value lazily on every path.
    assert x(c, "tm.dt", "set4", "d", "100") == "OK"
    assert x(c, "DEL", "d") == 1
    if not ON_REDIS:
        poll(lambda: lazyfreed(c) == 4, "d freed lazily")
    assert x(c, "CONFIG", "SET", "lazyfree-lazy-user-del", "yes") == "OK"
    try:
        before = lazyfreed(c)
        assert x(c, "tm.dt", "set4", "d", "100") == "OK"
        assert x(c, "DEL", "d") == 1
        assert x(c, "tm.dt", "lasteffort") == [b"d", 5]
        poll(lambda: lazyfreed(c) == before + 1, "d freed lazily")
    finally:
        x(c, "CONFIG", "SET", "lazyfree-lazy-user-del", "no")
    assert dtlog(c) == [unlinked % ("d", 5)] * 2


# ---------------------------------------------------------------- Yield while loading


def test_yield_serves_clients_during_a_load(c, msrv):
    assert x(c, "tm.dt", "set4", "k", "1") == "OK"
    assert x(c, "tm.dtyield", "slow", "1") == "OK"
    reloader = RespConn(msrv)
    try:
        reloader.send("DEBUG", "RELOAD")
        poll(lambda: x(c, "tm.dtyield", "state") == 1, "rdb_load waiting in Yield")
        assert err_text(x(c, "PING")) == "LOADING Redis is loading the dataset in memory"
        assert "loading:1" in x(c, "INFO", "persistence").decode().split()
        assert x(c, "tm.dtyield", "slow", "0") == "OK"
        assert reloader.read() == "OK"
    finally:
        x(c, "tm.dtyield", "slow", "0")
        reloader.close()
    assert x(c, "tm.dtyield", "state") == 0
    assert "loading:0" in x(c, "INFO", "persistence").decode().split()
    assert x(c, "PING") == "PONG"
    assert x(c, "tm.dt", "get", "k") == [1, b"4@k"]
