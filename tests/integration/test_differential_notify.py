"""Differential tests against Debian's redis-server 7.0: keyspace
notifications, and the CONFIG GET / CONFIG SET table.

Same approach as test_differential.py and test_differential_more.py (whose
generators, helpers and Endpoint this file reuses): the same commands go to
Keel and to the reference redis-server over raw sockets, and what comes back
must be identical, error texts in full.

- test_notify_differential (seeded): both servers get the same generated
  notify-keyspace-events class string (mostly "KEA", sometimes a subset such
  as "Kg$", "El", "En" (new-key events), "Em" (key misses), a random mix, or
  an invalid one: the CONFIG SET reply and the CONFIG GET canonical form are
  compared too, and the class changes now and then mid-stream). A subscriber
  connection PSUBSCRIBEs __key*__:*. A writer runs a command stream mixing
  test_differential's Gen (strings, hashes, sets, sorted sets, lists,
  keyspace, MULTI/EXEC), test_differential_more's streams and scripts (EVAL,
  FCALL), and this file's NotifyGen for the commands those leave out that
  emit events: the EXPIRE family against past times, PERSIST, RENAME, COPY,
  MOVE, SWAPDB, RESTORE (of payloads DUMPed once from the reference), SORT
  ... STORE, the *STORE set and zset commands, LMOVE, LMPOP/ZMPOP,
  GETDEL/GETEX, SETRANGE/APPEND/INCRBYFLOAT, PFADD/PFMERGE, GEOADD and
  GEOSEARCHSTORE, SETBIT/BITOP/BITFIELD, XGROUP/XTRIM, HINCRBYFLOAT,
  FLUSHDB/FLUSHALL on dbs with keys, and reads of missing keys. After each
  writer command the subscriber sends PING (allowed in RESP2 subscribed
  mode, answered ["pong", ""]) and reads up to that pong: the (pattern,
  channel, message) triples before it are what the command emitted. They
  are compared in order, with the writer's reply (normalized as the other
  differential tests do).
- test_notify_lazy_expiry: the one deterministic expiry check. On dedicated
  servers with active expiry off (DEBUG SET-ACTIVE-EXPIRE 0), a key SET with
  PX 1 and touched after a short sleep is expired by that command (GET,
  EXISTS, TTL, TYPE, INCR, SET, DEL, LPUSH, RENAME, COPY, SCAN, KEYS, EVAL,
  a MULTI, ... see TOUCHES): "expired", then "keymiss" / "new" / the
  command's own event, the same on both servers.
- test_config_defaults / test_config_set_values / test_config_misc: on a
  dedicated pair of servers started with the same arguments, every
  parameter Redis 7.0's CONFIG GET * lists must have the same default in
  Keel (except ACCEPTED_DEFAULTS below), and Keel may list no parameter
  Redis does not (except KEEL_ONLY_PARAMS). Every parameter that can be
  set safely gets a list of invalid values ("abc", "-1", "", "1.5", a
  20-digit number, "yes", "maybe", "1gb", "0") and type-appropriate ones
  (memory units, enum words in other cases, special forms): the replies
  must match exactly, and where both accept a value the CONFIG GET
  readback must match too (then each server gets its own default back).
  Also: several parameters in one CONFIG SET (all or nothing, and which
  one the error names), duplicate and aliased parameters in one call,
  CONFIG GET with several patterns and globs, unknown and immutable
  parameters, the slave-* / replica-* and *-ziplist-* / *-listpack-*
  aliases, arities, CONFIG HELP/REWRITE/RESETSTAT.

Left out on purpose:
- expired ('x') events from the active expiry cycle and evicted ('e')
  events: they depend on timing and memory. No short TTL is generated (Gen
  uses TTLs of 1000 s and more, or times in the past that delete at once);
  the one PX 1 key lives in test_notify_lazy_expiry with active expiry off.
- SPOP / SRANDMEMBER / RANDOMKEY and the like: not deterministic on Redis.
  DUMP and OBJECT ENCODING: their replies show the value's encoding, which
  differs by design (RESTORE only ever gets payloads DUMPed by Redis).
- GEOSEARCHSTORE ... STOREDIST: the stored distances are doubles (Keel
  prints 7.2's shortest text); only the event and the count are compared.
- FUNCTION LOAD of a library whose load-time code calls error() or
  redis.setresp (test_differential_more's NOT_GENERATED divergence).
- CONFIG SET of the parameters that would break or lock the test servers
  (SKIP_SET: port, bind, dir, dbfilename, logfile, unixsocket*, daemonize,
  pidfile, requirepass, masterauth, masteruser, appendonly, the tls-*
  ones, and the small values of maxmemory-clients / client-output-buffer-
  limit normal that would disconnect the test's own client).
- CONFIG GET * is compared as a set of pairs: Redis 7.0 answers it in
  dict order, which is arbitrary.

Knobs: KEEL_NOTIFY_SEEDS=1-200 (or 1,5,9; default 1-16) and
KEEL_NOTIFY_COMMANDS=N (commands per seed, default 300). A failure shows the
seed, the index, the command (as redis-cli arguments), both replies and
event lists, and the commands before it.
"""
import os
import time

