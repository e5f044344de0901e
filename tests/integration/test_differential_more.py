"""More seeded random differential tests against Debian's redis-server 7.0:
streams, scripting (EVAL / FUNCTION) and RESP3.

Same approach as test_differential.py (whose Gen, helpers and Endpoint this
file reuses): the same command sequences go to Keel and to the reference
redis-server over raw sockets and the replies must be identical, error texts
in full. Three tests, each parametrized by seed; every seed starts from empty
servers (FLUSHALL, SCRIPT FLUSH, FUNCTION FLUSH on both).

- test_streams_differential: XADD (explicit ms-seq and ms-* IDs, older and
  invalid IDs, NOMKSTREAM, MAXLEN/MINID "=" trimming), XLEN, XRANGE and
  XREVRANGE, XDEL, XTRIM, XSETID, XGROUP, XREADGROUP (never BLOCK), XACK,
  XPENDING, XCLAIM, XAUTOCLAIM, XINFO STREAM/GROUPS/CONSUMERS, with wrong
  types, arities and options. Idle times are masked (see norm_reply).
- test_scripting_differential: EVAL/EVALSHA/EVAL_RO/SCRIPT and
  FUNCTION LOAD/FCALL/FCALL_RO/LIST/DELETE/FLUSH over a fixed set of
  deterministic scripts and libraries.
- test_resp3_differential: both connections said HELLO 3; a mix of
  test_differential's generator, the stream commands and the scripts, with
  replies read as typed frames (map, set, double, null, boolean, big number,
  verbatim are told apart from arrays, bulk strings and RESP2 nulls). Sets,
  and maps, are compared order-insensitively.

Left out on purpose, where Keel deliberately answers as a newer Redis (each
is marked where the generator or the normalization avoids it):
- approximate trimming ("~"): by design it trims differently; only "=" is
  generated (plus "~" with LIMIT once, as an error check on XADD "=").
- XINFO STREAM's radix-tree-keys/radix-tree-nodes: the shape of Redis's rax
  is an implementation detail, masked.
- XINFO STREAM's idempotent-production fields (Redis 8.6): dropped.
- XINFO CONSUMERS's "inactive" field (Redis 7.2): dropped before comparing,
  like "idle" (time-dependent) is masked.
- XINFO STREAM FULL (7.2's active-time fields), XREADGROUP CLAIM, XACKDEL,
  XDELEX, the "+" ID of XREAD: never generated.
- redis.REDIS_VERSION (Keel reports 7.2.x): never generated.
- the text of RESP3 doubles (Keel writes 7.2's shortest form): doubles are
  compared as numbers.

The real divergences this test found (XTRIM/XGROUP SETID/XSETID argument
order, the largest ID in XREADGROUP, Lua numbers out of range, the
error_reply/status_reply argument check, FCALL's numkeys text, FUNCTION
LOAD's metadata and register_function texts and order, the globals a
library's code sees while FUNCTION LOAD runs it) are fixed and stay
generated.

Knobs: KEEL_DIFF2_SEEDS=1-50 (or 1,5,9; default 1-20), KEEL_DIFF2_COMMANDS=N
(commands per seed and test, default 400). A failure shows the seed, the index, the command (as
redis-cli arguments), both replies and the commands before it.
"""
import hashlib
import os

import pytest
from resp_client import RespConn, RespError
from test_differential import Gen, _seeds, cli, plain, ref_endpoint, short

SEEDS = _seeds(os.environ.get("KEEL_DIFF2_SEEDS", "1-20"))
COMMANDS = int(os.environ.get("KEEL_DIFF2_COMMANDS", "400"))
HISTORY = 14
CHECK_EVERY = 60

# Stream keys, and two keys of other types for WRONGTYPE.
SKEYS = ["s0", "s1", "s2"]
OTHER = ["k0", "l0"]
GROUPS = ["g0", "g1", "g2"]
CONSUMERS = ["c0", "c1", "c2"]
FIELDS = ["f", "g", "name", "1", ""]
VALUES = ["v", "1", "-2", "3.5", "", "x" * 70]
BAD_IDS = ["abc", "1-x", "-1", "1-", "-", "18446744073709551616", "1.5", "1-18446744073709551616", ""]


# ---------------------------------------------------------------- streams


