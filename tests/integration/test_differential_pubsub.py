"""Seeded random differential test of Pub/Sub against Debian's
redis-server 7.0: four connections on each server (two RESP2 clients, one
RESP3 client, and a RESP2 client that mostly publishes and asks PUBSUB)
take random steps: SUBSCRIBE / UNSUBSCRIBE / PSUBSCRIBE / PUNSUBSCRIBE /
SSUBSCRIBE / SUNSUBSCRIBE over small sets of channels and patterns (with
repeats, and none), PUBLISH / SPUBLISH, PUBSUB CHANNELS / NUMSUB / NUMPAT /
SHARDCHANNELS / SHARDNUMSUB, PING with and without a message, a data
command in the subscribed state, RESET, and wrong arities. After every step
each connection is read up to the answer of a PING, and every frame each
connection got (replies, subscription confirmations, messages and
pmessages, RESP3 pushes) must be the same on both servers, and so must the
CLIENT LIST fields of each (flags, db, sub/psub/ssub counts, multi, the last
command, the protocol).

Order left open by Redis and normalized: PUBSUB CHANNELS and SHARDCHANNELS
lists (sorted), the pmessages one publish sends one client for several
matching patterns (Redis walks its pattern table in hash order; sorted), and
the confirmations of an UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE without
arguments (hash order; 7.0 keeps patterns in a list, 7.2 in a table):
compared as the set of names and the sequence of counts.

PUSH_AFTER_REPLY: a RESP3 client's own PUBLISH to a channel it listens to
gets its reply before the message push, as in Redis 7.2+ (7.0 pushes
first, and inside MULTI breaks the EXEC reply with it); the acting
connection's frames are compared with its replies first, pushes after.

Knobs: KEEL_PUBSUB_SEEDS=1-300 (or 1,5,9; default 1-25) and
KEEL_PUBSUB_STEPS=N (default 120).
"""
import os
import random

import pytest
from resp_client import RespError
from test_differential import _seeds, cli, ref_endpoint, short
from test_differential_more import Typed, TypedConn, tplain

SEEDS = _seeds(os.environ.get("KEEL_PUBSUB_SEEDS", "1-25"))
STEPS = int(os.environ.get("KEEL_PUBSUB_STEPS", "120"))

ROLES = ["a2", "b2", "c3", "pub"]
CHANNELS = ["ch0", "ch1", "ch2", "news.a", "news.b", "h3llo", ""]
PATTERNS = ["ch*", "news.*", "*", "ch[01]", "h?llo", "news.[ab]", "x*"]


class Gen:
    def __init__(self, seed):
        self.rnd = random.Random(seed + 900000)

    def pick(self, seq):
        return self.rnd.choice(seq)

    def some(self, seq, lo=1, hi=3):
        return [self.pick(seq) for _ in range(self.rnd.randint(lo, hi))]

    def step(self):
        r = self.rnd
        who = self.pick(ROLES + ["pub", "pub"])
        t = r.random()
        if t < 0.12:
            return who, ["SUBSCRIBE"] + self.some(CHANNELS)
        if t < 0.2:
            return who, ["UNSUBSCRIBE"] + self.some(CHANNELS, 0, 2)
        if t < 0.3:
            return who, ["PSUBSCRIBE"] + self.some(PATTERNS)
        if t < 0.37:
            return who, ["PUNSUBSCRIBE"] + self.some(PATTERNS, 0, 2)
        if t < 0.42:
            return who, ["SSUBSCRIBE"] + self.some(CHANNELS[:3], 1, 2)
        if t < 0.45:
            return who, ["SUNSUBSCRIBE"] + self.some(CHANNELS[:3], 0, 2)
        if t < 0.7:
            return "pub" if r.random() < 0.8 else who, ["PUBLISH", self.pick(CHANNELS), "m%d" % r.randrange(1000)]
        if t < 0.75:
            return "pub" if r.random() < 0.8 else who, ["SPUBLISH", self.pick(CHANNELS[:3]), "s%d" % r.randrange(100)]
        if t < 0.85:
            # (not HELP: Keel's help texts are its own words)
            sub = self.pick(["CHANNELS", "NUMSUB", "NUMPAT", "SHARDCHANNELS", "SHARDNUMSUB", "FOO"])
            args = ["PUBSUB", sub]
            if sub in ("CHANNELS", "SHARDCHANNELS") and r.random() < 0.5:
                args.append(self.pick(PATTERNS))
            elif sub in ("NUMSUB", "SHARDNUMSUB"):
                args += self.some(CHANNELS, 0, 3)
            elif sub == "NUMPAT" and r.random() < 0.2:
                args.append("extra")
            return "pub" if r.random() < 0.7 else who, args
        if t < 0.9:
            return who, self.pick([["PING"], ["PING", "hi"], ["PING", "a", "b"], ["ECHO", "x"], ["GET", "k"],
                                   ["SET", "k", "v"]])
        if t < 0.93:
            return who, ["RESET"]
        return who, self.pick([["SUBSCRIBE"], ["PSUBSCRIBE"], ["SSUBSCRIBE"], ["PUBLISH", "ch0"],
                               ["SPUBLISH", "ch0"], ["PUBSUB"]])


