"""Seeded random-command robustness test.

Every command the server lists in COMMAND is sent with random argument
vectors (arity-respecting lengths and some wrong ones) drawn from a pool of
key names of every type, edge-case numbers, option words, binary junk and
long strings. Any reply is accepted, errors included; the test fails on a
dropped connection, a reply slower than 5 s, a reply that is not valid RESP
for the connection's protocol, a failed PING or unbounded memory after a
batch, and (through the harness) an ASan/UBSan report at server exit.

Each batch seeds a keyspace with every type and encoding, leaves a few
clients blocked on keys, runs random commands (half generated from the
command table, half mutated from well-formed templates) on one connection,
sometimes in RESP3, with a subscriber receiving keyspace events and tracking
invalidations. One more case runs under a 1 MB maxmemory.

The command sequence is a function of the seed alone. Run longer with
KEEL_FUZZ_ROUNDS=N (batches per seed, default 20) of KEEL_FUZZ_BATCH
commands (default 1000), other seeds with KEEL_FUZZ_SEEDS=1,2,3; a failure
prints the seed and the last commands. KEEL_FUZZ_TRACE=file logs every
command, KEEL_FUZZ_STATS=1 prints per-command reply/error counts (with -s).
"""
import hashlib
import os
import random
import socket

import pytest

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)
REPLY_TIMEOUT = 5.0
MEMORY_LIMIT = 512 * 1024 * 1024

ROUNDS = int(os.environ.get("KEEL_FUZZ_ROUNDS", "20"))
SEEDS = [int(s) for s in os.environ.get("KEEL_FUZZ_SEEDS", "11,22,33,44").split(",")]
TRACE = open(os.environ["KEEL_FUZZ_TRACE"], "w") if os.environ.get("KEEL_FUZZ_TRACE") else None
STATS = {} if os.environ.get("KEEL_FUZZ_STATS") else None
CMDS_PER_BATCH = int(os.environ.get("KEEL_FUZZ_BATCH", "1000"))

# Commands that would stop or stall the test, or that change how replies are
# framed on the connection (subscribe mode), are never sent.
EXCLUDED = {"shutdown", "debug", "monitor", "subscribe", "psubscribe", "ssubscribe", "sync", "psync",
            "replicaof", "slaveof", "wait", "waitaof", "save", "bgsave", "bgrewriteaof", "failover"}

# Where the blocking commands take their timeout (index into argv after the name).
TIMEOUT_POS = {"blpop": -1, "brpop": -1, "bzpopmin": -1, "bzpopmax": -1, "blmove": 4,
               "brpoplpush": 2, "blmpop": 0, "bzmpop": 0}
TIMEOUTS = ["0.01", "0.001", "0.02", "-1", "abc", "nan", "inf", "-inf", "1e400", str(LLONG_MAX),
            "0.01", "0.01"]

SUBCOMMANDS = {
    # No KILL, PAUSE or REPLY: they would stall the test or mute replies.
    "client": ["ID", "INFO", "LIST", "GETNAME", "SETNAME", "SETINFO", "NO-EVICT", "NO-TOUCH", "HELP",
               "TRACKING", "CACHING", "GETREDIR", "TRACKINGINFO", "UNBLOCK", "UNPAUSE", "bogus"],
    "config": ["GET", "SET", "RESETSTAT", "HELP", "bogus"],
    "command": ["COUNT", "INFO", "DOCS", "LIST", "GETKEYS", "GETKEYSANDFLAGS", "HELP", "bogus"],
    "function": ["LOAD", "DELETE", "DUMP", "RESTORE", "FLUSH", "KILL", "LIST", "STATS", "HELP",
                 "bogus"],
    "memory": ["USAGE", "STATS", "DOCTOR", "MALLOC-STATS", "PURGE", "HELP", "bogus"],
    "slowlog": ["GET", "LEN", "RESET", "HELP", "bogus"],
    "latency": ["LATEST", "HISTORY", "RESET", "GRAPH", "DOCTOR", "HISTOGRAM", "HELP", "bogus"],
    "object": ["ENCODING", "FREQ", "IDLETIME", "REFCOUNT", "HELP", "bogus"],
    "pubsub": ["CHANNELS", "NUMSUB", "NUMPAT", "SHARDCHANNELS", "SHARDNUMSUB", "HELP", "bogus"],
    "script": ["EXISTS", "FLUSH", "KILL", "LOAD", "HELP", "bogus"],
}

# CONFIG SET only for names that cannot lock the test out, cut its
# connection, or stop the server from accepting the test's values.
SAFE_CONFIG = ["hash-max-listpack-entries", "hash-max-listpack-value", "set-max-intset-entries",
               "set-max-listpack-entries", "set-max-listpack-value", "zset-max-listpack-entries",
               "zset-max-listpack-value", "list-max-listpack-size", "list-compress-depth",
               "hash-max-ziplist-entries", "zset-max-ziplist-entries", "list-max-ziplist-size",
               "notify-keyspace-events", "lazyfree-lazy-user-del", "lazyfree-lazy-user-flush",
               "lazyfree-lazy-expire", "lazyfree-lazy-server-del", "maxmemory-policy",
               "maxmemory-samples", "lfu-log-factor", "lfu-decay-time", "slowlog-log-slower-than",
               "slowlog-max-len", "hz", "latency-monitor-threshold", "tracking-table-max-keys",
               "loglevel", "dynamic-hz", "bogus-name"]
CONFIG_VALUES = ["0", "1", "2", "-1", "-2", "128", "yes", "no", "KEA", "Kx", "gE$", "allkeys-lru",
                 "volatile-lfu", "noeviction", "allkeys-random", "verbose", "warning", "abc", "",
                 "100", "500", "9999999999999999999999"]

KEYS = ["s", "n", "f", "l", "h", "si", "ss", "sb", "sh", "z", "zb", "hb", "lb", "lp", "x", "xb", "missing",
        "dst", "{t}a"]