class StreamGen:
    def __init__(self, rnd):
        self.rnd = rnd
        self.ms = {k: 0 for k in SKEYS}  # the highest ms the generator used per key

    def pick(self, seq):
        return self.rnd.choice(seq)

    def skey(self):
        r = self.rnd.random()
        if r < 0.05:
            return self.pick(OTHER)
        if r < 0.08:
            return "nokey"
        return self.pick(SKEYS)

    def group(self):
        return self.pick(GROUPS) if self.rnd.random() < 0.95 else "nogroup"

    def consumer(self):
        return self.pick(CONSUMERS)

    def some_id(self, key, bounds=False):
        """An ID near the ones the key holds: ms-seq, ms, sometimes a bound."""
        r = self.rnd
        top = self.ms.get(key, 10) + 2
        t = r.random()
        if bounds and t < 0.15:
            return self.pick(["-", "+"])
        if t < 0.03:
            return self.pick(BAD_IDS)
        if t < 0.08:
            return self.pick(["0", "0-0", "0-1", "18446744073709551615-18446744073709551615", "18446744073709551615"])
        ms = r.randint(0, top)
        if r.random() < 0.3:
            return str(ms)
        return "%d-%d" % (ms, r.randint(0, 2))

    def range_id(self, key):
        i = self.some_id(key, bounds=True)
        if self.rnd.random() < 0.2 and i not in ("",):
            return "(" + i  # exclusive bound (also "(-", "(+", errors)
        return i

    def new_id(self, key):
        """An XADD ID: usually above the generator's last one for the key."""
        r = self.rnd
        t = r.random()
        last = self.ms.get(key, 0)
        if t < 0.07:
            return self.pick(BAD_IDS[:4] + ["0-0", "0", "*-1", "1-*-1"])
        if t < 0.15 and last > 0:
            # an older or equal ID: "equal or smaller than the target stream top item"
            return "%d-%d" % (r.randint(0, last), r.randint(0, 1))
        ms = last + r.randint(0, 3)
        if key in self.ms:
            self.ms[key] = ms
        if r.random() < 0.35:
            return "%d-*" % ms
        if r.random() < 0.1:
            return str(ms)  # ms alone: seq 0
        return "%d-%d" % (ms, r.randint(0 if ms else 1, 3))

    def trim(self, key):
        """MAXLEN/MINID with "=" or nothing (never "~": approximate trimming
        differs by design)."""
        r = self.rnd
        kind = self.pick(["MAXLEN", "MINID", "maxlen"])
        eq = ["="] if r.random() < 0.5 else []
        if kind.upper() == "MAXLEN":
            th = self.pick(["0", "1", "2", "3", "5", "10", "-1", "abc"])
        else:
            th = self.some_id(key)
        out = [kind] + eq + [th]
        if r.random() < 0.03:
            # LIMIT without "~" is an error on both
            out += ["LIMIT", self.pick(["10", "0"])]
        return out

    def fields(self):
        out = []
        for _ in range(self.rnd.randint(1, 3)):
            out += [self.pick(FIELDS), self.pick(VALUES)]
        return out

    def command(self):
        return self._command()

    def _command(self):
        r = self.rnd
        k = self.skey()
        n = r.randrange(40)
        if n < 9:
            args = ["XADD", k]
            if r.random() < 0.1:
                args.append("NOMKSTREAM")
            if r.random() < 0.2:
                args += self.trim(k)
            args += [self.new_id(k)] + self.fields()
            if r.random() < 0.03:
                args = args[:-1]  # odd number of field/value words
            return args, None
        if n == 9:
            return ["XLEN", k], None
        if n in (10, 11, 12):
            name = self.pick(["XRANGE", "XREVRANGE"])
            a, b = self.range_id(k), self.range_id(k)
            if name == "XRANGE" and r.random() < 0.5:
                a, b = self.pick(["-", a]), self.pick(["+", b])
            elif r.random() < 0.5:
                a, b = self.pick(["+", a]), self.pick(["-", b])
            args = [name, k, a, b]
            if r.random() < 0.4:
                args += ["COUNT", self.pick(["0", "1", "2", "5", "-1", "abc"])]
            return args, None
        if n == 13:
            return ["XDEL", k] + [self.some_id(k) for _ in range(r.randint(1, 3))], None
        if n == 14:
            return ["XTRIM", k] + self.trim(k), None
        if n == 15:
            args = ["XSETID", k, self.some_id(k)]
            if r.random() < 0.4:
                args += ["ENTRIESADDED", self.pick(["0", "1", "5", "20", "100", "-1", "abc"])]
            if r.random() < 0.4:
                args += ["MAXDELETEDID", self.some_id(k)]
            return args, None
        if n in (16, 17):
            args = ["XGROUP", "CREATE", k, self.group(), self.pick(["$", "0", "0-0", self.some_id(k)])]
            if r.random() < 0.3:
                args.append("MKSTREAM")
            if r.random() < 0.25:
                args += ["ENTRIESREAD", self.pick(["0", "1", "2", "5", "-1", "-2", "abc", "100"])]
            return args, None
        if n == 18:
            args = ["XGROUP", "SETID", k, self.group(), self.pick(["$", "0", self.some_id(k)])]
            if r.random() < 0.3:
                args += ["ENTRIESREAD", self.pick(["0", "1", "3", "-1", "-3", "abc"])]
            return args, None
        if n == 19:
            if r.random() < 0.3:
                return ["XGROUP", "DESTROY", k, self.group()], None
            return ["XGROUP", self.pick(["CREATECONSUMER", "DELCONSUMER"]), k, self.group(), self.consumer()], None
        if n in (20, 21, 22, 23):
            args = ["XREADGROUP", "GROUP", self.group(), self.consumer()]
            if r.random() < 0.5:
                args += ["COUNT", self.pick(["1", "2", "3", "0", "-1"])]
            if r.random() < 0.15:
                args.append("NOACK")
            ks = [k] if r.random() < 0.8 else [k, self.skey()]
            ids = [">" if r.random() < 0.7 else self.pick(["0", "0-0", self.some_id(k), "$"]) for _ in ks]
            if r.random() < 0.03:
                ids = ids[:-1]  # unbalanced list of streams
            return args + ["STREAMS"] + ks + ids, "xread"
        if n == 24:
            # XREAD without BLOCK, explicit IDs only (no "+": a Redis 7.4 addition)
            args = ["XREAD"]
            if r.random() < 0.5:
                args += ["COUNT", self.pick(["1", "2", "5"])]
            return args + ["STREAMS", k, self.pick(["0", "$", self.some_id(k)])], "xread"
        if n in (25, 26):
            return ["XACK", k, self.group()] + [self.some_id(k) for _ in range(r.randint(1, 3))], None
        if n == 27:
            return ["XPENDING", k, self.group()], None
        if n in (28, 29):
            args = ["XPENDING", k, self.group()]
            if r.random() < 0.2:
                args += ["IDLE", "0"]  # (only 0: larger ones depend on time)
            args += [self.range_id(k), self.range_id(k), self.pick(["1", "2", "10", "0", "-1", "abc"])]
            if r.random() < 0.4:
                args.append(self.consumer())
            return args, "xpending"
        if n in (30, 31):
            args = ["XCLAIM", k, self.group(), self.consumer(), self.pick(["0", "0", "0", "-1", "abc"])]
            args += [self.some_id(k) for _ in range(r.randint(1, 3))]
            for opt, vals in (("RETRYCOUNT", ["0", "3", "-1", "abc"]), ("IDLE", ["0", "1000"]),
                              ("LASTID", None)):
                if r.random() < 0.12:
                    args += [opt, self.some_id(k) if vals is None else self.pick(vals)]
            if r.random() < 0.15:
                args.append("FORCE")
            if r.random() < 0.35:
                args.append("JUSTID")
            return args, None
        if n in (32, 33):
            args = ["XAUTOCLAIM", k, self.group(), self.consumer(), self.pick(["0", "0", "-1", "abc"]),
                    self.pick(["0", "0-0", "-", self.some_id(k)])]
            if r.random() < 0.4:
                args += ["COUNT", self.pick(["1", "2", "10", "0", "-1"])]
            if r.random() < 0.35:
                args.append("JUSTID")
            return args, None
        if n == 34:
            return ["XINFO", "STREAM", k], "xinfo"
        if n == 35:
            return ["XINFO", "GROUPS", k], "xinfo"
        if n == 36:
            return ["XINFO", "CONSUMERS", k, self.group()], "xinfo"
        if n == 37:
            # set up the other-typed keys (and remove a stream now and then)
            t = r.random()
            if t < 0.4:
                return ["SET", "k0", self.pick(VALUES)], None
            if t < 0.8:
                return ["RPUSH", "l0", "a"], None
            return ["DEL", self.pick(SKEYS)], None
        # errors: unknown options and subcommands, wrong arities
        return self.pick([
            ["XADD", k], ["XADD", k, "FOO", "1-1", "a", "b"], ["XRANGE", k, "-"], ["XRANGE", k, "-", "+", "COUNT"],
            ["XRANGE", k, "-", "+", "FOO", "1"], ["XTRIM", k, "FOO", "1"], ["XTRIM", k, "MAXLEN"],
            ["XGROUP", "FOO", k], ["XGROUP", "CREATE", k, "g0"], ["XINFO", "FOO", k], ["XINFO", "STREAM"],
            ["XREADGROUP", "GROUP", "g0", "c0", "STREAMS", k], ["XREADGROUP", "STREAMS", k, ">"],
            ["XREADGROUP", "GROUP", "g0", "c0", "FOO", "STREAMS", k, ">"], ["XPENDING", k],
            ["XPENDING", k, "g0", "-", "+"], ["XCLAIM", k, "g0", "c0", "0"], ["XAUTOCLAIM", k, "g0", "c0", "0"],
            ["XAUTOCLAIM", k, "g0", "c0", "0", "0", "FOO"], ["XSETID", k], ["XSETID", k, "1-1", "FOO", "1"],
            ["XACK", k, "g0"], ["XDEL", k], ["XLEN"], ["XGROUP", "SETID", k, "g0"],
            ["XGROUP", "CREATE", k, "g0", "$", "FOO"], ["XREAD", "STREAMS"],
        ]), None


