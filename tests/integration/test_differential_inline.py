"""Seeded random differential test of the inline protocol (what telnet, nc
and hand-written health checks send) against Debian's redis-server 7.0:
random lines built from words, double-quoted strings with escapes (\\n,
\\x41, \\", bad \\x escapes), single-quoted strings, unbalanced quotes,
quotes glued to the next word, runs of spaces and tabs, empty lines, and
\\n or \\r\\n line ends, each sent as ECHO / SET / GET / PING / EXISTS
arguments; and multibulk requests, some broken (bad counts and lengths,
limits, a wrong type byte, a count larger than the arguments that follow).

Left out by design (CRLF_NOTE): a bulk string whose two bytes after its
declared length are not CRLF. Redis skips those two bytes unread and goes
on with whatever follows; Keel answers "Protocol error: bulk string is not
terminated by CRLF" and closes the connection, so that a length a client
got wrong cannot make the rest of its data run as commands. The reply to each must be the same, and so must be
whether the server closed the connection after it (a protocol error does).

Knobs: KEEL_INLINE_SEEDS=1-300 (or 1,5,9; default 1-30) and
KEEL_INLINE_LINES=N (default 150).
"""
import os
import random
import socket

import pytest
from test_differential import _seeds, ref_endpoint, short

SEEDS = _seeds(os.environ.get("KEEL_INLINE_SEEDS", "1-30"))
LINES = int(os.environ.get("KEEL_INLINE_LINES", "150"))

WORDS = ["a", "k", "hello", "x y", "1", "-", "\\n", "caf\xe9", "$3", "*1", ":1"]
ESCAPES = ["\\n", "\\r", "\\t", "\\b", "\\a", "\\\\", '\\"', "\\x41", "\\x4a", "\\xzz", "\\x4", "\\q", "\\'"]


class Gen:
    def __init__(self, seed):
        self.rnd = random.Random(seed + 1100000)

    def pick(self, seq):
        return self.rnd.choice(seq)

    def token(self):
        r = self.rnd.random()
        if r < 0.4:
            return self.pick(WORDS).replace(" ", "")
        if r < 0.7:
            body = "".join(self.pick(WORDS + ESCAPES) for _ in range(self.rnd.randint(0, 3)))
            tok = '"' + body + '"'
        elif r < 0.85:
            body = "".join(self.pick(["a", " ", "b", "\\'", "\\n", '"']) for _ in range(self.rnd.randint(0, 3)))
            tok = "'" + body + "'"
        elif r < 0.92:
            tok = self.pick(['"abc', "'abc", '"a\\"', "'a\\'"])  # unbalanced
        else:
            tok = self.pick(['"a"b', "'a'b", '"a""b"', "x\"y\""])  # glued
        return tok

    def sep(self):
        return self.pick([" ", " ", "  ", "\t", " \t "])

    def line(self):
        r = self.rnd.random()
        if r < 0.05:
            body = self.pick(["", " ", "\t", "  \t"])
        else:
            cmd = self.pick(["ECHO", "echo", "SET k", "GET", "PING", "EXISTS", "SET", "GET k"])
            toks = [self.token() for _ in range(self.rnd.randint(0, 3))]
            body = self.pick(["", " ", "\t"]) + cmd + "".join(self.sep() + t for t in toks)
            if self.rnd.random() < 0.1:
                body += self.pick([" ", "\t"])
        end = "\r\n" if self.rnd.random() < 0.8 else "\n"
        return body.encode("latin-1") + end.encode()


def bulk(a):
    return b"$%d\r\n%s\r\n" % (len(a), a)


class MultibulkGen(Gen):
    """Multibulk requests, some broken in a way that gives a definite
    answer (never a bulk longer than what follows, which would wait)."""

    def line(self):
        r = self.rnd
        args = [self.pick([b"ECHO", b"SET", b"GET", b"PING", b"DEL"])] + [
            self.pick([b"k", b"v", b"", b"a b", b"\r\n"]) for _ in range(r.randint(0, 2))]
        t = r.random()
        if t < 0.5:
            return b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)
        if t < 0.6:
            head = self.pick([b"*-1", b"*0", b"*abc", b"*", b"*1048577", b"*1048576", b"* 1", b"*+1", b"*01"])
            return head + b"\r\n"
        if t < 0.7:
            bad = self.pick([b"$-1", b"$abc", b"$", b"$536870913", b"$+1", b"$ 1", b"x1", b":1", b"*1"])
            return b"*2\r\n" + bulk(args[0]) + bad + b"\r\n"
        if t < 0.8:
            # two requests in one write, the second inline
            return b"*2\r\n" + bulk(b"ECHO") + bulk(args[-1]) + b"ECHO inline\r\n"
        if t < 0.9:
            # a multibulk count larger than what follows: the next request's
            # lines are read as its arguments
            return b"*%d\r\n" % (len(args) + 1) + b"".join(bulk(a) for a in args)
        return b"*1\r\n" + bulk(args[0]) + b"\r\n"


class Conn:
    """A raw socket: what arrives after one line (until a quiet pause)."""

    def __init__(self, port):
        self.port = port
        self.open()

    def open(self):
        self.s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.s.sendall(b"PING\r\n")
        assert self.s.recv(100) == b"+PONG\r\n"

    def exchange(self, data):
        self.s.sendall(data + b"PING\r\n")
        out = b""
        closed = False
        while not out.endswith(b"+PONG\r\n"):
            try:
                chunk = self.s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                closed = True
                break
            out += chunk
        if closed:
            self.s.close()
            self.open()
        else:
            out = out[:-len(b"+PONG\r\n")]
        return out, closed

    def close(self):
        self.s.close()


@pytest.mark.parametrize("kind", ["inline", "multibulk"])
@pytest.mark.parametrize("seed", SEEDS)
def test_inline_differential(server, redis_ref, seed, kind):
    keel, ref = Conn(server.port), Conn(ref_endpoint(redis_ref).port)
    try:
        for c in (keel, ref):
            c.exchange(b"DEL k\r\n")
        g = Gen(seed) if kind == "inline" else MultibulkGen(seed)
        log = []
        for i in range(LINES):
            line = g.line()
            got, want = keel.exchange(line), ref.exchange(line)
            if got != want:
                pytest.fail("seed %d, line #%d differs: %r\n  keel:  %s\n  redis: %s\nprevious lines:\n%s\n"
                            "(rerun: KEEL_INLINE_SEEDS=%d KEEL_INLINE_LINES=%d)"
                            % (seed, i, line, short(got, 500), short(want, 500),
                               "\n".join("  %r -> %s" % (ln, short(r, 120)) for ln, r in log[-10:]), seed, i + 1),
                            pytrace=False)
            log.append((line, got))
    finally:
        keel.close()
        ref.close()