INTS = ["0", "1", "-1", "2", "3", "5", "10", "100", "128", "129", "-2", "-100", "1000", "65536",
        "4294967296", "-4294967296", "9007199254740993", str(LLONG_MAX), str(LLONG_MIN),
        str(LLONG_MAX + 1), str(LLONG_MIN - 1), "99999999999999999999999", "0x10", " 1", "1 ", "+1",
        "01", "-0", "1.5", "1e3"]
FLOATS = ["inf", "-inf", "+inf", "nan", "-nan", "1e308", "1e309", "-1e308", "2.5", "-0.0", "(1",
          "(-inf", "(inf", "[a", "(a", "[", "(", "-", "+", "[\x00", "0.1", "1e-320", "4.9e-324",
          ".5", "5.", "1,5", "0x1p3"]
WORDS = ["NX", "XX", "GT", "LT", "CH", "INCR", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "PERSIST",
         "GET", "WITHSCORES", "WITHSCORE", "LIMIT", "BYSCORE", "BYLEX", "REV", "COUNT", "MATCH",
         "TYPE", "WEIGHTS", "AGGREGATE", "SUM", "MIN", "MAX", "LEFT", "RIGHT", "BEFORE", "AFTER",
         "FIELDS", "RANK", "MAXLEN", "IDLE", "WITHVALUES", "IFEQ", "IFNE", "IFDEQ", "IFDNE", "STORE",
         "ASYNC", "SYNC", "REPLACE", "DB", "ON", "OFF", "ID", "LEN", "IDX", "MINMATCHLEN",
         "WITHMATCHLEN", "NOVALUES", "ALL", "SCHEMA", "SAMPLES", "REDIRECT", "BCAST", "PREFIX",
         "OPTIN", "OPTOUT", "NOLOOP", "YES", "NO", "LIBRARYNAME", "WITHCODE", "APPEND", "FLUSH",
         "LIB-NAME", "LIB-VER", "string", "list", "hash", "set", "zset", "none", "*", "h*", "[a-z]*",
         "\\", "ABSTTL", "FREQ", "FNX", "FXX", "KEEPTTL", "STREAMS", "GROUP", "BLOCK", "NOACK", "MKSTREAM",
         "ENTRIESREAD", "ENTRIESADDED", "MAXDELETEDID", "MINID", "NOMKSTREAM", "JUSTID", "FORCE",
         "RETRYCOUNT", "LASTID", "TIME", "FULL", "IDS", "KEEPREF", "DELREF", "ACKED", "~", "=", "$", ">",
         "g", "c1", "1-1", "0-0", "1-", "-1", "5-*", "18446744073709551615-18446744073709551615",
         "18446744073709551616-0", "(1-1", "stream"]
SCRIPTS = [
    "return 1", "return {1,2,{3,'x'}}", "return redis.error_reply('My Error')",
    "return redis.status_reply('FINE')", "return nil", "return 3.99", "return {err='x'}",
    "return {ok='fine'}", "return redis.pcall(ARGV[1], KEYS[1], ARGV[2], ARGV[3])",
    "return redis.pcall(ARGV[1], KEYS[1], ARGV[2])", "return redis.call(ARGV[1], KEYS[1])",
    "redis.setresp(3); return redis.pcall('hgetall', KEYS[1])",
    "redis.setresp(3); return redis.pcall(ARGV[1], KEYS[1], ARGV[2])",
    "return cjson.encode({1,2,{a=3}})", "return cjson.decode(ARGV[1])", "return cmsgpack.pack(ARGV)",
    "return cmsgpack.unpack(ARGV[1])", "return struct.pack('>I', 1)", "return struct.unpack(ARGV[1], ARGV[2])",
    "return redis.sha1hex(ARGV[1])", "local t={} for i=1,200 do t[i]=i end return t",
    "return tostring(ARGV[1])", "return (", "", "x y z", "return bit.band(1, 3)",
    "return redis.setresp(ARGV[1])", "return {1, nil, 3}", "return {double=1.5}", "return true",
    "return false", "redis.replicate_commands(); return 1", "return redis.pcall('ping')",
    "return redis.pcall('hset', KEYS[1], ARGV[1], ARGV[2])", "return string.rep('x', 100000)",
    "return tonumber(ARGV[1])", "return redis.log(redis.LOG_WARNING, ARGV[1])",
]
LIB = ("#!lua name=lib%d\nredis.register_function('f%d', function(k, a) "
       "return redis.pcall(a[1], k[1], a[2], a[3]) end)\n"
       "redis.register_function{function_name='ro%d', callback=function(k, a) return #k end, "
       "flags={'no-writes'}}")
JUNK = ["", "\x00", "a\x00b", "\r\n", "*1\r\n$4\r\nPING\r\n", "\xff\xfe\x00\r\n\x01", "é", "a b",
        "\n", "$-1", "-ERR x", ":1", "\x00" * 17]