def _valid_id(text):
    parts = text.split("-")
    return 1 <= len(parts) <= 2 and all(p.isdigit() and int(p) < 1 << 64 for p in parts)


# ---------------------------------------------------------------- scripting


# (body, numkeys, args: list of candidate lists) -- deterministic scripts only
SCRIPTS = [
    ("return redis.call('incr', KEYS[1])", 1, []),
    ("return redis.pcall('incr', KEYS[1])", 1, []),
    ("return redis.call('set', KEYS[1], ARGV[1])", 1, [["1", "2.5", "abc", ""]]),
    ("return redis.call('get', KEYS[1])", 1, []),
    ("return redis.call('type', KEYS[1])", 1, []),
    ("return redis.call('xadd', KEYS[1], ARGV[1], 'f', ARGV[2])", 1, [["1-1", "5-*", "9-9", "0-0", "x"], ["a", "1"]]),
    ("return redis.call('xrange', KEYS[1], '-', '+')", 1, []),
    ("return redis.pcall('xlen', KEYS[1])", 1, []),
    ("return redis.call('xreadgroup', 'GROUP', ARGV[1], 'c0', 'COUNT', '2', 'STREAMS', KEYS[1], '>')", 1,
     [["g0", "g1"]]),
    ("return redis.pcall('xpending', KEYS[1], ARGV[1])", 1, [["g0", "g1"]]),
    ("return redis.call('hset', KEYS[1], 'f', ARGV[1])", 1, [["1", "x"]]),
    ("return redis.call('hgetall', KEYS[1])", 1, []),
    ("return redis.call('zadd', KEYS[1], ARGV[1], 'm')", 1, [["1.5", "2", "-0.25", "x"]]),
    ("return redis.call('zrange', KEYS[1], 0, -1, 'WITHSCORES')", 1, []),
    ("return redis.call('zscore', KEYS[1], 'm')", 1, []),
    ("return redis.call('sadd', KEYS[1], ARGV[1])", 1, [["a", "1"]]),
    ("return redis.call('scard', KEYS[1])", 1, []),
    ("return redis.call('rpush', KEYS[1], ARGV[1], ARGV[2])", 1, [["a", "1"], ["b", ""]]),
    ("return redis.call('lrange', KEYS[1], 0, -1)", 1, []),
    ("local r = redis.pcall('hget', KEYS[1], 'f'); if type(r) == 'table' then return {'err', r['err']} end; "
     "return {'ok', r}", 1, []),
    ("local r = redis.pcall('incr', KEYS[1]); if type(r) == 'table' then return r['err'] end; return r", 1, []),
    ("local v = redis.call('get', KEYS[1]); return {type(v), tostring(v)}", 1, []),
    ("return {type(redis.call('hget', 'nokey', 'f')), type(redis.call('lrange', 'nokey', 0, -1))}", 0, []),
    ("return redis.call('exists', KEYS[1], KEYS[2])", 2, []),
    ("return redis.call('del', KEYS[1])", 1, []),
    # type conversions, Lua to Redis
    ("return 1.5", 0, []), ("return -3.99", 0, []), ("return 2^53", 0, []), ("return 0.000001", 0, []),
    ("return {1.5, -2.7, 3}", 0, []), ("return true", 0, []), ("return false", 0, []), ("return nil", 0, []),
    ("return {1, 2, nil, 4}", 0, []), ("return {nil, 2}", 0, []), ("return {1, {2, {3, 'x'}}, true, false}", 0, []),
    ("return {a=1, b=2}", 0, []), ("return {1, 2, a=3}", 0, []), ("return ''", 0, []), ("return 'x\\0y'", 0, []),
    ("local t = {}; t[1] = 'a'; t[3] = 'c'; return t", 0, []),
    ("return {ok='fine'}", 0, []), ("return {err='my error'}", 0, []), ("return {err='WRONG bad'}", 0, []),
    ("return redis.status_reply(ARGV[1])", 0, [["FINE", "", "with space", "-x"]]),
    ("return redis.error_reply(ARGV[1])", 0, [["MY err", "noprefix", "-ERR dash", "", "-"]]),
    ("return {redis.status_reply('A'), redis.error_reply('B c')}", 0, []),
    ("return tostring(0.1) .. ' ' .. tostring(1e15) .. ' ' .. tostring(1/3)", 0, []),
    ("return {tonumber('0x10'), tonumber('1e3'), tonumber('abc')}", 0, []),
    ("return #KEYS + #ARGV * 10", None, []), ("return {KEYS, ARGV}", None, []),
    ("return {KEYS[1], ARGV[1], KEYS[3]}", None, []),
    # runtime errors and their texts
    ("return redis.call('hget', KEYS[1], 'f')", 1, []),
    ("return redis.call('nosuchcommand')", 0, []), ("return redis.pcall('nosuchcommand')", 0, []),
    ("return redis.call('get')", 0, []), ("return redis.call('set', KEYS[1])", 1, []),
    ("return redis.pcall('set', KEYS[1], 'v', 'EX', 'abc')", 1, []),
    ("return redis.call('set', KEYS[1], 'v', 'EX', 'abc')", 1, []),
    ("return redis.call()", 0, []), ("return redis.call('get', {})", 0, []), ("return redis.call(1)", 0, []),
    ("return redis.call('set', 'k0', true)", 0, []), ("return redis.call('get', 1.5)", 0, []),
    ("return redis.call('multi')", 0, []), ("return redis.call('eval', 'return 1', 0)", 0, []),
    ("error('oops')", 0, []), ("error({err='tbl err'})", 0, []), ("local t = nil; return t.x", 0, []),
    ("return 'a' .. nil", 0, []), ("return undefined_global.x", 0, []), ("x = 1", 0, []),
    ("return (", 0, []), ("retur 1", 0, []), ("return 1 +", 0, []),
    ("return redis.pcall('nosuch')['err']", 0, []),
    # libraries
    ("return cjson.encode({a=1, b={1, 2, 3}, c='x'})", 0, []),
    ("return cjson.encode(cjson.decode(ARGV[1]))", 0,
     [['{"x":[1,2.5,"s",null,true]}', '[1,2,{"a":3.5}]', '"str"', '{"k1":1,"k2":[1,2],"k3":{"z":null}}', '[',
       '{"a":}', '1e400', '[]', '{}']]),
    ("return cjson.decode(ARGV[1])", 0, [['[1,2,3]', '[1.5,"a",true,false]', '{"a":1}', '[1,[2,[3]]]', 'x']]),
    ("return cmsgpack.pack({1, 2, 'a', {x=1}})", 0, []),
    ("return cmsgpack.unpack(cmsgpack.pack({1, 2, 'a', {x=1}, -5, 3.5}))", 0, []),
    ("return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3}))}", 0, []),
    ("return cmsgpack.pack(ARGV[1], tonumber(ARGV[2]))", 0, [["a", "b"], ["1", "300", "-70000", "1.5"]]),
    ("return struct.pack('>I2i4', 258, -1)", 0, []), ("return {struct.unpack('>I2', 'ab')}", 0, []),
    ("return struct.size('>I2i4d')", 0, []), ("return {struct.unpack('<i4', struct.pack('<i4', -123456))}", 0, []),
    ("return {bit.band(0xff, 0x0f), bit.bor(1, 2), bit.bxor(5, 3), bit.lshift(1, 10), bit.tohex(65535)}", 0, []),
    ("return {bit.bnot(0), bit.arshift(-256, 4), bit.rshift(-1, 28), bit.tobit(2^32 + 5)}", 0, []),
    ("return redis.sha1hex(ARGV[1])", 0, [["abc", "", "x" * 70]]),
    ("return redis.sha1hex()", 0, []),
    ("return string.format('%d %s %5.2f', 5, 'x', 3.14159)", 0, []),
    ("return table.concat({1, 2, 3}, ',')", 0, []),
    ("return {math.floor(3.7), math.max(1, 5, 3), string.rep('ab', 3), string.upper('abc')}", 0, []),
    ("return {string.byte('A'), string.char(72, 105), #'hello', string.sub('hello', 2, 3)}", 0, []),
    ("return loadstring('return 1')", 0, []),
    ("local t = {}; for i = 1, 5 do t[#t + 1] = redis.call('incr', KEYS[1]) end; return t", 1, []),
    ("redis.setresp(3); return redis.call('hgetall', KEYS[1])", 1, []),
    ("redis.setresp(3); return redis.call('zscore', KEYS[1], 'm')", 1, []),
    ("redis.setresp(3); return {redis.call('sismember', KEYS[1], 'a'), redis.call('get', 'nokey')}", 1, []),
    ("return {double=1.5}", 0, []), ("return {big_number='12345678901234567890'}", 0, []),
    ("return {map={a=1}}", 0, []), ("return {set={a=true}}", 0, []),
]
# Divergences this test found, now fixed and kept in generation.
FIXED_SCRIPTS = [
    # Lua number out of the int64 range (or NaN) as an integer reply:
    # Redis's cast gives -9223372036854775808 on x86-64.
    ("return 1e20", 0, []), ("return {-1e20, 0/0}", 0, []),
    # redis.error_reply/status_reply with a wrong argument return the error
    # as a value (no script location).
    ("return redis.error_reply()", 0, []), ("return redis.status_reply()", 0, []),
    ("return redis.error_reply(1)", 0, []), ("return redis.status_reply({})", 0, []),
]
# Never generated: redis.REDIS_VERSION (Keel reports 7.2.x by design).