def pong(f):
    if isinstance(f, Typed) and f.kind == "push":
        f = f.value
    return f == "PONG" or (isinstance(f, list) and len(f) == 2 and f[0] == b"pong" and f[1] == b"")


def plain(f):
    if isinstance(f, RespError):
        return ("-ERR", str(f))
    if isinstance(f, (Typed, list)):
        return tplain(f)
    return f


def kind_of(f):
    v = f.value if isinstance(f, Typed) and f.kind == "push" else f
    return v[0] if isinstance(v, list) and v else None


def normalize(frames, args):
    out = [plain(f) for f in frames]
    if args[0] in ("UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE") and len(args) == 1:
        # all of them, in an order Redis leaves open: the names as a set,
        # the counts in order
        names = sorted((repr(_unwrap(f)[1]) for f in out if _is_unsub(f)))
        counts = [_unwrap(f)[2] for f in out if _is_unsub(f)]
        out = [("unsubscribed all", names, counts)] + [f for f in out if not _is_unsub(f)]
    if args[0] == "PUBSUB" and len(args) > 1 and args[1].upper() in ("CHANNELS", "SHARDCHANNELS"):
        out = [sorted(f, key=repr) if isinstance(f, list) else f for f in out]
    # runs of pmessages of one publish (same channel and payload): sorted
    i = 0
    while i < len(out):
        if kind_of(out[i]) == b"pmessage":
            j = i
            key = repr(_payload(out[i]))
            while j < len(out) and kind_of(out[j]) == b"pmessage" and repr(_payload(out[j])) == key:
                j += 1
            out[i:j] = sorted(out[i:j], key=repr)
            i = j
        else:
            i += 1
    return out


def _is_push(f):
    return isinstance(f, Typed) and f.kind == "push"


def _unwrap(f):
    return f.value if isinstance(f, Typed) and f.kind == "push" else f


def _is_unsub(f):
    v = _unwrap(f)
    return isinstance(v, list) and len(v) == 3 and v[0] in (b"unsubscribe", b"punsubscribe", b"sunsubscribe")


def _payload(f):
    v = f.value if isinstance(f, Typed) else f
    return v[2:]


# The CLIENT LIST fields compared for each connection (the others are
# times, addresses, buffer sizes and memory).
LIST_FIELDS = ("flags", "db", "sub", "psub", "ssub", "multi", "cmd", "resp")


class Side:
    def __init__(self, ep):
        self.conns = {"a2": TypedConn(ep), "b2": TypedConn(ep), "c3": TypedConn(ep), "pub": TypedConn(ep)}
        hello = self.conns["c3"].call("HELLO", "3")
        assert isinstance(hello, Typed) and hello.kind == "map"
        self.ids = {str(c.call("CLIENT", "ID")): role for role, c in self.conns.items()}
        self.observer = TypedConn(ep)

    def client_list(self):
        text = self.observer.call("CLIENT", "LIST")
        text = text.decode() if isinstance(text, bytes) else str(text)
        out = {}
        for line in text.splitlines():
            f = dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
            role = self.ids.get(f.get("id"))
            if role:
                out[role] = " ".join("%s=%s" % (k, f.get(k)) for k in LIST_FIELDS)
        return out

    def step(self, who, args):
        self.conns[who].send(*args)
        got = {}
        for role, c in self.conns.items():
            c.send("PING")
            frames = []
            while True:
                f = c.read()
                if pong(f) and (role != who or frames or not _is_ping_reply_of(args)):
                    break
                frames.append(f)
            got[role] = normalize(frames, args if role == who else ["-"])
            if role == who:
                # PUSH_AFTER_REPLY: replies first, pushes after (stable)
                got[role] = ([f for f in got[role] if not _is_push(f)] + [f for f in got[role] if _is_push(f)])
        got["CLIENT LIST"] = self.client_list()
        return got

    def close(self):
        for c in list(self.conns.values()) + [self.observer]:
            c.close()


def _is_ping_reply_of(args):
    """A PING step: its own answer is a pong too (read it as a frame)."""
    return args[0] == "PING" and len(args) == 1


@pytest.mark.parametrize("seed", SEEDS)
def test_pubsub_differential(server, redis_ref, seed):
    keel, ref = Side(server), Side(ref_endpoint(redis_ref))
    try:
        log = []
        gen = Gen(seed)
        for i in range(STEPS):
            who, args = gen.step()
            got, want = keel.step(who, args), ref.step(who, args)
            if got != want:
                roles = [r for r in ROLES + ["CLIENT LIST"] if got.get(r) != want.get(r)]
                pytest.fail("seed %d, step #%d differs: %s sends %s\n%s\nprevious steps:\n%s\n"
                            "(rerun: KEEL_PUBSUB_SEEDS=%d KEEL_PUBSUB_STEPS=%d)"
                            % (seed, i, who, cli(args),
                               "\n".join("  %s keel:  %s\n  %s redis: %s" % (r, short(got[r], 1200), r,
                                                                            short(want[r], 1200)) for r in roles),
                               "\n".join("  #%d %s: %s" % (j, w, cli(a)) for j, w, a in log[-12:]),
                               seed, i + 1), pytrace=False)
            log.append((i, who, args))
    finally:
        keel.close()
        ref.close()