import pytest
from conftest import REDIS_BIN, SERVER_ARGS, Server
from resp_client import RespConn, RespError
from test_differential import Gen, _seeds, cli, plain, ref_endpoint, short
from test_differential_more import ScriptGen, StreamGen, normalize_any

SEEDS = _seeds(os.environ.get("KEEL_NOTIFY_SEEDS", "1-16"))
COMMANDS = int(os.environ.get("KEEL_NOTIFY_COMMANDS", "300"))
HISTORY = 12
PATTERN = "__key*__:*"

# Class strings: mostly everything, sometimes one family, sometimes the
# 7.0-only classes (n: new keys, m: key misses), and invalid ones.
CLASSES = ["Kg$", "El", "Ez", "Kx", "Et", "Kh", "Ksz", "En", "Em", "KEm", "Kn", "KEAn", "KEAm", "KEAnm", "Ag",
           "A", "K", "E", "", "gKE", "$E", "KEd", "KEe", "KEAx"]
BAD_CLASSES = ["Q", "KEAQ", "kea", "K E", "KE1", "ke", "KEA!"]
CLASS_CHARS = "Ag$lshzxeKEtmdn"
MISSING = ["nokey", "nokey2"]
GEO_KEYS = ["geo0", "geo1"]


def class_string(rnd):
    t = rnd.random()
    if t < 0.55:
        return "KEA"
    if t < 0.8:
        return rnd.choice(CLASSES)
    if t < 0.92:
        chars = rnd.sample(CLASS_CHARS, rnd.randint(1, 6))
        if "K" not in chars and "E" not in chars:
            chars.append(rnd.choice("KE"))
        return "".join(chars)
    return rnd.choice(BAD_CLASSES)


def notify_readback(reply):
    """Keel's CONFIG GET notify-keyspace-events as Redis 7.0 would print it.
    A deliberate difference: with every type class on and 'n' too, Redis 7.0
    prints "A" and drops the 'n' (KEAn reads back "AKE") though new-key
    events stay on, a bug; Keel prints "AnKE". The events themselves are
    compared as they are."""
    if isinstance(reply, list) and len(reply) == 2 and reply[1].startswith(b"An"):
        return [reply[0], b"A" + reply[1][2:]]
    return reply


def make_payloads(ref):
    """DUMP payloads of one value of each type, taken from the reference
    (the same bytes then go to both servers), plus broken ones."""
    ref.call("SELECT", 9)
    setup = [["SET", "p", "hello"], ["SET", "pi", "12345"], ["RPUSH", "pl", "a", "b", "c"],
             ["SADD", "ps", "1", "2", "3"], ["SADD", "pss", "a", "b"], ["ZADD", "pz", "1", "a", "2", "b"],
             ["HSET", "ph", "f", "v", "g", "w"], ["XADD", "px", "1-1", "f", "v"]]
    out = []
    for cmd in setup:
        ref.call(*cmd)
        out.append(ref.call("DUMP", cmd[1]))
    ref.call("FLUSHDB")
    ref.call("SELECT", 0)
    good = out[0]
    return out + [good[:-3], b"\x00garbage", good[:-1] + bytes([good[-1] ^ 1])]