LIB_A = ("#!lua name=libA\n"
         "redis.register_function('fa_incr', function(keys, args) return redis.call('incrby', keys[1], args[1] or 1) end)\n"
         "redis.register_function{function_name='fa_get', callback=function(keys, args) "
         "return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}\n")
LIB_A2 = ("#!lua name=libA\n"
          "redis.register_function{function_name='fa_get', callback=function(keys, args) "
          "return {'v2', redis.call('get', keys[1])} end, flags={'no-writes', 'allow-stale'}}\n")
LIB_B = ("#!lua name=libB\n"
         "local function echo(keys, args) return {keys, args} end\n"
         "redis.register_function('fb_echo', echo)\n"
         "redis.register_function{function_name='fb_err', callback=function() return redis.error_reply('custom fb') end}\n"
         "redis.register_function{function_name='fb_fail', callback=function(keys) return redis.call('hget', keys[1], 'x') end}\n"
         "redis.register_function{function_name='fb_ro', callback=function(keys) return redis.call('set', keys[1], 'x') end, "
         "flags={'no-writes'}}\n")
LIB_C = ("#!lua name=lib_c\n"
         "redis.register_function('fc', function(keys, args) return #keys + #args end)\n")
BAD_LIBS = [
    "return 1",
    "#!lua\nreturn 1",
    "#!lua name=libBad\nreturn (",
    "#!lua name=libBad\nreturn 1",
    "#!js name=libBad\nreturn 1",
    "#!lua name=libBad\nredis.call('set', 'x', 'y')",
    "#!lua name=libBad\nredis.register_function{function_name='g', callback=function() return 1 end, flags={'bad-flag'}}",
    "#!lua name=libBad foo=bar\nreturn 1",
    "#!lua name=a-b\nreturn 1",
    "#!lua name=libBad\nredis.register_function('f-1', function() return 1 end)",
    "#!lua name=libBad\nlocal x = nil; x.y = 1",
    "#!lua name=libBad\nredis.register_function('fm', function() return 1 end)\n"
    "redis.register_function('fm', function() return 1 end)",
    "#!lua name=libBad\nredis.register_function{function_name='fo', callback=function() return 1 end, foo=1}",
    # (loads when libA is not there: named apart from libBad, see FIXED_BAD_LIBS)
    "#!lua name=libDup\nredis.register_function('fa_incr', function() return 1 end)",
]
FIXED_BAD_LIBS = [
    # the shebang without a newline: "Invalid library metadata"
    "#!lua name=libBad",
    "#!lua name=libBad redis.register_function('f', function() return 1 end)",
    # single non-table argument / non-function callback: Redis's texts
    "#!lua name=libBad\nredis.register_function('fj')",
    "#!lua name=libBad\nredis.register_function('fp', 5)",
    # a numeric description is accepted (lua_isstring); libBad then exists,
    # and loading a failing libBad again answers "Library 'libBad' already
    # exists" (checked before the code runs)
    "#!lua name=libBad\nredis.register_function{function_name='fn', callback=function() return 1 end, description=5}",
]
# Library code at load time sees only `redis` with register_function, log,
# the LOG_* levels and the version; everything else (error, string,
# redis.setresp, redis.call, ...) is a missing global there, as in Redis
# 7.0. The functions it registers see every global when called.
FIXED_BAD_LIBS += [
    "#!lua name=libBad\nerror('boom')",
    "#!lua name=libBad\nredis.setresp(3)",
    "#!lua name=libBad\nlocal s = string.format('%d', 1)",
    "#!lua name=libBad\nlocal h = redis.sha1hex('a')",
    "#!lua name=libBad\nx = 1",
    "#!lua name=libLog\nredis.log(redis.LOG_NOTICE, 'loading')\n"
    "redis.register_function('flog', function() return redis.REDIS_VERSION_NUM > 0 end)",
]
FUNCS = ["fa_incr", "fa_get", "fb_echo", "fb_err", "fb_fail", "fb_ro", "fc", "nosuchfn"]


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


