"""Redis 8.4's optimistic-locking string commands: SET ... IFEQ | IFNE |
IFDEQ | IFDNE, DELEX with the same conditions, DIGEST (XXH3, 16 hex
digits) and MSETEX. Behaviour and digests follow Redis 8.4's documentation
and test suite (Debian's Redis 7.0 lacks these commands): a missing key
equals nothing, digests compare case-insensitively and are checked only
when there is a value to compare. The seed's token lock works with them
instead of a Lua script: acquire with SET NX PX, extend with SET IFEQ
KEEPTTL... PX, release with DELEX IFEQ."""
import time

from conftest import WRONGTYPE, err, unparsed

BAD_DIGEST = "The digest must be exactly 16 hexadecimal characters"


def x(r, *args):
    return unparsed(r, "SET", "COMMAND").execute_command(*args)


def error(r, *args):
    return err(r.execute_command, *args)


def test_digest_is_xxh3_in_16_hex_digits(r):
    # Vectors from redis.io's DIGEST page and Redis's own test suite (the
    # second has leading zeros, which must be kept).
    r.set("k", "Hello world")
    assert x(r, "DIGEST", "k") == b"b6acb9d84a38ff74"
    r.set("k", "v8lf0c11xh8ymlqztfd3eeq16kfn4sspw7fqmnuuq3k3t75em5wdizgcdw7uc26nnf961u2jkfzkjytls2kwlj7626sd")
    assert x(r, "DIGEST", "k") == b"00006c38adf31777"
    # Same bytes, same digest, whatever the encoding.
    r.set("int", 12345)
    r.set("str", "12345")
    assert x(r, "DIGEST", "int") == x(r, "DIGEST", "str")
    assert x(r, "DIGEST", "missing") is None
    r.rpush("list", "a")
    assert error(r, "DIGEST", "list") == WRONGTYPE
    assert error(r, "DIGEST", "a", "b") == "wrong number of arguments for 'digest' command"


def test_set_conditions(r):
    r.set("k", "hello")
    assert x(r, "SET", "k", "world", "IFEQ", "different") is None
    assert x(r, "SET", "k", "world", "IFEQ", "hello") == b"OK"
    assert x(r, "SET", "k", "again", "IFNE", "world") is None
    assert x(r, "SET", "k", "again", "ifne", "other") == b"OK"
    digest = x(r, "DIGEST", "k").decode()
    wrong = "%016x" % ((int(digest, 16) + 1) % (1 << 64))
    assert x(r, "SET", "k", "v2", "IFDEQ", wrong) is None
    assert x(r, "SET", "k", "v2", "IFDEQ", digest.upper()) == b"OK"
    digest = x(r, "DIGEST", "k").decode()
    assert x(r, "SET", "k", "v3", "IFDNE", digest) is None
    assert x(r, "SET", "k", "v3", "IFDNE", wrong) == b"OK"
    assert r.get("k") == b"v3"
    # A missing key equals nothing: IFEQ/IFDEQ fail, IFNE/IFDNE set; the
    # digest's form is not checked then.
    assert x(r, "SET", "m", "v", "IFEQ", "x") is None
    assert x(r, "SET", "m", "v", "IFDEQ", "1234567890") is None
    assert r.exists("m") == 0
    assert x(r, "SET", "m", "v", "IFDNE", "1234567890") == b"OK"
    r.delete("m")
    assert x(r, "SET", "m", "v", "IFNE", "x") == b"OK"


def test_set_conditions_with_get_and_expiry(r):
    r.set("k", "hello")
    assert x(r, "SET", "k", "world", "IFEQ", "nope", "GET") == b"hello"
    assert r.get("k") == b"hello"
    assert x(r, "SET", "k", "world", "IFEQ", "hello", "GET", "EX", 100) == b"hello"
    assert r.get("k") == b"world" and 95 <= r.ttl("k") <= 100
    assert x(r, "SET", "missing", "v", "IFNE", "x", "GET") is None
    assert r.get("missing") == b"v"
    # KEEPTTL with a condition: the lock-extension idiom keeps the TTL.
    assert x(r, "SET", "k", "world2", "IFEQ", "world", "KEEPTTL") == b"OK"
    assert 95 <= r.ttl("k") <= 100


def test_set_condition_errors(r):
    r.set("k", "test")
    digest = x(r, "DIGEST", "k").decode()
    for bad in (digest[1:], "0" + digest, "", "zzzzzzzzzzzzzzzz"):
        assert error(r, "SET", "k", "v", "IFDEQ", bad) == BAD_DIGEST
        assert error(r, "SET", "k", "v", "IFDNE", bad) == BAD_DIGEST
        assert error(r, "DELEX", "k", "IFDEQ", bad) == BAD_DIGEST
        assert error(r, "DELEX", "k", "IFDNE", bad) == BAD_DIGEST
    assert r.get("k") == b"test"
    for args in (["NX", "IFEQ", "a"], ["IFEQ", "a", "XX"], ["IFEQ", "a", "IFNE", "b"], ["IFDEQ"]):
        assert error(r, "SET", "k", "v", *args) == "syntax error"
    r.rpush("list", "element")
    for cond, arg in (("IFEQ", "element"), ("IFNE", "x"), ("IFDEQ", "1234567890"), ("IFDNE", "1234567890")):
        assert error(r, "SET", "list", "v", cond, arg) == WRONGTYPE