# Well-formed command lines to mutate, so that random changes reach the
# option parsers and the data paths behind them, not only the first check.
TEMPLATES = """
SET s v NX GET EX 10|SET s v XX KEEPTTL GET|SET n 5 PXAT 99999999999999|SET s v IFEQ hello world
SET s v EXAT 1 GET|GETEX s PERSIST|GETEX n PX 100|GETEX s EXAT 9999999999|GETRANGE s 0 -1
SETRANGE s 3 abc|APPEND s xyz|INCRBYFLOAT f 1.5|INCRBY n -7|DECRBY n 3|MSET s 1 n 2|MSETNX a 1 b 2
DELEX s IFEQ hello|DELEX s IFNE x|DELIFEQ s hello|GETDEL s|COPY s dst DB 1 REPLACE|COPY zb dst
COPY hb dst REPLACE|COPY h dst|RENAME h dst|RENAMENX l dst|MOVE s 1|OBJECT ENCODING zb
EXPIRE s 10 NX|EXPIRE s 10 GT|PEXPIRE s 100 LT|EXPIREAT s 1 XX|PERSIST n|TTL n|EXPIRETIME n
LPUSH l a b|RPUSHX l c|LINSERT l BEFORE a x|LINSERT lb AFTER e5 y|LSET lb 100 z|LSET l -1 q
LPOS l a RANK -1 COUNT 0 MAXLEN 10|LPOS lb e5 RANK 2 COUNT 3|LRANGE lb 10 -10|LREM lb -2 e1
LTRIM lb 5 -5|LINDEX lb 300|LMOVE l lb LEFT RIGHT|RPOPLPUSH lb l|LPOP lb 5|RPOP l 0|LMPOP 2 l lb LEFT COUNT 10
BLMPOP 0.01 2 missing l RIGHT COUNT 2|BLPOP missing l 0.01|BLMOVE lb l RIGHT LEFT 0.01|BZPOPMIN zb 0.01
BZMPOP 0.01 1 zb MAX COUNT 3|HSET h a 1 b 2|HSETNX h z 1|HGET hb f1|HMGET hb f1 nope f3
HINCRBY hb f5 10|HINCRBYFLOAT h b 1e3|HDEL hb f1 f2 f3|HRANDFIELD hb -5 WITHVALUES|HRANDFIELD h 3
HSCAN hb 0 MATCH f1* COUNT 50|HSCAN hb 0 NOVALUES|HSTRLEN h c|HEXPIRE h 10 NX FIELDS 2 a b
HEXPIRE hb 0 FIELDS 1 f3|HPEXPIRE hb 100 GT FIELDS 3 f1 f2 f9|HEXPIREAT h 1 FIELDS 1 b
HPEXPIREAT hb 99999999999999 FIELDS 1 f4|HTTL hb FIELDS 2 f1 f2|HPTTL h FIELDS 1 a|HPERSIST h FIELDS 1 a
HEXPIRETIME hb FIELDS 1 f1|HPEXPIRETIME h FIELDS 2 a x|HGETALL hb|HKEYS h|HVALS hb|HLEN h|HEXISTS hb f1
SADD si 7 8 9|SADD ss x|SREM si 1|SPOP si 2|SPOP ss|SRANDMEMBER si -5|SRANDMEMBER ss 2|SMOVE si ss 2
SINTER si ss|SUNION si ss|SDIFF si ss|SINTERSTORE dst si ss|SUNIONSTORE dst si ss|SDIFFSTORE dst si ss
SINTERCARD 2 si ss LIMIT 1|SINTERCARD 3 sb sh si|SUNIONSTORE dst sb sh|SDIFF sb si|SPOP sb 300|SRANDMEMBER sh -300|SMOVE sh sb m1|SREM sb 6|SMISMEMBER si 1 9|SSCAN si 0 MATCH * COUNT 10|SISMEMBER ss a|SCARD si
ZADD z GT CH INCR 1 a|ZADD z NX 1 q 2 r|ZADD zb XX LT 5 m1|ZADD z 1 a 2 b 3 c|ZINCRBY zb -1 m3
ZRANGE z 0 -1 BYSCORE REV LIMIT 0 1 WITHSCORES|ZRANGE zb (1 +inf BYSCORE LIMIT 5 10|ZRANGE z [a (c BYLEX
ZRANGE zb 0 -1 REV|ZRANGESTORE dst zb 0 10|ZRANGESTORE dst z [a + BYLEX LIMIT 0 2|ZRANGEBYSCORE zb -inf inf WITHSCORES LIMIT 3 3
ZREVRANGEBYSCORE zb +inf -inf LIMIT 0 5|ZRANGEBYLEX z - + LIMIT 1 1|ZREVRANGEBYLEX z + - |ZREVRANGE zb 0 5 WITHSCORES
ZCOUNT zb 10 (20|ZLEXCOUNT z - +|ZRANK zb m5 WITHSCORE|ZREVRANK z a WITHSCORE|ZSCORE zb m1|ZMSCORE z a b zz
ZREM zb m1 m2|ZREMRANGEBYRANK zb 0 10|ZREMRANGEBYSCORE zb -inf (50|ZREMRANGEBYLEX z [a [b|ZCARD zb
ZUNIONSTORE dst 2 z zb WEIGHTS 1 2 AGGREGATE MIN|ZINTERSTORE dst 2 z zb AGGREGATE MAX|ZUNION 2 z si WITHSCORES
ZINTER 2 zb si WEIGHTS 2 inf|ZDIFF 2 zb z WITHSCORES|ZDIFFSTORE dst 2 zb z|ZINTERCARD 2 z zb LIMIT 0
XADD x * a 1|XADD x MAXLEN ~ 5 * a 1 b 2|XADD xb NOMKSTREAM MINID = 50-0 LIMIT 5 60-* f v|XADD x 9-9 a b
XLEN xb|XRANGE xb - + COUNT 5|XREVRANGE xb + (50-0 COUNT 3|XRANGE xb 10 20|XDEL xb 3-0 4-0 999-0|XTRIM xb MAXLEN = 10
XTRIM xb MINID ~ 40-0 LIMIT 10|XSETID xb 1000-0 ENTRIESADDED 500 MAXDELETEDID 5-0|XREAD COUNT 3 STREAMS x xb 0 $
XREAD BLOCK 10 STREAMS xb +|XREADGROUP GROUP g c1 COUNT 5 STREAMS xb >|XREADGROUP GROUP g c2 NOACK STREAMS xb x > >
XREADGROUP GROUP g c1 BLOCK 10 STREAMS xb 0|XGROUP CREATE x g2 $ MKSTREAM ENTRIESREAD 3|XGROUP SETID xb g 5-0 ENTRIESREAD 2
XGROUP DESTROY xb g|XGROUP CREATECONSUMER xb g c9|XGROUP DELCONSUMER xb g c1|XACK xb g 1-0 2-0 3-0
XPENDING xb g|XPENDING xb g IDLE 0 - + 10 c1|XCLAIM xb g c2 0 1-0 2-0 IDLE 5 RETRYCOUNT 3 FORCE JUSTID LASTID 9-0
XAUTOCLAIM xb g c3 0 0-0 COUNT 3 JUSTID|XINFO STREAM xb FULL COUNT 3|XINFO GROUPS xb|XINFO CONSUMERS xb g
XACKDEL xb g DELREF IDS 2 1-0 2-0|XDELEX xb ACKED IDS 1 5-0|XDELEX xb IDS 2 6-0 7-0 KEEPREF|COPY xb dst|RENAME xb x
ZPOPMIN zb 3|ZPOPMAX z|ZMPOP 2 z zb MIN COUNT 5|ZRANDMEMBER zb -3 WITHSCORES|ZRANDMEMBER z 2|ZSCAN zb 0 COUNT 100
SCAN 0 MATCH * COUNT 10 TYPE string|SCAN 0 TYPE zset|KEYS *|KEYS h?|TYPE zb|EXISTS s s missing|TOUCH s h
DEL zb hb lb|UNLINK zb|RANDOMKEY|DBSIZE|SWAPDB 0 1|SELECT 1|FLUSHDB ASYNC|OBJECT FREQ s|OBJECT IDLETIME hb
MEMORY USAGE zb SAMPLES 0|MEMORY USAGE hb|MEMORY STATS|CLIENT TRACKING ON BCAST PREFIX a PREFIX b NOLOOP
CLIENT TRACKING ON OPTIN|CLIENT CACHING YES|CLIENT TRACKING OFF|CLIENT NO-EVICT ON|CLIENT SETNAME fuzz
CLIENT LIST TYPE normal|CLIENT LIST ID 1 2 3|CLIENT UNBLOCK $ID ERROR|CLIENT UNBLOCK $ID TIMEOUT|CLIENT UNBLOCK $ID
CLIENT TRACKING ON REDIRECT $ID|CLIENT TRACKING ON REDIRECT $ID BCAST PREFIX l|CLIENT LIST ID $ID $ID|CLIENT TRACKINGINFO|CLIENT GETREDIR
COMMAND GETKEYS ZUNIONSTORE dst 2 a b|COMMAND GETKEYS EVAL x 2 a b|COMMAND INFO get zadd|COMMAND DOCS set
COMMAND LIST FILTERBY PATTERN z*|COMMAND LIST FILTERBY ACLCAT hash|COMMAND GETKEYSANDFLAGS LMOVE a b LEFT RIGHT
CONFIG GET *max*|CONFIG SET hash-max-listpack-entries 0|CONFIG SET zset-max-listpack-entries 1
CONFIG SET set-max-intset-entries 1|CONFIG SET list-max-listpack-size 1|CONFIG SET hash-max-listpack-entries 128
FUNCTION LIST WITHCODE LIBRARYNAME lib*|FUNCTION DUMP|FUNCTION STATS|FUNCTION DELETE lib0|FUNCTION FLUSH ASYNC
SCRIPT EXISTS a b|SCRIPT FLUSH SYNC|PUBSUB NUMSUB a b|PUBSUB CHANNELS *|PUBLISH ch msg|SPUBLISH s x
MULTI|EXEC|DISCARD|WATCH s zb|UNWATCH|HELLO 3 SETNAME x|HELLO 2|RESET|ECHO x|INFO keyspace|INFO all
SETBIT bm 100 1|SETBIT bm 1048575 1|GETBIT s 7|BITCOUNT s 0 -1 BIT|BITCOUNT bm 1 5 BYTE|BITPOS s 0 2 -1 BIT
BITPOS bm 1|BITOP AND dst s bm|BITOP NOT dst s|BITOP XOR dst s bm n|BITOP DIFF dst s bm|BITOP ONE dst s bm n
BITFIELD bm SET u8 #1 255 GET i64 0 INCRBY i5 100 1 OVERFLOW SAT INCRBY u2 102 1|BITFIELD_RO s GET u63 5
BITFIELD bm OVERFLOW FAIL INCRBY i8 0 200 OVERFLOW WRAP SET u1 1 1|LCS s s2 IDX MINMATCHLEN 2 WITHMATCHLEN|LCS s n LEN
GEOADD geo 13.361389 38.115556 Palermo 15.087269 37.502669 Catania|GEOADD geo NX CH 200 100 bad|GEODIST geo Palermo Catania km
GEOSEARCH geo FROMLONLAT 15 37 BYRADIUS 200 km ASC COUNT 2 ANY WITHCOORD WITHDIST WITHHASH|GEOPOS geo Palermo nope
GEOSEARCH zb FROMMEMBER m1 BYBOX 400 400 km DESC|GEOSEARCHSTORE dst geo FROMLONLAT 15 37 BYRADIUS 100 mi STOREDIST
GEORADIUS geo 15 37 200 km WITHDIST COUNT 3 STORE dst|GEORADIUSBYMEMBER_RO geo Palermo 10 ft|GEOHASH geo Palermo Catania
SORT lb|SORT si DESC LIMIT 0 5|SORT l ALPHA STORE dst|SORT lb BY nosort GET # GET h->a|SORT zb BY w_* GET o_* LIMIT 1 2
SORT_RO sb ALPHA DESC|SORT hb|SORT si BY hb->f1|SLOWLOG GET 5|SLOWLOG LEN|LATENCY LATEST|LATENCY HISTOGRAM get set
"""