class ScriptGen:
    def __init__(self, rnd):
        self.rnd = rnd
        self.scripts = SCRIPTS + FIXED_SCRIPTS
        self.bad_libs = BAD_LIBS + FIXED_BAD_LIBS

    def pick(self, seq):
        return self.rnd.choice(seq)

    def key(self):
        return self.pick(["k0", "k1", "s0", "s1", "l0", "h0", "z0"])

    def script_args(self):
        r = self.rnd
        body, nk, argc = self.pick(self.scripts)
        if nk is None:
            nk = r.randint(0, 3)
        keys = [self.key() for _ in range(nk)]
        args = [self.pick(c) for c in argc]
        if r.random() < 0.1:
            args.append(self.pick(["extra", "1"]))
        numkeys = str(nk)
        if r.random() < 0.03:
            numkeys = self.pick(["-1", "abc", str(nk + 5), ""])
        return body, [numkeys] + keys + args

    def command(self):
        r = self.rnd
        n = r.randrange(30)
        if n < 12:
            body, rest = self.script_args()
            return ["EVAL", body] + rest, None
        if n < 16:
            body, rest = self.script_args()
            sha = sha1(body) if r.random() < 0.9 else self.pick(["abc", "0" * 40, sha1(body).upper()])
            return ["EVALSHA", sha] + rest, None
        if n == 16:
            body, rest = self.script_args()
            return [self.pick(["EVAL_RO", "EVALSHA_RO"]), body if r.random() < 0.7 else sha1(body)] + rest, None
        if n == 17:
            return ["EVAL_RO", "return redis.call('set', KEYS[1], 'x')", "1", self.key()], None
        if n == 18:
            return ["SCRIPT", "LOAD", self.pick(self.scripts)[0]], None
        if n == 19:
            shas = [sha1(self.pick(self.scripts)[0]) for _ in range(r.randint(1, 3))]
            if r.random() < 0.3:
                shas.append(self.pick(["abc", "0" * 40]))
            return ["SCRIPT", "EXISTS"] + shas, None
        if n == 20 and r.random() < 0.3:
            return ["SCRIPT", "FLUSH"] + ([self.pick(["SYNC", "ASYNC", "FOO"])] if r.random() < 0.3 else []), None
        if n == 21:
            args = ["FUNCTION", "LOAD"]
            if r.random() < 0.3:
                args.append("REPLACE")
            lib = self.pick([LIB_A, LIB_A2, LIB_B, LIB_C] + [self.pick(self.bad_libs)])
            return args + [lib], None
        if n in (22, 23, 24):
            name = self.pick(["FCALL", "FCALL", "FCALL_RO"])
            nk = r.randint(0, 2)
            # (a numkeys that is no number: Redis says "Bad number of keys
            # provided", Keel "value is not an integer": a known divergence)
            numkeys = str(nk) if r.random() < 0.95 else self.pick(["-1", "9", "abc"])
            return [name, self.pick(FUNCS), numkeys] + [self.key() for _ in range(nk)] + \
                [self.pick(["1", "5", "a", "2.5"]) for _ in range(r.randint(0, 2))], None
        if n == 25:
            args = ["FUNCTION", "LIST"]
            if r.random() < 0.3:
                args += ["LIBRARYNAME", self.pick(["lib*", "libA", "lib?", "x*", "*"])]
            if r.random() < 0.3:
                args.append("WITHCODE")
            if r.random() < 0.03:
                args.append("FOO")
            return args, "funclist"
        if n == 26:
            return ["FUNCTION", "DELETE", self.pick(["libA", "libB", "lib_c", "libDup", "libX"])], None
        if n == 27 and r.random() < 0.2:
            return ["FUNCTION", "FLUSH"], None
        if n == 28:
            # data for the scripts to meet
            return self.pick([["SET", "k0", self.pick(["1", "abc", "2.5"])], ["HSET", "h0", "f", "1"],
                              ["ZADD", "z0", "1.5", "m"], ["RPUSH", "l0", "a"], ["XADD", "s0", "1-*", "f", "v"],
                              ["XGROUP", "CREATE", "s0", "g0", "0", "MKSTREAM"], ["SADD", "k1", "a"],
                              ["DEL", self.key()]]), None
        return self.pick([["EVAL"], ["EVAL", "return 1"], ["EVALSHA", "abc"], ["SCRIPT"], ["SCRIPT", "FOO"],
                          ["SCRIPT", "EXISTS"], ["FCALL", "fa_incr"], ["FUNCTION", "FOO"], ["FUNCTION", "LOAD"],
                          ["FUNCTION", "DELETE"], ["FUNCTION", "FLUSH", "FOO"], ["EVAL", "return 1", "1"]]), None