def test_delex(r, plog):
    r.set("k", "hello")
    r.hset("h", "f", "v")
    assert x(r, "DELEX", "h") == 1  # no condition: any type, as DEL
    assert x(r, "DELEX", "k", "IFEQ", "world") == 0
    assert x(r, "DELEX", "k", "IFNE", "hello") == 0
    digest = x(r, "DIGEST", "k").decode()
    assert x(r, "DELEX", "k", "IFDNE", digest) == 0
    assert r.get("k") == b"hello"
    plog()
    assert x(r, "DELEX", "k", "IFDEQ", digest.upper()) == 1
    assert r.exists("k") == 0
    assert plog() == [["0", "DEL", "k"]]
    r.set("k", 123)
    plog()
    assert x(r, "DELEX", "k", "IFNE", "124") == 1
    for cond in ("IFEQ", "IFNE", "IFDEQ", "IFDNE"):
        assert x(r, "DELEX", "missing", cond, "1234567890") == 0
    assert plog() == [["0", "DEL", "k"]]


def test_delex_errors(r):
    r.set("k", "x")
    assert error(r, "DELEX", "k", "IFEQ") == "wrong number of arguments for 'delex' command"
    assert error(r, "DELEX", "k", "IFEQ", "x", "extra") == "wrong number of arguments for 'delex' command"
    for cond in ("INVALID", "IF", "EQ"):
        assert error(r, "DELEX", "k", cond, "x").startswith("Invalid condition")
    r.rpush("list", "a")
    assert error(r, "DELEX", "list", "IFEQ", "a") == WRONGTYPE
    assert r.get("k") == b"x"


def test_msetex(r, plog):
    before = int(time.time() * 1000)
    assert x(r, "MSETEX", 2, "a", "1", "b", "2", "PX", 100_000) == 1
    assert r.mget("a", "b") == [b"1", b"2"]
    assert 99_000 <= r.pttl("a") <= 100_000 and 99_000 <= r.pttl("b") <= 100_000
    log = plog()
    assert log[0][1:] == ["MULTI"] and log[-1][1:] == ["EXEC"]
    log = log[1:-1]
    assert [e[1:4] for e in log] == [["SET", "a", "1"], ["SET", "b", "2"]]
    assert all(e[4] == "PXAT" and before + 100_000 <= int(e[5]) <= before + 101_000 for e in log)
    # NX: none may exist; XX: all must. Options go in either order.
    assert x(r, "MSETEX", 2, "a", "x", "c", "3", "NX", "EX", 10) == 0
    assert r.exists("c") == 0
    assert x(r, "MSETEX", 2, "c", "3", "d", "4", "EX", 10, "NX") == 1
    assert x(r, "MSETEX", 2, "a", "x", "zz", "y", "XX") == 0
    assert x(r, "MSETEX", 2, "a", "x", "b", "y", "XX", "KEEPTTL") == 1
    assert r.mget("a", "b") == [b"x", b"y"] and r.pttl("a") > 90_000
    assert x(r, "MSETEX", 1, "a", "plain") == 1
    assert r.ttl("a") == -1
    exat = int(time.time()) + 500
    assert x(r, "MSETEX", 1, "e", "5", "EXAT", exat) == 1
    assert r.expiretime("e") == exat
    assert x(r, "MSETEX", 1, "e", "gone", "PXAT", 1) == 1
    assert r.exists("e") == 0


def test_msetex_errors(r):
    assert error(r, "MSETEX", 1, "k") == "wrong number of arguments for 'msetex' command"
    for n in ("key1", "0", "-1", "2147483648"):
        assert error(r, "MSETEX", n, "k", "v", "EX", 10) == "invalid numkeys value"
    assert error(r, "MSETEX", 2, "k1", "v1", "k2") == "wrong number of key-value pairs"
    assert error(r, "MSETEX", 2147483647, "k1", "v1", "EX", 10) == "wrong number of key-value pairs"
    for opts in (["invalid_flag"], ["NX", "XX"], ["EX", 10, "PX", 5000], ["KEEPTTL", "EX", 10], ["EX"],
                 ["NX", "NX"]):
        assert error(r, "MSETEX", 1, "k", "v", *opts) == "syntax error"
    assert error(r, "MSETEX", 1, "k", "v", "EX", 0) == "invalid expire time in 'msetex' command"
    assert error(r, "MSETEX", 1, "k", "v", "PX", "x") == "value is not an integer or out of range"
    assert r.exists("k") == 0
    assert x(r, "COMMAND", "GETKEYS", "MSETEX", 2, "a", "1", "b", "2", "NX") == [b"a", b"b"]


def test_token_lock_without_lua(r):
    """The seed's lock, with commands instead of scripts: a holder's token
    extends and releases only its own lock."""
    assert x(r, "SET", "lock:order", "token-A", "NX", "PX", 30_000) == b"OK"
    assert x(r, "SET", "lock:order", "token-B", "NX", "PX", 30_000) is None
    # B cannot extend or release A's lock.
    assert x(r, "SET", "lock:order", "token-B", "IFEQ", "token-B", "PX", 60_000) is None
    assert x(r, "DELEX", "lock:order", "IFEQ", "token-B") == 0
    # A extends its lock (same value, new TTL) and releases it.
    assert x(r, "SET", "lock:order", "token-A", "IFEQ", "token-A", "PX", 60_000) == b"OK"
    assert r.pttl("lock:order") > 30_000
    assert x(r, "DELEX", "lock:order", "IFEQ", "token-A") == 1
    assert x(r, "SET", "lock:order", "token-B", "NX", "PX", 30_000) == b"OK"
