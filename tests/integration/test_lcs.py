"""LCS: the examples of the Redis docs, LEN / IDX / MINMATCHLEN /
WITHMATCHLEN, missing and integer-encoded keys, the error texts and their
order, the IDX reply as a map in RESP3, the memory bound (a table larger
than proto-max-bulk-len is refused, as Redis refuses it), and a random run
against Debian's redis-server. Every test passes against redis-server
7.0.15 too."""
import random
import time

from conftest import err
from resp_client import RespConn

REDIS_BIN = "/usr/bin/redis-server"
TOO_BIG = "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"


def lcs(r, *args):
    return r.execute_command("LCS", *args)


def test_docs_examples(r):
    r.mset({"key1": "ohmytext", "key2": "mynewtext"})
    assert lcs(r, "key1", "key2") == b"mytext"
    assert lcs(r, "key1", "key2", "LEN") == 6
    assert lcs(r, "key1", "key2", "IDX") == [b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    assert lcs(r, "key1", "key2", "IDX", "MINMATCHLEN", 4) == [b"matches", [[[4, 7], [5, 8]]], b"len", 6]
    assert lcs(r, "key1", "key2", "IDX", "MINMATCHLEN", 4, "WITHMATCHLEN") == [
        b"matches", [[[4, 7], [5, 8], 4]], b"len", 6]


def test_options(r):
    r.mset({"a": "ohmytext", "b": "mynewtext"})
    assert lcs(r, "a", "b", "withmatchlen", "idx") == [
        b"matches", [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], b"len", 6]
    assert lcs(r, "a", "b", "IDX", "MINMATCHLEN", -5) == lcs(r, "a", "b", "IDX")
    assert lcs(r, "a", "b", "IDX", "MINMATCHLEN", 100) == [b"matches", [], b"len", 6]
    # options that do not apply are accepted
    assert lcs(r, "a", "b", "MINMATCHLEN", 3, "WITHMATCHLEN") == b"mytext"
    assert lcs(r, "a", "b", "LEN", "LEN") == 6
    assert lcs(r, "b", "a") == b"mytext"


def test_missing_empty_and_integer_keys(r):
    assert lcs(r, "nx1", "nx2") == b""
    assert lcs(r, "nx1", "nx2", "LEN") == 0
    assert lcs(r, "nx1", "nx2", "IDX") == [b"matches", [], b"len", 0]
    r.set("a", "hello")
    assert lcs(r, "a", "nx") == b""
    assert lcs(r, "a", "a") == b"hello"
    assert lcs(r, "a", "a", "IDX", "WITHMATCHLEN") == [b"matches", [[[0, 4], [0, 4], 5]], b"len", 5]
    r.set("i", 12345)
    r.set("j", "x1y3z5")
    assert lcs(r, "i", "j") == b"135"
    r.set("e", "")
    assert lcs(r, "e", "a", "LEN") == 0


def test_binary_strings(r):
    r.set("a", b"\x00\xff\x00\r\n\x01")
    r.set("b", b"\xff\x01\x00\r\n")
    assert lcs(r, "a", "b") == b"\xff\x00\r\n"


def test_errors(r):
    r.set("a", "x")
    r.lpush("l", "y")
    msg = "The specified keys must contain string values"
    assert err(lcs, r, "a", "l") == msg
    assert err(lcs, r, "l", "a") == msg
    assert err(lcs, r, "nx", "l") == msg
    # the keys are checked before the options
    assert err(lcs, r, "a", "l", "FOO") == msg
    assert err(lcs, r, "a", "a", "FOO") == "syntax error"
    assert err(lcs, r, "a", "a", "MINMATCHLEN") == "syntax error"
    assert err(lcs, r, "a", "a", "MINMATCHLEN", "x") == "value is not an integer or out of range"
    assert err(lcs, r, "a", "a", "LEN", "IDX") == "If you want both the length and indexes, please just use IDX."
    assert err(lcs, r, "a") == "wrong number of arguments for 'lcs' command"


def test_resp3_idx_is_a_map(server, r):
    r.mset({"key1": "ohmytext", "key2": "mynewtext"})
    c = RespConn(server, resp3=True)
    try:
        assert c.call("LCS", "key1", "key2", "IDX", "WITHMATCHLEN") == {
            b"matches": [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], b"len": 6}
        assert c.call("LCS", "key1", "key2") == b"mytext"
        assert c.call("LCS", "key1", "key2", "LEN") == 6
    finally:
        c.close()
    c = RespConn(server)
    try:
        assert c.call("LCS", "key1", "key2", "IDX") == [b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    finally:
        c.close()


def test_memory_bound(r):
    # (20001 * 20001) 32-bit cells: far over 512 MB, refused at once
    r.set("a", "x" * 20000)
    r.set("b", "y" * 20000)
    t = time.time()
    for opts in ([], ["LEN"], ["IDX"]):
        assert err(lcs, r, "a", "b", *opts) == TOO_BIG
    assert time.time() - t < 2
    # the bound is the table's size against proto-max-bulk-len, inclusive
    r.config_set("proto-max-bulk-len", str(1024 * 1024))
    try:
        r.set("a", "ab" * 255 + "a")  # 511 bytes: 512 * 512 * 4 = 1 MB
        r.set("b", "ba" * 255 + "b")
        assert lcs(r, "a", "b", "LEN") == 510
        assert len(lcs(r, "a", "b")) == 510
        r.set("a", "ab" * 256)
        assert err(lcs, r, "a", "b") == TOO_BIG
        assert err(lcs, r, "a", "b", "LEN") == TOO_BIG
    finally:
        r.config_set("proto-max-bulk-len", str(512 * 1024 * 1024))


def test_large_strings_within_the_bound(r):
    rnd = random.Random(4)
    a = "".join(rnd.choice("acgt") for _ in range(3000))
    b = "".join(rnd.choice("acgt") for _ in range(3000))
    r.set("a", a)
    r.set("b", b)
    t = time.time()
    s = lcs(r, "a", "b")
    n = lcs(r, "a", "b", "LEN")
    idx = lcs(r, "a", "b", "IDX", "MINMATCHLEN", 5, "WITHMATCHLEN")
    assert time.time() - t < 10
    assert len(s) == n == idx[3]
    it = iter(a)
    assert all(ch in it for ch in s.decode())  # a subsequence of a
    it = iter(b)
    assert all(ch in it for ch in s.decode())
    for (a0, a1), (b0, b1), ln in idx[1]:
        assert ln >= 5 and a[a0:a1 + 1] == b[b0:b1 + 1] and a1 - a0 + 1 == ln


def test_largest_table_within_the_default_bound(r):
    """11000 x 11000 bytes: 484 MB of 32-bit cells, under the 512 MB bound."""
    rnd = random.Random(6)
    a = "".join(rnd.choice("acgt") for _ in range(11000))
    b = "".join(rnd.choice("acgt") for _ in range(11000))
    r.mset({"a": a, "b": b})
    t = time.time()
    n = lcs(r, "a", "b", "LEN")
    s = lcs(r, "a", "b")
    idx = lcs(r, "a", "b", "IDX", "MINMATCHLEN", 10)
    assert time.time() - t < 20
    assert len(s) == n == idx[3] and n > 7000



def test_random_against_redis(r, redis_ref):
    rnd = random.Random(9)
    for t in range(300):
        alph = "ab" if t % 3 == 0 else "abcdefgh"
        x = "".join(rnd.choice(alph) for _ in range(rnd.randrange(0, 80)))
        y = "".join(rnd.choice(alph) for _ in range(rnd.randrange(0, 80)))
        for c in (r, redis_ref):
            c.mset({"x": x, "y": y})
        for opts in ([], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", 2, "WITHMATCHLEN"],
                     ["IDX", "MINMATCHLEN", 3]):
            assert lcs(r, "x", "y", *opts) == lcs(redis_ref, "x", "y", *opts), (x, y, opts)


def test_random_long_against_redis(r, redis_ref):
    """Lengths across many 64-bit words (LEN runs bit-parallel in Keel)."""
    rnd = random.Random(10)
    for t in range(60):
        alph = ["ab", "abcd", "acgt", "".join(map(chr, range(256)))][t % 4]
        x = "".join(rnd.choice(alph) for _ in range(rnd.randrange(0, 700)))
        y = "".join(rnd.choice(alph) for _ in range(rnd.randrange(0, 700)))
        for c in (r, redis_ref):
            c.mset({"x": x.encode("latin-1"), "y": y.encode("latin-1")})
        assert lcs(r, "x", "y", "LEN") == lcs(redis_ref, "x", "y", "LEN"), (x, y)
        assert lcs(r, "x", "y") == lcs(redis_ref, "x", "y"), (x, y)