# ---------------------------------------------------------------- typed frames


class Typed:
    """A RESP3 frame whose type has no Python counterpart of its own."""
    __slots__ = ("kind", "value")

    def __init__(self, kind, value):
        self.kind, self.value = kind, value

    def __eq__(self, other):
        return isinstance(other, Typed) and (self.kind, self.value) == (other.kind, other.value)

    def __hash__(self):
        return hash((self.kind, repr(self.value)))

    def __repr__(self):
        return "%s(%r)" % (self.kind, self.value)


class TypedConn(RespConn):
    """RespConn that keeps every RESP3 type apart: Typed("map", [(k, v)..]),
    Typed("set", [..]), Typed("double", float or "nan"), Typed("null"),
    Typed("bool"), Typed("big"), Typed("verbatim", (format, data)),
    Typed("push", [..]); the RESP2 types as RespConn reads them."""

    def frame(self, kind, value):
        if kind == "double" and value != value:
            value = "nan"  # as a number otherwise: Keel writes 7.2's shortest text (by design)
        return Typed(kind, value)


def tplain(x):
    """Typed frames as comparable data: errors become ("-ERR", text), sets
    and maps are sorted (their order is unspecified)."""
    if isinstance(x, RespError):
        return ("-ERR", str(x))
    if isinstance(x, list):
        return [tplain(v) for v in x]
    if isinstance(x, Typed):
        if x.kind == "set":
            return Typed("set", sorted((tplain(v) for v in x.value), key=repr))
        if x.kind == "map":
            return Typed("map", sorted(((tplain(k), tplain(v)) for k, v in x.value), key=repr))
        if x.kind == "push":
            return Typed("push", [tplain(v) for v in x.value])
    return x