def templates():
    out = []
    for line in TEMPLATES.strip().split("\n"):
        for t in line.split("|"):
            if t.strip():
                out.append([w.encode() for w in t.split()])
    return out


def strs(pool):
    return [p.encode("latin-1") if isinstance(p, str) else p for p in pool]


def encode(argv):
    out = [b"*%d\r\n" % len(argv)]
    for a in argv:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Fail(Exception):
    pass


class Conn:
    """A raw connection that reads replies strictly by the RESP grammar of the
    protocol the connection speaks (RESP3-only types are invalid in RESP2)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT)
        self.buf = b""
        self.proto = 2

    def close(self):
        self.sock.close()

    def _fill(self):
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            raise Fail("no reply within %.0f s (hang?)" % REPLY_TIMEOUT)
        except OSError as e:
            raise Fail("connection error: %r" % e)
        if not chunk:
            raise Fail("connection closed by the server")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                if b"\n" in line or b"\r" in line:
                    raise Fail("bare CR/LF inside a line: %r" % line[:200])
                return line
            if len(self.buf) > (1 << 20):
                raise Fail("line without CRLF over 1 MB")
            self._fill()

    def _int(self, s):
        try:
            if s != s.strip() or not s:
                raise ValueError
            return int(s)
        except ValueError:
            raise Fail("bad integer in reply: %r" % s[:100])

    def _bulk(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, end = self.buf[:n], self.buf[n:n + 2]
        if end != b"\r\n":
            raise Fail("bulk of %d bytes not followed by CRLF" % n)
        self.buf = self.buf[n + 2:]
        return data

    def read(self, proto=None, depth=0):
        """One frame: ('err', text), ('push', items) or a plain value.
        proto 0 accepts the frames of either protocol."""
        proto = self.proto if proto is None else proto
        if depth > 64:
            raise Fail("reply nested deeper than 64")
        line = self._line()
        if not line:
            raise Fail("empty reply line")
        t, rest = line[:1], line[1:]
        resp3_only = b"_,#(=%~>|"
        if t in resp3_only and proto == 2:
            raise Fail("RESP3 frame %r on a RESP2 connection" % line[:100])
        if t == b"+":
            return rest
        if t == b"-":
            if not rest:
                raise Fail("empty error reply")
            return ("err", rest)
        if t == b":":
            return self._int(rest)
        if t == b"$":
            n = self._int(rest)
            if n == -1:
                if proto == 3:
                    raise Fail("RESP2 null bulk on a RESP3 connection")
                return None
            if n < 0:
                raise Fail("negative bulk length %d" % n)
            return self._bulk(n)
        if t in (b"*", b"~", b">"):
            n = self._int(rest)
            if n == -1 and t == b"*":
                if proto == 3:
                    raise Fail("RESP2 null array on a RESP3 connection")
                return None
            if n < 0:
                raise Fail("negative aggregate length %d" % n)
            items = [self.read(proto, depth + 1) for _ in range(n)]
            return ("push", items) if t == b">" else items
        if t == b"%":
            n = self._int(rest)
            if n < 0:
                raise Fail("negative map length")
            return [(self.read(proto, depth + 1), self.read(proto, depth + 1)) for _ in range(n)]
        if t == b"_":
            if rest:
                raise Fail("null with payload %r" % rest)
            return None
        if t == b",":
            try:
                float(rest)
            except ValueError:
                raise Fail("bad double %r" % rest)
            if rest.lower() not in (b"inf", b"-inf", b"nan") and not rest.replace(b"-", b"").replace(
                    b".", b"").replace(b"e", b"").replace(b"+", b"").isdigit():
                raise Fail("bad double %r" % rest)
            return float(rest)
        if t == b"#":
            if rest not in (b"t", b"f"):
                raise Fail("bad boolean %r" % rest)
            return rest == b"t"
        if t == b"(":
            self._int(rest)
            return int(rest)
        if t == b"=":
            data = self._bulk(self._int(rest))
            if len(data) < 4 or data[3:4] != b":":
                raise Fail("verbatim string without a format prefix: %r" % data[:20])
            return data[4:]
        raise Fail("unknown reply type byte in %r" % line[:100])

    def reply(self, proto=None):
        """The next reply, skipping RESP3 pushes (tracking invalidations)."""
        while True:
            v = self.read(proto)
            if isinstance(v, tuple) and v[0] == "push":
                continue
            return v

    def call(self, argv, proto=None):
        try:
            self.sock.sendall(encode(argv))
        except OSError as e:
            raise Fail("send failed: %r" % e)
        return self.reply(proto)


class Fuzzer:
    def __init__(self, seed, server, commands):
        self.rng = random.Random(seed)
        self.seed = seed
        self.server = server
        self.commands = commands
        self.names = sorted(commands)
        self.history = []
        self.ids = [1]
        big = [b"x" * self.rng.choice([100, 1000, 10000, 65536])]
        self.keys = strs(KEYS)
        self.pool_ints = strs(INTS)
        self.pool_floats = strs(FLOATS)
        self.pool_words = strs(WORDS)
        self.pool_junk = strs(JUNK) + big
        self.templates = [t for t in templates() if t[0].decode().lower() in commands]
        self.cmd_names = [n.encode() for n in self.names] + [b"bogus", b"PING", b"SET", b"HSET"]

    # ---- argument generation ----
    def atom(self):
        r = self.rng.random()
        if r < 0.30:
            return self.rng.choice(self.keys)
        if r < 0.50:
            return self.rng.choice(self.pool_ints)
        if r < 0.62:
            return self.rng.choice(self.pool_floats)
        if r < 0.85:
            return self.rng.choice(self.pool_words)
        if r < 0.97:
            return self.rng.choice(self.pool_junk)
        if r < 0.99:
            return b"v%d" % self.rng.randrange(300)
        return b"y" * self.rng.choice([1, 63, 64, 65, 129, 1000, 65536])

    def length(self, arity):
        """Number of arguments after the name."""
        need = abs(arity) - 1
        r = self.rng.random()
        if r < 0.08:
            return max(0, need + self.rng.choice([-2, -1, 1]))
        if arity > 0:
            return need
        return need + min(self.rng.choice([0, 0, 1, 1, 2, 3, 4, 5, 6, 8, 12]), 40)

    @staticmethod
    def tame(name, argv):
        """A count of minus billions asks Redis too for billions of random
        elements: legal, but not something this test can wait for. XREAD and
        XREADGROUP may only block briefly (BLOCK 0 waits forever)."""
        if name in ("xread", "xreadgroup"):
            for i in range(1, len(argv) - 1):
                if argv[i].upper() == b"BLOCK":
                    argv[i + 1] = b"10"
        if name in ("srandmember", "hrandfield", "zrandmember") and len(argv) >= 3:
            try:
                if int(argv[2]) < -100000:
                    argv[2] = b"-1000"
            except ValueError:
                pass
        if name in ("setbit", "setrange", "bitfield"):
            # An offset near 2^32 bits makes a legal 512 MB string: each
            # one would pass the test's memory bound (tested elsewhere).
            for i in range(1, len(argv)):
                try:
                    if abs(int(argv[i].lstrip(b"#"))) > 1 << 20:
                        argv[i] = b"1000"
                except ValueError:
                    pass
        return argv

    def mutate(self, tmpl):
        args = [b"%d" % self.rng.choice(self.ids) if a == b"$ID" else a for a in tmpl[1:]]
        for _ in range(self.rng.choice([0, 1, 1, 1, 2, 3])):
            op = self.rng.random()
            i = self.rng.randrange(len(args) + 1)
            if op < 0.5 and args:
                args[min(i, len(args) - 1)] = self.atom()
            elif op < 0.7:
                args.insert(i, self.atom())
            elif op < 0.85 and args:
                del args[min(i, len(args) - 1)]
            elif args:
                j = self.rng.randrange(len(args))
                args.insert(i, args[j])
        return [tmpl[0]] + args

    def gen(self, name):
        info = self.commands[name]
        arity, first, last, step = info["arity"], info["first"], info["last"], info["step"]
        n = self.length(arity)
        args = [self.atom() for _ in range(n)]
        if first > 0 and step > 0:
            end = n if last < 0 else min(last, n)
            if last < 0:
                end = n + 1 + last
            for i in range(first - 1, end, step):
                if self.rng.random() < 0.85:
                    args[i] = self.rng.choice(self.keys)
        if name in ("eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro"):
            args = self.gen_script(name, n)
        elif name in SUBCOMMANDS and args:
            args = self.gen_sub(name, args)
        elif name in ("hello",) and args and self.rng.random() < 0.7:
            args[0] = self.rng.choice([b"2", b"3", b"3", b"1", b"4", b"x", b"-1"])
        elif name in ("select", "swapdb", "move"):
            for i in range(len(args)):
                if i > 0 or name != "move":
                    if self.rng.random() < 0.7:
                        args[i] = self.rng.choice([b"0", b"1", b"15", b"16", b"-1", b"x"])
        if name in TIMEOUT_POS and args:
            pos = TIMEOUT_POS[name]
            if -len(args) <= pos < len(args):
                args[pos] = self.rng.choice(strs(TIMEOUTS))
        return [name.encode()] + args

    def gen_script(self, name, n):
        if name.startswith("eval"):
            if name.startswith("evalsha") and self.rng.random() < 0.7:
                body = self.rng.choice(SCRIPTS).encode()
                head = hashlib.sha1(body).hexdigest().encode()
            else:
                head = self.rng.choice(SCRIPTS).encode() if self.rng.random() < 0.9 else self.atom()
        else:
            i = self.rng.randrange(3)
            head = self.rng.choice([b"f%d" % i, b"ro%d" % i, b"nofunc", self.atom()])
        numkeys = self.rng.choice([b"0", b"1", b"1", b"2", b"3"]) if self.rng.random() < 0.9 else self.atom()
        rest = [self.rng.choice(self.keys) for _ in range(3)]
        rest += [self.rng.choice(self.cmd_names)] + [self.atom() for _ in range(self.rng.randrange(4))]
        if self.rng.random() < 0.5:
            rest = rest[:1] + rest[3:]
        args = [head, numkeys] + rest
        return args[:max(n, 2) + self.rng.randrange(4)]

    def gen_sub(self, name, args):
        sub = self.rng.choice(SUBCOMMANDS[name])
        args[0] = sub.encode()
        if name == "config" and sub == "SET":
            args[1:] = []
            for _ in range(self.rng.choice([1, 1, 1, 2])):
                args += [self.rng.choice(SAFE_CONFIG).encode(), self.rng.choice(strs(CONFIG_VALUES))]
            if self.rng.random() < 0.1:
                args.pop()
        elif name == "config" and sub == "GET" and len(args) > 1 and self.rng.random() < 0.5:
            args[1] = self.rng.choice([b"*", b"hash*", b"maxmemory", b"port"])
        elif name == "function" and sub == "LOAD":
            i = self.rng.randrange(3)
            lib = (LIB % (i, i, i)).encode()
            choice = self.rng.random()
            if choice < 0.6:
                args[1:] = [lib] if self.rng.random() < 0.7 else [b"REPLACE", lib]
            elif choice < 0.8:
                args[1:] = [lib[:self.rng.randrange(len(lib))]]
        elif name == "function" and sub == "RESTORE" and len(args) > 1 and self.rng.random() < 0.5:
            args[1] = self.last_dump if getattr(self, "last_dump", None) else args[1]
            if args[1] and self.rng.random() < 0.5:
                b = bytearray(args[1])
                b[self.rng.randrange(len(b))] = self.rng.randrange(256)
                args[1] = bytes(b)
        elif name == "command" and sub in ("GETKEYS", "GETKEYSANDFLAGS", "INFO", "DOCS") and len(args) > 1:
            args[1] = self.rng.choice(self.cmd_names)
        elif name in ("object", "memory") and len(args) > 1:
            args[1] = self.rng.choice(self.keys)
        elif name == "client" and sub == "TRACKING" and len(args) > 1:
            args[1] = self.rng.choice([b"ON", b"OFF", b"on", b"x"])
        return args

    # ---- running ----
    def seed_keyspace(self, c):
        cmds = [
            [b"SET", b"s", b"hello world"], [b"SET", b"n", b"42"], [b"SET", b"f", b"3.5"],
            [b"RPUSH", b"l", b"a", b"b", b"c", b"1", b"2"],
            [b"HSET", b"h", b"a", b"1", b"b", b"2.5", b"c", b"x"],
            [b"HEXPIRE", b"h", b"100", b"FIELDS", b"1", b"a"],
            [b"SADD", b"si", b"1", b"2", b"3", b"-5"], [b"SADD", b"ss", b"a", b"b", b"c"],
            [b"ZADD", b"z", b"1", b"a", b"2", b"b", b"2", b"c", b"-inf", b"m", b"inf", b"p"],
            [b"ZADD", b"zb"] + sum(([b"%d" % i, b"m%d" % i] for i in range(200)), []),
            [b"HSET", b"hb"] + sum(([b"f%d" % i, b"%d" % i] for i in range(200)), []),
            [b"HPEXPIRE", b"hb", b"60000", b"FIELDS", b"2", b"f1", b"f2"],
            [b"RPUSH", b"lb"] + [b"e%d" % i for i in range(600)],
            [b"RPUSH", b"lp", b"x" * 100, b"y" * 70, b"1"],
            [b"SADD", b"sb"] + [b"%d" % (i * 7 - 1000) for i in range(600)],
            [b"SADD", b"sh"] + [b"m%d" % i for i in range(200)],
            [b"EXPIRE", b"n", b"1000"],
            [b"XADD", b"x", b"*", b"a", b"1"],
            [b"XGROUP", b"CREATE", b"xb", b"g", b"0", b"MKSTREAM"],
        ] + [[b"XADD", b"xb", b"%d-0" % i, b"f", b"%d" % i] for i in range(1, 120)] + [
            [b"XREADGROUP", b"GROUP", b"g", b"c1", b"COUNT", b"20", b"STREAMS", b"xb", b">"],
        ]
        c.sock.sendall(b"".join(encode(a) for a in cmds))
        for a in cmds:
            v = c.reply()
            # Under the 1 MB limit some writes are refused, and reads of
            # what they would have made (the stream group) fail after them.
            if isinstance(v, tuple) and not v[1].startswith((b"OOM", b"NOGROUP")):
                raise Fail("seeding %r failed: %r" % (a[:2], v))

    def connect(self):
        return Conn(self.server.port)

    def check_server(self, ctl):
        pong = ctl.call([b"PING"])
        if pong != b"PONG":
            raise Fail("PING answered %r" % (pong,))
        info = ctl.call([b"INFO", b"memory"])
        used = None
        for line in info.split(b"\r\n"):
            if line.startswith(b"used_memory:"):
                used = int(line.split(b":")[1])
        if used is None or used > MEMORY_LIMIT:
            raise Fail("used_memory %r over %d" % (used, MEMORY_LIMIT))

    def pick(self):
        name = self.rng.choice(self.names)
        return name

    def batch(self, ctl, count):
        # A fresh connection per batch drops MULTI, WATCH, tracking,
        # protocol and selected-db state of the previous one.
        c = self.connect()
        try:
            ctl.call([b"SELECT", b"0"])
            ctl.call([b"FLUSHALL"])
            ctl.call([b"SELECT", b"1"])
            ctl.call([b"SET", b"s", b"db1"])
            ctl.call([b"SELECT", b"0"])
            self.seed_keyspace(c)
            if TRACE:
                TRACE.write("BATCH\n")
            if self.rng.random() < 0.35:
                c.proto = 3
                v = c.call([b"HELLO", b"3"], proto=3)
                if isinstance(v, tuple):
                    raise Fail("HELLO 3 failed: %r" % (v,))
            blockers = self.start_blockers()
            self.ids = [b.id for b in blockers] + [self.listener_id]
            in_multi = False
            for _ in range(count):
                if self.rng.random() < 0.5:
                    argv = self.mutate(self.rng.choice(self.templates))
                    name = argv[0].decode().lower()
                    if name in TIMEOUT_POS and len(argv) > 1:
                        pos = TIMEOUT_POS[name]
                        pos = pos + 1 if pos >= 0 else pos
                        if -len(argv) < pos < len(argv):
                            argv[pos] = self.rng.choice(strs(TIMEOUTS))
                else:
                    name = self.pick()
                    argv = self.gen(name)
                argv = self.tame(name, argv)
                if name == "quit":
                    if in_multi:
                        continue
                    self.history.append(argv)
                    c.call(argv)
                    c.close()
                    c = self.connect()
                    continue
                lname = name
                if lname in ("unsubscribe", "punsubscribe", "sunsubscribe") and in_multi:
                    continue
                self.history.append(argv)
                self.history = self.history[-30:]
                if TRACE:
                    TRACE.write("%d %s %r\n" % (c.proto, "M" if in_multi else "-", argv[:8]))
                    TRACE.flush()
                if lname in ("unsubscribe", "punsubscribe", "sunsubscribe"):
                    self.multi_reply(c, argv)
                    continue
                if lname == "hello" or (lname == "exec" and in_multi):
                    # The reply comes in the protocol being switched to:
                    # accept either, then ask the server which one is on.
                    v = c.call(argv, proto=0)
                    c.proto = self.current_proto(c)
                else:
                    v = c.call(argv)
                if STATS is not None:
                    ok = not (isinstance(v, tuple) and v[0] == "err")
                    STATS.setdefault(name, [0, 0, {}])[0 if ok else 1] += 1
                    if not ok:
                        e = STATS[name][2]
                        e[v[1][:60]] = e.get(v[1][:60], 0) + 1
                if lname == "function" and argv[1:2] == [b"DUMP"] and isinstance(v, bytes):
                    self.last_dump = v
                if lname == "multi" and v == b"OK":
                    in_multi = True
                elif lname in ("exec", "discard", "reset") and not (
                        isinstance(v, tuple) and v[1].startswith(b"ERR wrong number")):
                    in_multi = False
                if lname == "reset" and v == b"RESET":
                    c.proto = 2
                    in_multi = False
            c.call([b"DISCARD"])
            c.call([b"RESET"], proto=0)
            self.finish_blockers(blockers)
            self.drain_listener()
        finally:
            c.close()

    def start_blockers(self):
        """Clients left blocked on keys while the batch runs, so that random
        pushes, renames, type changes, MOVE/SWAPDB/FLUSHALL and CLIENT
        UNBLOCK reach the code that serves or times out blocked clients."""
        out = []
        blocking = [n for n in self.names if n in TIMEOUT_POS]
        for _ in range(self.rng.choice([0, 1, 2, 3])):
            b = self.connect()
            b.id = b.call([b"CLIENT", b"ID"])
            name = self.rng.choice(blocking)
            argv = self.gen(name)
            pos = TIMEOUT_POS[name]
            pos = pos + 1 if pos >= 0 else pos
            if -len(argv) < pos < len(argv):
                argv[pos] = self.rng.choice([b"0.1", b"0.3", b"0.3", b"1"])
            self.history.append([b"(blocker)"] + argv)
            b.sock.sendall(encode(argv))
            out.append(b)
        return out

    def finish_blockers(self, blockers):
        for b in blockers:
            try:
                b.reply()
            finally:
                b.close()

    def drain_listener(self):
        """Read the keyspace events and invalidations of the batch up to the
        answer to a PING: each must be a well-formed frame."""
        lc = self.listener
        lc.sock.sendall(encode([b"PING", b"drained"]))
        while True:
            v = lc.read()
            if v == [b"pong", b"drained"]:
                return
            if not isinstance(v, list) or len(v) not in (3, 4):
                raise Fail("listener got %r" % (v,))

    def multi_reply(self, c, argv):
        """(P|S)UNSUBSCRIBE answer once per argument (at least once), as pushes in RESP3."""
        c.sock.sendall(encode(argv))
        want = max(1, len(argv) - 1)
        for _ in range(want):
            v = c.read()
            if isinstance(v, tuple) and v[0] == "err":
                return

    def current_proto(self, c):
        v = c.call([b"HELLO"], proto=0)
        if isinstance(v, tuple):
            # In MULTI HELLO is queued: the protocol cannot have changed.
            if v[0] == "err":
                return c.proto
        if v == b"QUEUED":
            return c.proto
        items = v if isinstance(v, list) else []
        if items and isinstance(items[0], tuple):
            items = [x for kv in items for x in kv]
        for i in range(0, len(items) - 1, 2):
            if items[i] == b"proto":
                return items[i + 1]
        raise Fail("HELLO did not report the protocol: %r" % (v,))

    def run(self, rounds):
        ctl = self.connect()
        # A subscriber for keyspace events and tracking invalidations
        # (CLIENT TRACKING ... REDIRECT to it comes from the templates).
        self.listener = self.connect()
        self.listener_id = self.listener.call([b"CLIENT", b"ID"])
        ctl.call([b"CONFIG", b"SET", b"notify-keyspace-events", b"KEA"])
        self.listener.sock.sendall(encode([b"PSUBSCRIBE", b"__key*__:*"]))
        self.listener.read()
        self.listener.sock.sendall(encode([b"SUBSCRIBE", b"__redis__:invalidate"]))
        self.listener.read()
        sent = 0
        try:
            for _ in range(rounds):
                self.batch(ctl, CMDS_PER_BATCH)
                sent += CMDS_PER_BATCH
                self.check_server(ctl)
        except Fail as e:
            hist = "\n".join("  " + repr([a[:80] for a in h]) for h in self.history[-12:])
            raise AssertionError("seed %d: %s\nlast commands:\n%s" % (self.seed, e, hist)) from None
        finally:
            ctl.close()
            self.listener.close()
        return sent


def command_table(server):
    c = Conn(server.port)
    try:
        rows = c.call([b"COMMAND"])
    finally:
        c.close()
    out = {}
    for row in rows:
        name = row[0].decode().lower()
        if name in EXCLUDED:
            continue
        out[name] = {"arity": row[1], "flags": [f.decode() for f in row[2]], "first": row[3],
                     "last": row[4], "step": row[5]}
    return out


# One more case runs under a memory limit small enough that random
# commands meet eviction (or OOM errors, if they switch the policy).
CASES = [(seed, ()) for seed in SEEDS] + [
    (SEEDS[0] + 1, ("--maxmemory", "1mb", "--maxmemory-policy", "allkeys-lru"))]


@pytest.mark.parametrize("seed,args", CASES, ids=[str(c[0]) + ("-maxmemory" if c[1] else "") for c in CASES])
def test_random_commands(keel, seed, args):
    server = keel(*args)
    commands = command_table(server)
    assert "get" in commands and len(commands) > 100
    Fuzzer(seed, server, commands).run(ROUNDS)
    if STATS is not None:
        c = Conn(server.port)
        print([ln for ln in c.call([b"INFO", b"stats"]).split(b"\r\n") if b"evicted_keys" in ln])
        c.close()
        for name in sorted(STATS):
            ok, err, errs = STATS[name]
            top = sorted(errs.items(), key=lambda kv: -kv[1])[:int(os.environ.get("KEEL_FUZZ_STATS_TOP", "3"))]
            print("%-18s ok %5d err %5d %s" % (name, ok, err, top))