class NotifyGen:
    """The commands Gen, StreamGen and ScriptGen leave out (or make rarely)
    that emit keyspace events, on Gen's key space."""

    def __init__(self, gen, payloads):
        self.g = gen
        self.rnd = gen.rnd
        self.payloads = payloads

    def pick(self, seq):
        return self.rnd.choice(seq)

    def key(self):
        return self.g.key() if self.rnd.random() < 0.92 else self.pick(MISSING)

    def gkey(self):
        """Geo sets live apart from the commands that reply with scores:
        Keel once printed their 52-bit geohash scores in exponent form
        (fixed: integers print whole, as in Redis); kept apart so that
        seeds still replay the sequences they always did."""
        return self.pick(GEO_KEYS)

    def command(self):
        g, r, k = self.g, self.rnd, self.key()
        n = r.randrange(40)
        if n == 0:
            # the EXPIRE family with past times and 0: the key goes at once ("del")
            name = self.pick(["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
            return [name, k, self.pick(["0", "-1", "1", "1000"]) if "AT" in name else self.pick(["0", "-5"])], None
        if n == 1:
            return [self.pick(["EXPIRE", "PEXPIRE"]), k, g.rel_ttl("s")] + \
                ([self.pick(["NX", "XX", "GT", "LT"])] if r.random() < 0.3 else []), None
        if n == 2:
            return ["PERSIST", k], None
        if n == 3:
            return [self.pick(["RENAME", "RENAMENX"]), k, self.pick([k, self.key()])], None
        if n == 4:
            args = ["COPY", k, self.key()]
            if r.random() < 0.3:
                args += ["DB", self.pick(["0", "1", "2"])]
            if r.random() < 0.4:
                args.append("REPLACE")
            return args, None
        if n == 5:
            return ["MOVE", k, self.pick(["1", "2", "0"])], None
        if n == 6:
            return ["SWAPDB", self.pick(["0", "1"]), self.pick(["1", "2", "0"])], None
        if n in (7, 8):
            args = ["RESTORE", k, self.pick(["0", "0", "0", str(g.rel_seconds() * 1000), "-1"]),
                    self.pick(self.payloads)]
            if r.random() < 0.5:
                args.append("REPLACE")
            if r.random() < 0.15:
                # an absolute TTL in the past: the key is not created (an old
                # one goes with REPLACE)
                args[2] = self.pick(["1", "1000"])
                args.append("ABSTTL")
            if r.random() < 0.1:
                args += [self.pick(["IDLETIME", "FREQ"]), self.pick(["10", "-1", "abc"])]
            return args, None
        if n == 9:
            args = ["SORT", k]
            if r.random() < 0.5:
                args.append("ALPHA")
            if r.random() < 0.3:
                args.append("DESC")
            if r.random() < 0.2:
                args += ["LIMIT", self.pick(["0", "1"]), self.pick(["2", "-1", "0"])]
            return args + ["STORE", self.key()], None
        if n in (10, 11):
            return [self.pick(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), self.key()] + \
                [self.key() for _ in range(r.randint(1, 3))], None
        if n in (12, 13):
            name = self.pick(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"])
            return [name, self.key()] + g.zstore_args("diff" if name == "ZDIFFSTORE" else "x"), None
        if n == 14:
            return ["ZRANGESTORE", self.key(), k, self.pick(["0", "1"]), self.pick(["-1", "0", "1", "5"])], None
        if n == 15:
            return ["LMOVE", k, self.pick([k, self.key()]), self.pick(["LEFT", "RIGHT"]),
                    self.pick(["LEFT", "RIGHT"])], None
        if n == 16:
            ks = [self.key() for _ in range(r.randint(1, 2))]
            if r.random() < 0.5:
                return ["LMPOP", str(len(ks))] + ks + [self.pick(["LEFT", "RIGHT"]), "COUNT",
                                                        self.pick(["1", "2", "10"])], None
            return ["ZMPOP", str(len(ks))] + ks + [self.pick(["MIN", "MAX"]), "COUNT", self.pick(["1", "2", "10"])], None
        if n == 17:
            return ["GETDEL", k], None
        if n == 18:
            opts = self.pick([[], ["PERSIST"], ["EX", g.rel_ttl("s")], ["PXAT", self.pick(["1", "1000"])],
                              ["EXAT", "4102444800"]])
            return ["GETEX", k] + opts, None
        if n == 19:
            return ["SETRANGE", k, self.pick(["0", "2", "10"]), self.pick(["", "ab", "xyz"])], None
        if n == 20:
            return ["APPEND", k, self.pick(["", "x", "12"])], None
        if n == 21:
            name = self.pick(["INCRBYFLOAT", "INCRBY", "DECR"])
            return [name, k] + ([] if name == "DECR" else [self.pick(["1", "2.5", "-3"])]), None
        if n in (22, 23):
            return ["PFADD", k] + [self.pick(["a", "b", "c", "d", "1"]) for _ in range(r.randint(0, 3))], None
        if n == 24:
            return ["PFMERGE", self.key()] + [self.key() for _ in range(r.randint(0, 2))], None
        if n == 25:
            return ["PFCOUNT"] + [self.key() for _ in range(r.randint(1, 2))], None
        if n in (26, 27):
            args = ["GEOADD", self.gkey()]
            if r.random() < 0.2:
                args.append(self.pick(["NX", "XX"]))
            if r.random() < 0.2:
                args.append("CH")
            for _ in range(r.randint(1, 2)):
                args += [self.pick(["13.361389", "15.087269", "2.5", "-200"]), self.pick(["38.115556", "37.502669", "0"]),
                         self.pick(["Palermo", "Catania", "a", "b"])]
            return args, None
        if n == 28:
            # (no STOREDIST: the stored scores would be distances as doubles)
            # (a source of another type now and then, for WRONGTYPE)
            src = self.gkey() if r.random() < 0.85 else k
            return ["GEOSEARCHSTORE", self.gkey(), src, "FROMLONLAT", "15", "37", "BYRADIUS",
                    self.pick(["200", "1", "5000"]), "km", "ASC"], None
        if n in (29, 30):
            return ["SETBIT", k, self.pick(["0", "1", "7", "100", "-1"]), self.pick(["0", "1", "2"])], None
        if n == 31:
            op = self.pick(["AND", "OR", "XOR", "NOT", "FOO"])
            srcs = [self.key() for _ in range(1 if op == "NOT" else r.randint(1, 3))]
            return ["BITOP", op, self.key()] + srcs, None
        if n == 32:
            args = ["BITFIELD", k]
            for _ in range(r.randint(1, 3)):
                args += self.pick([["SET", "u8", "0", "255"], ["INCRBY", "i5", "3", "7"], ["GET", "u4", "0"],
                                   ["OVERFLOW", "FAIL"], ["OVERFLOW", "SAT"], ["INCRBY", "u2", "0", "5"]])
            return args, None
        if n == 33:
            return ["BITFIELD_RO", k, "GET", "u8", "0"], None
        if n == 34:
            return ["HINCRBYFLOAT", k, self.pick(["f", "g"]), self.pick(["1.5", "-2", "abc", "1e3"])], None
        if n == 35:
            # reads of keys that are usually missing (keymiss events)
            kk = self.pick(MISSING + [k])
            cmd = self.pick([["GET", kk], ["HGET", kk, "f"], ["LRANGE", kk, "0", "-1"], ["SMEMBERS", kk],
                              ["ZSCORE", kk, "a"], ["XRANGE", kk, "-", "+"], ["EXISTS", kk], ["TYPE", kk],
                              ["TTL", kk], ["STRLEN", kk], ["MGET", kk, k], ["HGETALL", kk], ["GETRANGE", kk, "0", "1"],
                              ["SCARD", kk], ["LINDEX", kk, "0"], ["PFCOUNT", kk], ["GETBIT", kk, "0"],
                              ["SUNION", kk], ["ZRANGE", kk, "0", "-1"],
                              ["BITCOUNT", kk], ["XLEN", kk], ["HEXISTS", kk, "f"], ["SISMEMBER", kk, "1"]])
            norm = {"SMEMBERS": "sort", "SUNION": "sort", "HGETALL": "pairs"}.get(cmd[0])
            return cmd, norm
        if n == 36:
            return [self.pick(["FLUSHDB", "FLUSHALL", "FLUSHDB"])] + \
                ([self.pick(["SYNC", "ASYNC"])] if r.random() < 0.3 else []), None
        if n == 37:
            return ["SET", k, self.pick(["1", "v", "10"])] + self.pick([[], ["GET"], ["KEEPTTL"], ["EX", "100000"]]), None
        if n == 38:
            return ["XTRIM", self.pick(["s0", "s1", k]), "MAXLEN", self.pick(["0", "1"])], None
        return ["CONFIG", "SET", "notify-keyspace-events", class_string(r)], None


# ---------------------------------------------------------------- running


def pubsub_pair(ep):
    sub = RespConn(ep)
    assert sub.call("PSUBSCRIBE", PATTERN) == [b"psubscribe", PATTERN.encode(), 1]
    return sub


def drain_until_pong(sub):
    """The (pattern, channel, message) triples the subscriber gets before
    the reply to the PING it sends now."""
    sub.send("PING")
    out = []
    while True:
        m = sub.read()
        if m == [b"pong", b""]:
            return out
        if isinstance(m, list) and len(m) == 4 and m[0] == b"pmessage":
            out.append(tuple(m[1:]))
        else:
            out.append(("?", plain(m)))


def history(log, n=HISTORY):
    return "\n".join("  #%d %s -> %s %s" % (i, cli(a), short(rep, 120), short(ev, 200)) for i, a, rep, ev in log[-n:])


def notify_items(seed, n, payloads):
    g = Gen(seed + 300000)
    stg, scg, ng = StreamGen(g.rnd), ScriptGen(g.rnd), NotifyGen(g, payloads)
    items = []
    while len(items) < n:
        t = g.rnd.random()
        if t < 0.45:
            items.extend(g.block())
        elif t < 0.55:
            items.append(stg.command())
        elif t < 0.65:
            items.append(scg.command())
        else:
            items.append(ng.command())
    return items


@pytest.fixture(scope="module")
def payloads(redis_ref):
    c = RespConn(ref_endpoint(redis_ref))
    try:
        assert c.call("FLUSHALL") == "OK"
        return make_payloads(c)
    finally:
        c.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_notify_differential(server, redis_ref, payloads, seed):
    keel_ep, ref_ep = server, ref_endpoint(redis_ref)
    keel, ref = RespConn(keel_ep), RespConn(ref_ep)
    subs = []
    try:
        for c in (keel, ref):
            for cmd in (["CONFIG", "SET", "notify-keyspace-events", ""], ["FLUSHALL"], ["SCRIPT", "FLUSH"],
                        ["FUNCTION", "FLUSH"]):
                assert c.call(*cmd) == "OK"
        subs = [pubsub_pair(keel_ep), pubsub_pair(ref_ep)]
        g = Gen(seed)
        first = ["CONFIG", "SET", "notify-keyspace-events", class_string(g.rnd)]
        items = [(first, None)] + notify_items(seed, COMMANDS, payloads)
        log = []
        for i, (args, norm) in enumerate(items):
            got_ev, want_ev = [], []
            keel.send(*args)
            got = normalize_any(plain(keel.read()), norm, args)
            got_ev = drain_until_pong(subs[0])
            ref.send(*args)
            want = normalize_any(plain(ref.read()), norm, args)
            want_ev = drain_until_pong(subs[1])
            if args[:2] == ["CONFIG", "SET"]:
                # the canonical form of the class string
                got = (got, notify_readback(plain(keel.call("CONFIG", "GET", "notify-keyspace-events"))))
                want = (want, plain(ref.call("CONFIG", "GET", "notify-keyspace-events")))
            if got != want or got_ev != want_ev:
                pytest.fail("seed %d, command #%d differs:\n  %s\n  keel:  %s\n         events %s\n"
                            "  redis: %s\n         events %s\n"
                            "previous commands (reply, events; the same on both):\n%s\n"
                            "(rerun: KEEL_NOTIFY_SEEDS=%d KEEL_NOTIFY_COMMANDS=%d)"
                            % (seed, i, cli(args), short(got, 1500), short(got_ev, 1500), short(want, 1500),
                               short(want_ev, 1500), history(log), seed, i + 1), pytrace=False)
            log.append((i, args, got, got_ev))
    finally:
        for c in [keel, ref] + subs:
            c.close()
        for ep in (keel_ep, ref_ep):
            c = RespConn(ep)
            c.call("CONFIG", "SET", "notify-keyspace-events", "")
            c.close()


# ---------------------------------------------------------------- lazy expiry


@pytest.fixture(scope="module")
def debug_pair():
    """A Keel and a Redis that accept DEBUG from local clients, for turning
    the active expiry cycle off (Redis 7.0 refuses DEBUG by default)."""
    if not os.access(REDIS_BIN, os.X_OK):
        pytest.skip("needs Debian's redis-server")
    args = ("--save", "", "--appendonly", "no", "--enable-debug-command", "local")
    pair = [Server(*args), Server(*args, binary=REDIS_BIN, env=dict(os.environ, LC_ALL="C"))]
    yield pair
    for s in pair:
        s.stop()


# What touches the key once its 1 ms TTL has passed: each of these finds it
# logically expired, deletes it and emits "expired" before its own events.
TOUCHES = [["GET", "e"], ["EXISTS", "e"], ["TTL", "e"], ["TYPE", "e"], ["INCR", "e"], ["SET", "e", "2"],
           ["DEL", "e"], ["LPUSH", "e", "a"], ["APPEND", "e", "x"], ["GETDEL", "e"], ["HGET", "e", "f"],
           ["RENAME", "e", "f"], ["COPY", "e", "f"], ["EXPIRE", "e", "100"], ["PERSIST", "e"],
           ["SETNX", "e", "3"], ["MGET", "e", "e"], ["STRLEN", "e"], ["OBJECT", "ENCODING", "e"],
           ["SCAN", "0", "MATCH", "e"], ["KEYS", "e"], ["DBSIZE"], ["MULTI"], ["EVAL", "return redis.call('get', KEYS[1])", "1", "e"]]


@pytest.mark.parametrize("cls", ["KEA", "KEAm", "Exm", "Kxn"])
def test_notify_lazy_expiry(debug_pair, cls):
    conns = []
    try:
        got = []
        for srv in debug_pair:
            w, sub = RespConn(srv), None
            conns.append(w)
            assert w.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == "OK"
            assert w.call("FLUSHALL") == "OK"
            assert w.call("CONFIG", "SET", "notify-keyspace-events", cls) == "OK"
            sub = pubsub_pair(srv)
            conns.append(sub)
            out = []
            for touch in TOUCHES:
                steps = [["SET", "e", "1", "PX", "1"], None]
                steps += [touch] if touch != ["MULTI"] else [["MULTI"], ["GET", "e"], ["EXEC"]]
                steps += [["FLUSHALL"]]
                for cmd in steps:
                    if cmd is None:
                        time.sleep(0.003)  # (past the 1 ms TTL)
                        continue
                    rep = plain(w.call(*cmd))
                    if cmd[0] == "SCAN":
                        rep = rep[1]  # (the cursor is an implementation detail)
                    out.append((cli(cmd), rep, drain_until_pong(sub)))
            assert w.call("DEBUG", "SET-ACTIVE-EXPIRE", "1") == "OK"
            assert w.call("CONFIG", "SET", "notify-keyspace-events", "") == "OK"
            got.append(out)
        diffs = ["  %s\n    keel:  %s %s\n    redis: %s %s" % (k[0], short(k[1]), short(k[2], 600), short(r[1]), short(r[2], 600))
                 for k, r in zip(*got) if k != r]
        assert not diffs, "class %r, after SET e 1 PX 1 and a sleep:\n%s" % (cls, "\n".join(diffs))
    finally:
        for c in conns:
            c.close()


# ---------------------------------------------------------------- CONFIG


# Defaults that differ by design: each with why.
ACCEPTED_DEFAULTS = {
    "port": "the fixture gives each server its own free port",
    "dir": "the fixture gives each server its own temporary directory",
    "bind": "Keel listens on loopback unless configured, as Debian's and Redis's shipped redis.conf do",
    "hash-max-listpack-entries": "Keel's tuning for its hash encoding (a config file can set 512)",
    "hash-max-ziplist-entries": "the alias of hash-max-listpack-entries",
}
# Values only Keel accepts (CONFIG SET answers OK where Redis 7.0 refuses).
KEEL_ONLY_VALUES = {
    ("loglevel", "nothing"): "Redis 7.2's level, kept as a deliberate superset (the error text stays 7.0's)",
    ("activedefrag", "yes"): "Keel defragments on the stock jemalloc, which Debian's Redis cannot (test_defrag.py)",
    ("activedefrag", "YES"): "the same, in capitals",
}
# Parameters only Keel has: its own features, and 7.2's set-max-listpack-*.
KEEL_ONLY_PARAMS = {
    "bgsave-forkless": "Keel's snapshot without fork",
    "busy-poll-us": "Keel's event loop",
    "io-backend": "Keel's event loop (epoll / io_uring)",
    "io-threads-min-clients": "Keel's I/O threads",
    "metrics-bind": "Keel's metrics endpoint",
    "metrics-port": "Keel's metrics endpoint",
    "set-max-listpack-entries": "Redis 7.2's listpack sets",
    "set-max-listpack-value": "Redis 7.2's listpack sets",
    "stream-idmp-duration": "Redis 8.6's idempotent stream production",
    "stream-idmp-maxsize": "Redis 8.6's idempotent stream production",
    "tls-auth-clients-user": "Redis 8.6's TLS certificate login",
}
# Never CONFIG SET: they would move, lock or break the test servers (or
# touch the host: TLS files, the log file, the pid file).
SKIP_SET = {"port", "bind", "dir", "dbfilename", "logfile", "unixsocket", "unixsocketperm", "daemonize", "pidfile",
            "requirepass", "masterauth", "masteruser", "replicaof", "slaveof", "appendonly", "aclfile", "tls-port",
            "supervised", "syslog-enabled", "syslog-ident", "syslog-facility", "cluster-config-file",
            "cluster-enabled", "cluster-port"}
INVALID = ["abc", "-1", "", "1.5", "99999999999999999999", "yes", "maybe", "1gb", "0"]
BOOL_VALUES = ["no", "YES", "No", "true", "1", "on"]
NUM_VALUES = ["1", "100", "2147483647", "2147483648", "9223372036854775807", "-9223372036854775808", "1k", "1kb",
              "2MB", "1G", "5b", "1.5mb", "+5", " 5", "0x10", "1e3", "10%", "-1mb", "1tb"]
STR_VALUES = ["1.2.3.4", "a b", "x" * 70]
ENUMS = {
    "loglevel": ["debug", "verbose", "notice", "warning", "nothing", "NOTICE"],
    "maxmemory-policy": ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru",
                         "allkeys-lfu", "allkeys-random", "noeviction", "ALLKEYS-LRU", "lru"],
    "appendfsync": ["always", "everysec", "no", "Always"],
    "repl-diskless-load": ["disabled", "on-empty-db", "swapdb", "SWAPDB"],
    "sanitize-dump-payload": ["no", "yes", "clients", "Clients"],
    "acl-pubsub-default": ["allchannels", "resetchannels", "AllChannels"],
    "cluster-preferred-endpoint-type": ["ip", "hostname", "unknown-endpoint", "IP"],
    "propagation-error-behavior": ["ignore", "panic", "panic-on-replicas", "PANIC"],
    "oom-score-adj": ["no", "yes", "relative", "absolute", "Relative"],
    "shutdown-on-sigint": ["default", "save", "nosave", "now", "force", "now force", "save nosave", "NOW",
                           "default now", "force save now"],
    "shutdown-on-sigterm": ["default", "nosave force", "save now"],
    "enable-debug-command": ["no", "yes", "local"],
    "enable-protected-configs": ["no", "yes", "local"],
    "enable-module-command": ["no", "yes", "local"],
}
SPECIAL = {
    "save": ["", "3600 1", "3600 1 300 100 60 10000", "1 2 3", "abc 1", "-1 1", "100 10 100 10"],
    "client-output-buffer-limit": ["replica 256mb 64mb 60", "pubsub 1mb 512kb 30", "slave 0 0 0", "foo 1 2 3",
                                   "normal 0 0 0", "pubsub 1 2", "PUBSUB 32mb 8mb 60", "replica 1gb 1gb 0 pubsub 0 0 0",
                                   "pubsub -1 0 0"],
    "oom-score-adj-values": ["0 200 800", "0 0 0", "-2000 0 0", "1 2", "a b c", "0 200 1001", "100 200 300"],
    "latency-tracking-info-percentiles": ["50 99 99.9", "50", "", "101", "-1 50", "a", "99.99 50", "0 100"],
    "notify-keyspace-events": ["KEA", "AKE", "Q", "Kx", "Em", "En", "A"],
    "proc-title-template": ["{title}", "{nosuch}", "{title} {listen-addr} {server-mode}", "x{", "{title"],
    # (small limits would disconnect the test's own client)
    "maxmemory-clients": ["0", "1gb", "10%", "200%", "1.5%", "abc", "-1", "", "%", "0%"],
    "maxclients": ["100", "10000", "0", "abc", "-1", ""],
}


@pytest.fixture(scope="module")
def config_pair():
    """A Keel and a Redis started with the same arguments (only the port
    and directory the fixture picks), for the CONFIG tests alone."""
    if not os.access(REDIS_BIN, os.X_OK):
        pytest.skip("needs Debian's redis-server")
    pair = [Server(), Server(binary=REDIS_BIN, env=dict(os.environ, LC_ALL="C"))]
    yield pair
    for s in pair:
        s.stop()


def config_map(conn, *patterns):
    flat = conn.call("CONFIG", "GET", *patterns)
    if isinstance(flat, RespError):
        return plain(flat)
    return dict(zip(flat[0::2], flat[1::2]))


def test_config_defaults(config_pair):
    keel, ref = [RespConn(s) for s in config_pair]
    try:
        k, r = config_map(keel, "*"), config_map(ref, "*")
        # what the whole suite's KEEL_SERVER_ARGS set (e.g. --io-threads 3)
        # is no default
        overridden = {a[2:] for a in SERVER_ARGS if a.startswith("--")}
        diffs = []
        for name in sorted(r):
            n = name.decode()
            if n in ACCEPTED_DEFAULTS or n in overridden:
                continue
            if name not in k:
                diffs.append("%s: missing in keel (redis %r)" % (n, r[name]))
            elif k[name] != r[name]:
                diffs.append("%s: keel %r, redis %r" % (n, k[name], r[name]))
        for name in sorted(set(k) - set(r)):
            if name.decode() not in KEEL_ONLY_PARAMS:
                diffs.append("%s: only keel lists it (%r)" % (name.decode(), k[name]))
        assert not diffs, "CONFIG GET * defaults differ:\n  " + "\n  ".join(diffs)
    finally:
        keel.close()
        ref.close()


def candidates(name, default):
    if name in SPECIAL:
        return SPECIAL[name] + ["abc", "-1", ""]
    out = list(INVALID)
    if name in ENUMS:
        out += ENUMS[name]
    elif default in (b"yes", b"no"):
        out += BOOL_VALUES
    elif default.lstrip(b"-").isdigit():
        out += NUM_VALUES
    else:
        out += STR_VALUES
    return out


def test_config_set_values(config_pair):
    keel, ref = [RespConn(s) for s in config_pair]
    try:
        kdef, rdef = config_map(keel, "*"), config_map(ref, "*")
        diffs = []
        for name in sorted(rdef):
            n = name.decode()
            if n in SKIP_SET:
                continue
            for value in candidates(n, rdef[name]):
                got = plain(keel.call("CONFIG", "SET", n, value))
                want = plain(ref.call("CONFIG", "SET", n, value))
                if (n, value) in KEEL_ONLY_VALUES and got == "OK":
                    pass
                elif got != want:
                    diffs.append("CONFIG SET %s %s\n    keel:  %r\n    redis: %r" % (n, cli([value]), got, want))
                elif got == "OK":
                    kb, rb = config_map(keel, n), config_map(ref, n)
                    if kb != rb:
                        diffs.append("CONFIG SET %s %s, then CONFIG GET %s\n    keel:  %r\n    redis: %r"
                                     % (n, cli([value]), n, kb, rb))
                # each server gets its own default back
                for conn, defaults, side in ((keel, kdef, "keel"), (ref, rdef, "redis")):
                    if got == "OK" or want == "OK":
                        back = plain(conn.call("CONFIG", "SET", n, defaults.get(name, rdef[name])))
                        if back != "OK":
                            diffs.append("%s: restoring %s to %r: %r" % (side, n, defaults.get(name), back))
        assert not diffs, "%d CONFIG SET differences:\n  %s" % (len(diffs), "\n  ".join(diffs))
    finally:
        keel.close()
        ref.close()


# (command, then the CONFIG GET patterns whose values are compared after it)
MISC = [
    (["CONFIG", "SET", "maxmemory", "1mb", "hz", "20"], ["maxmemory", "hz"]),
    (["CONFIG", "SET", "maxmemory", "2mb", "hz", "abc"], ["maxmemory", "hz"]),
    (["CONFIG", "SET", "hz", "abc", "maxmemory", "3mb"], ["maxmemory", "hz"]),
    (["CONFIG", "SET", "maxmemory", "4mb", "nosuch", "1"], ["maxmemory"]),
    (["CONFIG", "SET", "maxmemory", "5mb", "daemonize", "yes"], ["maxmemory", "daemonize"]),
    (["CONFIG", "SET", "maxmemory", "6mb", "dir", "/"], ["maxmemory"]),
    (["CONFIG", "SET", "hz", "30", "hz", "40"], ["hz"]),
    (["CONFIG", "SET", "hash-max-ziplist-entries", "10", "hash-max-listpack-entries", "20"], ["hash-max-*-entries"]),
    (["CONFIG", "SET", "slave-read-only", "no", "replica-read-only", "yes"], ["*read-only"]),
    (["CONFIG", "SET", "HZ", "15"], ["hz"]),
    (["CONFIG", "SET", "slave-read-only", "no"], ["*read-only"]),
    (["CONFIG", "SET", "replica-read-only", "yes"], ["*read-only"]),
    (["CONFIG", "SET", "hash-max-ziplist-entries", "77"], ["hash-max-*"]),
    (["CONFIG", "SET", "hash-max-listpack-value", "33"], ["hash-max-*"]),
    (["CONFIG", "SET", "list-max-ziplist-size", "-3"], ["list-max-*"]),
    (["CONFIG", "SET", "zset-max-ziplist-value", "20"], ["zset-max-*"]),
    (["CONFIG", "SET", "lua-time-limit", "4000"], ["lua-time-limit", "busy-reply-threshold"]),
    (["CONFIG", "SET", "slave-priority", "50"], ["*priority"]),
    (["CONFIG", "SET", "min-slaves-to-write", "0", "min-replicas-max-lag", "5"], ["min-*"]),
    (["CONFIG", "SET", "maxmemory", "1mb", "maxmemory", "1mb"], ["maxmemory"]),
    (["CONFIG", "SET", "hz"], []),
    (["CONFIG", "SET", "hz", "10", "maxmemory"], []),
    (["CONFIG", "SET"], []),
    (["CONFIG", "SET", "nosuch", "1"], []),
    (["CONFIG", "SET", "", "1"], []),
    (["CONFIG", "SET", "daemonize", "no"], []),
    (["CONFIG", "SET", "databases", "16"], []),
    (["CONFIG", "SET", "io-threads", "1"], []),
    (["CONFIG", "SET", "dir", "/tmp"], []),
    (["CONFIG", "SET", "dbfilename", "x.rdb"], []),
    (["CONFIG", "SET", "enable-debug-command", "yes"], []),
    (["CONFIG", "GET"], []),
    (["CONFIG", "GET", "hz", "maxmemory"], []),
    (["CONFIG", "GET", "hz", "hz"], []),
    (["CONFIG", "GET", "hz", "h?"], []),
    (["CONFIG", "GET", "maxmemory*"], []),
    (["CONFIG", "GET", "*max*entries*"], []),
    (["CONFIG", "GET", "[hm]z"], []),
    (["CONFIG", "GET", "?z"], []),
    (["CONFIG", "GET", "HZ"], []),
    (["CONFIG", "GET", "Maxmemory*"], []),
    (["CONFIG", "GET", "slave-*"], []),
    (["CONFIG", "GET", "replica-*"], []),
    (["CONFIG", "GET", "*ziplist*"], []),
    (["CONFIG", "GET", "*listpack*"], []),
    (["CONFIG", "GET", "slave-read-only"], []),
    (["CONFIG", "GET", "slaveof"], []),
    (["CONFIG", "GET", "nosuch"], []),
    (["CONFIG", "GET", "nosuch", "hz"], []),
    (["CONFIG", "GET", ""], []),
    (["CONFIG", "GET", "rdb-key-save-delay"], []),
    (["CONFIG", "GET", "save", "appendonly", "client-output-buffer-limit"], []),
    (["CONFIG"], []),
    (["CONFIG", "NOSUCH"], []),
    (["CONFIG", "REWRITE"], []),
    (["CONFIG", "REWRITE", "x"], []),
    (["CONFIG", "RESETSTAT"], []),
    (["CONFIG", "RESETSTAT", "x"], []),
    (["CONFIG", "HELP"], []),
]


def own_defaults(pairs, defaults):
    """(name, value) pairs with the value of an ACCEPTED_DEFAULTS parameter
    that still holds its server's own default shown as "(default)"."""
    return [(n, b"(default)" if n.decode() in ACCEPTED_DEFAULTS and defaults.get(n) == v else v) for n, v in pairs]


def test_config_misc(config_pair):
    keel, ref = [RespConn(s) for s in config_pair]
    try:
        kdef, rdef = config_map(keel, "*"), config_map(ref, "*")
        diffs = []
        for cmd, after in MISC:
            got, want = plain(keel.call(*cmd)), plain(ref.call(*cmd))
            if cmd[1:2] == ["HELP"] and isinstance(got, list) and isinstance(want, list):
                # the subcommands and their syntax; the descriptions are
                # each server's own words
                got = [x for x in got if not str(x).startswith("    ")]
                want = [x for x in want if not str(x).startswith("    ")]
            if cmd[1:2] == ["GET"] and isinstance(got, list) and isinstance(want, list):
                # (Redis 7.0 answers in dict order; Keel's own parameters
                # may match a glob too)
                got = sorted(p for p in own_defaults(zip(got[0::2], got[1::2]), kdef)
                             if p[0].decode() not in KEEL_ONLY_PARAMS)
                want = sorted(own_defaults(zip(want[0::2], want[1::2]), rdef))
            if got != want:
                diffs.append("%s\n    keel:  %s\n    redis: %s" % (cli(cmd), short(got, 800), short(want, 800)))
            for pattern in after:
                kb = dict(own_defaults(config_map(keel, pattern).items(), kdef))
                rb = dict(own_defaults(config_map(ref, pattern).items(), rdef))
                if kb != rb:
                    diffs.append("%s, then CONFIG GET %s\n    keel:  %r\n    redis: %r" % (cli(cmd), pattern, kb, rb))
            # back to the defaults (each server its own)
            for conn, defaults in ((keel, kdef), (ref, rdef)):
                for name in ["maxmemory", "hz", "hash-max-listpack-entries", "hash-max-listpack-value",
                             "replica-read-only", "list-max-listpack-size", "zset-max-listpack-value",
                             "busy-reply-threshold", "replica-priority", "min-replicas-to-write",
                             "min-replicas-max-lag"]:
                    conn.call("CONFIG", "SET", name, defaults[name.encode()])
        assert not diffs, "%d differences:\n  %s" % (len(diffs), "\n  ".join(diffs))
    finally:
        keel.close()
        ref.close()