# ---------------------------------------------------------------- normalizing


def _pairs(x):
    """A flat RESP2 field/value list or a RESP3 map, as (k, v) pairs."""
    if isinstance(x, Typed) and x.kind == "map":
        return list(x.value), True
    if isinstance(x, list) and len(x) % 2 == 0:
        return list(zip(x[0::2], x[1::2])), False
    return None, False


def _unpairs(pairs, was_map):
    if was_map:
        return Typed("map", pairs)
    return [y for p in pairs for y in p]


def mask_fields(x, drop=(), mask=()):
    pairs, was_map = _pairs(x)
    if pairs is None:
        return x
    out = []
    for k, v in pairs:
        if k in drop:
            continue
        out.append((k, "<masked>" if k in mask else v))
    return _unpairs(out, was_map)


IDMP_FIELDS = (b"idmp-duration", b"idmp-maxsize", b"pids-tracked", b"iids-tracked", b"iids-added",
               b"iids-duplicates")


def norm_reply(reply, norm, argv):
    """reply (after plain/tplain) made comparable for norm."""
    if norm is None or isinstance(reply, tuple):
        return reply
    if norm == "xinfo" and len(argv) > 1:
        sub = argv[1].upper()
        if sub == "STREAM":
            # the shape of the radix tree is an implementation detail; the
            # idempotent-production fields are Redis 8.6's addition
            return mask_fields(reply, drop=IDMP_FIELDS, mask=(b"radix-tree-keys", b"radix-tree-nodes"))
        if sub == "CONSUMERS" and isinstance(reply, list):
            # idle is time-dependent; inactive is Redis 7.2's addition
            return [mask_fields(c, drop=(b"inactive",), mask=(b"idle",)) for c in reply]
        return reply
    if norm == "xpending" and isinstance(reply, list):
        # [id, consumer, idle, deliveries]: idle depends on time
        return [e[:2] + ["<idle>"] + e[3:] if isinstance(e, list) and len(e) == 4 else e for e in reply]
    if norm == "funclist" and isinstance(reply, list):
        libs = []
        for lib in reply:
            pairs, was_map = _pairs(lib)
            if pairs is None:
                libs.append(lib)
                continue
            out = []
            for k, v in pairs:
                if k == b"functions" and isinstance(v, list):
                    fs = []
                    for f in v:
                        fp, fm = _pairs(f)
                        if fp is not None:
                            fp = [(a, sorted(b, key=repr) if a == b"flags" and isinstance(b, list) else
                                   Typed("set", sorted(b.value, key=repr)) if a == b"flags" and isinstance(b, Typed)
                                   else b) for a, b in fp]
                            f = _unpairs(fp, fm)
                        fs.append(f)
                    v = sorted(fs, key=repr)
                out.append((k, v))
            libs.append(_unpairs(out, was_map))
        return sorted(libs, key=repr)
    if norm == "xread":
        return reply
    return reply


def normalize_any(reply, norm, argv):
    """test_differential's norms ("sort", "pairs", "ttl", "exec") on typed
    replies, and this file's own."""
    if isinstance(norm, tuple) and norm[0] == "exec":
        if isinstance(reply, list) and len(reply) == len(norm[1]):
            return [normalize_any(x, nm, None) for x, nm in zip(reply, norm[1])]
        return reply
    if isinstance(norm, tuple) and norm[0] == "execv":
        # (a MULTI block of this file's commands: their argv come along)
        if isinstance(reply, list) and len(reply) == len(norm[1]):
            return [normalize_any(x, nm, a) for x, (a, nm) in zip(reply, norm[1])]
        return reply
    if norm == "sort" and isinstance(reply, list):
        return sorted(reply, key=repr)
    if norm == "pairs" and isinstance(reply, list):
        return sorted(zip(reply[0::2], reply[1::2]), key=repr)
    if norm == "ttl" and isinstance(reply, int):
        return "pos" if reply > 0 else reply
    if argv is None:
        return reply
    return norm_reply(reply, norm, argv)


# ---------------------------------------------------------------- running


def history(log, n=HISTORY):
    return "\n".join("  #%d %s -> %s" % (i, cli(a), short(rep, 200)) for i, a, rep in log[-n:])


def stream_dump(conn, conv):
    """Every stream key's entries and groups (over a side connection)."""
    out = {}
    for key in SKEYS:
        t = conn.call("TYPE", key)
        if t != "stream":
            out[key] = t
            continue
        groups = conv(conn.call("XINFO", "GROUPS", key))
        pend = {}
        for g in GROUPS:
            pend[g] = norm_reply(conv(conn.call("XPENDING", key, g, "-", "+", "1000")), "xpending", None)
        out[key] = (conv(conn.call("XRANGE", key, "-", "+")),
                    norm_reply(conv(conn.call("XINFO", "STREAM", key)), "xinfo", ["XINFO", "STREAM"]),
                    groups, pend)
    return out


def run_batch(server, redis_ref, seed, items, resp3=False, check_streams=False):
    keel_ep, ref_ep = server, ref_endpoint(redis_ref)
    cls = TypedConn if resp3 else RespConn
    conv = tplain if resp3 else plain
    conns = [cls(keel_ep), cls(ref_ep), cls(keel_ep), cls(ref_ep)]
    keel, ref, keel_side, ref_side = conns
    try:
        for c in conns:
            if resp3:
                hello = c.call("HELLO", "3")
                assert isinstance(hello, Typed) and hello.kind == "map"
        for c in (keel, ref):
            for cmd in (["FLUSHALL"], ["SCRIPT", "FLUSH"], ["FUNCTION", "FLUSH"]):
                assert c.call(*cmd) == "OK"
        log = []
        for i, (args, norm) in enumerate(items):
            keel.send(*args)
            got = normalize_any(conv(keel.read()), norm, args)
            ref.send(*args)
            want = normalize_any(conv(ref.read()), norm, args)
            if got != want:
                pytest.fail("seed %d%s, command #%d differs:\n  %s\n  keel:  %s\n  redis: %s\n"
                            "previous commands (same replies on both):\n%s"
                            % (seed, " (RESP3)" if resp3 else "", i, cli(args), short(got, 3000),
                               short(want, 3000), history(log)), pytrace=False)
            log.append((i, args, got))
            if check_streams and ((i + 1) % CHECK_EVERY == 0 or i == len(items) - 1):
                kd, rd = stream_dump(keel_side, conv), stream_dump(ref_side, conv)
                if kd != rd:
                    diff = ["%s: keel %s\n     redis %s" % (k, short(kd[k], 1500), short(rd[k], 1500))
                            for k in SKEYS if kd[k] != rd[k]]
                    pytest.fail("seed %d%s: after command #%d the streams differ:\n  %s\n"
                                "commands before:\n%s" % (seed, " (RESP3)" if resp3 else "", i,
                                                          "\n  ".join(diff), history(log, CHECK_EVERY)),
                                pytrace=False)
    finally:
        for c in conns:
            c.close()


def stream_items(seed, n):
    g = Gen(seed)  # (its seeded Random drives this generator too)
    sg = StreamGen(g.rnd)
    out = []
    while len(out) < n:
        if g.rnd.random() < 0.03:
            # a MULTI block of stream commands
            block = [sg.command() for _ in range(g.rnd.randint(1, 4))]
            out += [(["MULTI"], None)] + [(a, None) for a, _ in block] + [(["EXEC"], ("execv", block))]
        else:
            out.append(sg.command())
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_streams_differential(server, redis_ref, seed):
    run_batch(server, redis_ref, seed, stream_items(seed, COMMANDS), check_streams=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_scripting_differential(server, redis_ref, seed):
    g = Gen(seed + 100000)
    sg = ScriptGen(g.rnd)
    run_batch(server, redis_ref, seed, [sg.command() for _ in range(COMMANDS)])


@pytest.mark.parametrize("seed", SEEDS)
def test_resp3_differential(server, redis_ref, seed):
    g = Gen(seed + 200000)
    stg, scg = StreamGen(g.rnd), ScriptGen(g.rnd)
    items = []
    while len(items) < COMMANDS:
        t = g.rnd.random()
        if t < 0.6:
            items.extend(g.block())
        elif t < 0.8:
            items.append(stg.command())
        else:
            items.append(scg.command())
    run_batch(server, redis_ref, seed, items, resp3=True)
