"""Wire protocol: RESP2/RESP3 reply shapes, HELLO, inline commands,
pipelining, split reads, protocol errors and the limits that keep a client
from making the server allocate what it only promises."""
import socket
import time

import pytest
import redis

from conftest import err, resp_exchange


class Err(str):
    """An error reply."""


class Conn:
    """A raw connection with a tiny RESP2/RESP3 reader, to check reply
    shapes exactly as they come off the wire."""

    def __init__(self, server, timeout=10):
        self.sock = server.raw()
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, *args):
        self.send(encode(*args))
        return self.read()

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        """Python value for one reply; RESP3 types are tagged so tests can
        tell a map from an array and a double from a string."""
        ln = self.line()
        t, rest = ln[:1], ln[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return Err(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if t == b"%":
            return ("map", [(self.read(), self.read()) for _ in range(int(rest))])
        if t == b"~":
            return ("set", [self.read() for _ in range(int(rest))])
        if t == b">":
            return ("push", [self.read() for _ in range(int(rest))])
        if t == b"_":
            return ("null",)
        if t == b",":
            return ("double", rest.decode())
        if t == b"#":
            return ("bool", rest == b"t")
        if t == b"(":
            return ("bignum", rest.decode())
        if t == b"=":
            return ("verbatim", self.exact(int(rest)))
        raise AssertionError("bad reply type %r" % ln)

    def closed(self, timeout=5):
        """True when the server closed the connection (after any data)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def used_memory(r):
    return int(r.info("memory")["used_memory"])


@pytest.fixture
def conn(server):
    c = Conn(server)
    yield c
    c.close()


# ---- RESP2 / RESP3 reply shapes ----


def test_resp2_shapes(server, r):
    c = Conn(server)
    assert c.cmd("PING") == "PONG"
    assert c.cmd("SET", "k", "v") == "OK"
    assert c.cmd("GET", "k") == b"v"
    assert c.cmd("GET", "nosuch") is None
    assert c.cmd("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"0"]
    assert c.cmd("COMMAND", "INFO", "nosuchcmd") == [None]
    assert c.cmd("DEBUG", "PROTOCOL", "double") == b"3.141"
    assert c.cmd("DEBUG", "PROTOCOL", "null") is None
    assert c.cmd("DEBUG", "PROTOCOL", "true") == 1
    assert c.cmd("DEBUG", "PROTOCOL", "false") == 0
    assert c.cmd("DEBUG", "PROTOCOL", "map") == [0, 0, 1, 1, 2, 0]
    assert c.cmd("DEBUG", "PROTOCOL", "set") == [0, 1, 2]
    assert c.cmd("DEBUG", "PROTOCOL", "verbatim") == b"This is a verbatim\nstring"
    assert c.cmd("DEBUG", "PROTOCOL", "bignum") == b"1234567999999999999999999999999999999"
    assert c.cmd("DEBUG", "PROTOCOL", "push") == "ERR RESP2 is not supported by this command"
    assert c.cmd("DEBUG", "PROTOCOL", "nope").startswith("ERR Wrong protocol type name.")
    c.close()


def test_resp3_shapes(server, r):
    c = Conn(server)
    hello = c.cmd("HELLO", "3")
    assert hello[0] == "map"
    fields = dict(hello[1])
    assert fields[b"server"] == b"redis"
    assert fields[b"proto"] == 3
    assert fields[b"mode"] == b"standalone"
    assert fields[b"role"] == b"master"
    assert fields[b"modules"] == []
    assert isinstance(fields[b"id"], int)
    assert list(dict(hello[1]).keys()) == [b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"]
    assert c.cmd("GET", "nosuch") == ("null",)
    assert c.cmd("CONFIG", "GET", "maxmemory") == ("map", [(b"maxmemory", b"0")])
    cfg = c.cmd("CONFIG", "GET", "maxmemory", "hz")
    assert cfg[0] == "map" and dict(cfg[1]) == {b"maxmemory": b"0", b"hz": b"10"}
    assert c.cmd("DEBUG", "PROTOCOL", "double") == ("double", "3.141")
    assert c.cmd("DEBUG", "PROTOCOL", "true") == ("bool", True)
    assert c.cmd("DEBUG", "PROTOCOL", "false") == ("bool", False)
    assert c.cmd("DEBUG", "PROTOCOL", "null") == ("null",)
    assert c.cmd("DEBUG", "PROTOCOL", "map") == (
        "map", [(0, ("bool", False)), (1, ("bool", True)), (2, ("bool", False))])
    assert c.cmd("DEBUG", "PROTOCOL", "set") == ("set", [0, 1, 2])
    assert c.cmd("DEBUG", "PROTOCOL", "array") == [0, 1, 2]
    assert c.cmd("DEBUG", "PROTOCOL", "bignum") == ("bignum", "1234567999999999999999999999999999999")
    assert c.cmd("DEBUG", "PROTOCOL", "verbatim") == ("verbatim", b"txt:This is a verbatim\nstring")
    assert c.cmd("DEBUG", "PROTOCOL", "push") == ("push", [b"server-cpu-usage", 42])
    assert c.read() == b"Some real reply following the push reply"
    # INFO and CLIENT LIST are verbatim strings; COMMAND flags are sets.
    info = c.cmd("INFO", "server")
    assert info[0] == "verbatim" and info[1].startswith(b"txt:# Server\r\n")
    assert c.cmd("CLIENT", "INFO")[0] == "verbatim"
    ci = c.cmd("COMMAND", "INFO", "get")
    assert ci[0][2] == ("set", ["readonly", "fast"])
    assert c.cmd("COMMAND", "INFO", "nosuchcmd") == [("null",)]
    assert c.cmd("PING") == "PONG"
    # back to RESP2: the map is a flat array again
    hello2 = c.cmd("HELLO", "2")
    assert isinstance(hello2, list) and len(hello2) == 14 and hello2[5] == 2
    assert c.cmd("GET", "nosuch") is None
    c.close()


def test_hello_errors_and_setname(server, r):
    c = Conn(server)
    assert c.cmd("HELLO", "4") == "NOPROTO unsupported protocol version"
    assert c.cmd("HELLO", "1") == "NOPROTO unsupported protocol version"
    assert c.cmd("HELLO", "abc") == "ERR Protocol version is not an integer or out of range"
    assert c.cmd("HELLO", "3", "foo") == "ERR Syntax error in HELLO option 'foo'"
    assert c.cmd("HELLO", "3", "AUTH", "default") == "ERR Syntax error in HELLO option 'AUTH'"
    assert c.cmd("HELLO", "3", "SETNAME", "a b") == (
        "ERR Client names cannot contain spaces, newlines or special characters.")
    # failed HELLOs change nothing: still RESP2
    assert c.cmd("GET", "nosuch") is None
    hello = c.cmd("HELLO", "3", "SETNAME", "myname")
    assert dict(hello[1])[b"proto"] == 3
    assert c.cmd("CLIENT", "GETNAME") == b"myname"
    # HELLO with no version reports the current protocol and keeps it
    assert dict(c.cmd("HELLO")[1])[b"proto"] == 3
    # without a password configured, AUTH in HELLO accepts default/anything
    h = c.cmd("HELLO", "2", "AUTH", "default", "x")
    assert isinstance(h, list) and h[4:6] == [b"proto", 2]
    c.close()


def test_hello_auth_with_requirepass(keel):
    s = keel("--requirepass", "s3cret")
    c = Conn(s)
    assert c.cmd("HELLO", "3") == (
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> "
        "AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol "
        "version at the same time")
    assert c.cmd("HELLO", "3", "AUTH", "default", "wrong") == (
        "WRONGPASS invalid username-password pair or user is disabled.")
    assert c.cmd("HELLO", "3", "AUTH", "bob", "s3cret") == (
        "WRONGPASS invalid username-password pair or user is disabled.")
    assert c.cmd("GET", "x") == "NOAUTH Authentication required."
    hello = c.cmd("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "authed")
    assert hello[0] == "map" and dict(hello[1])[b"proto"] == 3
    assert c.cmd("CLIENT", "GETNAME") == b"authed"
    assert c.cmd("GET", "x") == ("null",)
    c.close()


# ---- inline commands ----


def test_inline_commands_with_quotes(server, r):
    c = Conn(server)
    c.send(b"SET \"a key\" 'a value'\r\n")
    assert c.read() == "OK"
    assert r.get("a key") == b"a value"
    c.send(b'ECHO "tab\\there\\x41\\n"\r\n')
    assert c.read() == b"tab\there\x41\n"
    c.send(b"ECHO 'it\\'s'\r\n")
    assert c.read() == b"it's"
    c.send(b"  PING   \n")  # bare \n and surrounding spaces are fine
    assert c.read() == "PONG"
    c.send(b'ECHO ""\r\n')
    assert c.read() == b""
    c.close()


def test_empty_lines_and_empty_multibulk_are_skipped(server, r):
    c = Conn(server)
    c.send(b"\r\n\r\n\n   \r\n*0\r\n*-1\r\nPING\r\n")
    assert c.read() == "PONG"
    c.send(b"ECHO x\r\n")
    assert c.read() == b"x"  # nothing was queued for the empty lines
    c.close()


# ---- pipelining and split reads ----


def test_pipeline_many_commands_in_one_write(server, r):
    c = Conn(server)
    n = 2000
    payload = b"".join(encode("SET", "k%d" % i, "v%d" % i) for i in range(n))
    payload += b"".join(b"GET k%d\r\n" % i for i in range(n))  # mixed with inline
    c.send(payload)
    for i in range(n):
        assert c.read() == "OK"
    for i in range(n):
        assert c.read() == b"v%d" % i
    assert r.dbsize() == n
    c.close()


def test_command_split_byte_by_byte(server, r):
    c = Conn(server)
    payload = encode("SET", "split", "hello world") + encode("ECHO", "x" * 40) + b"ECHO inline\r\n"
    for b in payload:
        c.send(bytes([b]))
        time.sleep(0.001)
    assert c.read() == "OK"
    assert c.read() == b"x" * 40
    assert c.read() == b"inline"
    assert r.get("split") == b"hello world"
    c.close()


def test_split_after_each_argument(server, r):
    # The parsed arguments of a half-received command must survive the
    # buffer being compacted between reads.
    c = Conn(server)
    c.send(b"*3\r\n$3\r\nSET\r\n")
    time.sleep(0.05)
    c.send(b"$4\r\nkey1\r\n")
    time.sleep(0.05)
    c.send(b"$6\r\nval")
    time.sleep(0.05)
    c.send(b"ue1\r\n*2\r\n$4\r\nECHO\r\n")
    time.sleep(0.05)
    c.send(b"$2\r\nhi\r\n")
    assert c.read() == "OK"
    assert c.read() == b"hi"
    assert r.get("key1") == b"value1"
    c.close()


# ---- protocol errors: error reply, connection closed, others unaffected ----

MALFORMED = [
    (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*3\r\nfoo\r\n", "ERR Protocol error: expected '$', got 'f'"),
    (b"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$2000000000\r\n", "ERR Protocol error: invalid bulk length"),
    (b"SET \"foo bar\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b"SET 'foo\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b"ECHO \"a\"b\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b"x" * 70000, "ERR Protocol error: too big inline request"),
    (b"*" + b"1" * 70000, "ERR Protocol error: too big mbulk count string"),
    (b"*1\r\n$" + b"1" * 70000, "ERR Protocol error: too big bulk count string"),
]


@pytest.mark.parametrize("payload,error", MALFORMED, ids=[e for _, e in MALFORMED])
def test_malformed_input(server, r, payload, error):
    other = Conn(server)
    assert other.cmd("PING") == "PONG"
    c = Conn(server)
    c.send(b"PING\r\n")  # a good command before the bad one still runs
    assert c.read() == "PONG"
    c.send(payload)
    assert c.read() == error
    assert c.closed()
    c.close()
    # the error counts, and the server and other clients carry on
    assert other.cmd("PING") == "PONG"
    assert other.cmd("SET", "after", "1") == "OK"
    other.close()


def test_huge_length_prefixes_do_not_allocate(server, r):
    before = used_memory(r)
    conns = []
    for payload in (b"*1000000000\r\n", b"*2000000000\r\n$3\r\nSET\r\n",
                    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\npartial",
                    b"*1\r\n$536870912\r\n"):
        c = Conn(server)
        c.send(payload)
        conns.append(c)
    time.sleep(0.3)
    assert r.ping()
    grown = used_memory(r) - before
    assert grown < 8 * 1024 * 1024, grown
    # those clients are simply waiting for the rest
    for c in conns:
        assert not c.closed(timeout=0.1)
        c.close()
    # a huge multibulk count with real arguments still works
    c = Conn(server)
    c.send(b"*1000000000\r\n" + b"$1\r\na\r\n" * 1000)
    time.sleep(0.2)
    assert used_memory(r) - before < 8 * 1024 * 1024
    c.close()


def test_proto_max_bulk_len(server, r):
    r.config_set("proto-max-bulk-len", "1mb")
    try:
        assert r.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": "1048576"}
        r.set("exact", b"x" * (1024 * 1024))  # the limit itself is allowed
        assert r.strlen("exact") == 1024 * 1024
        c = Conn(server)
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (2 * 1024 * 1024))
        c.send(b"y" * 1000)
        assert c.read() == "ERR Protocol error: invalid bulk length"
        assert c.closed()
        c.close()
        assert r.exists("k") == 0
    finally:
        r.config_set("proto-max-bulk-len", "512mb")
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("proto-max-bulk-len", "1000")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - "
                            "argument must be between 1048576 and 9223372036854775807 inclusive")


def test_large_value_roundtrip(server):
    big = server.client(socket_timeout=120)
    size = 100 * 1024 * 1024
    val = b"0123456789abcdef" * (size // 16)
    val = val[:-3] + b"end"
    assert big.set("big", val) is True
    assert big.strlen("big") == size
    got = big.get("big")
    assert len(got) == size and got == val
    big.delete("big")
    # the query buffer and reply buffer shrink back when idle
    assert int(big.info("memory")["used_memory"]) < 64 * 1024 * 1024
    big.close()


def test_client_query_buffer_limit(server, r):
    r.config_set("client-query-buffer-limit", "1mb")
    try:
        before = int(r.info("stats")["client_query_buffer_limit_disconnections"])
        c = Conn(server)
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (4 * 1024 * 1024))
        try:
            for _ in range(32):
                c.send(b"z" * (128 * 1024))
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert c.closed()
        c.close()
        # many pipelined arguments of one command count too
        c = Conn(server)
        try:
            c.send(b"*1000\r\n$4\r\nMSET\r\n" + b"$100000\r\n" + b"a" * 100000 + b"\r\n")
            for _ in range(20):
                c.send(b"$100000\r\n" + b"a" * 100000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert c.closed()
        c.close()
        after = int(r.info("stats")["client_query_buffer_limit_disconnections"])
        assert after >= before + 2
        assert r.ping()
        assert r.exists("k") == 0
    finally:
        r.config_set("client-query-buffer-limit", "1gb")


# ---- authentication ----


def test_noauth_and_unauthenticated_limits(keel):
    s = keel("--requirepass", "pw")
    c = Conn(s)
    assert c.cmd("GET", "k") == "NOAUTH Authentication required."
    assert c.cmd("PING") == "NOAUTH Authentication required."
    assert c.cmd("AUTH", "nope") == "WRONGPASS invalid username-password pair or user is disabled."
    assert c.cmd("AUTH", "default", "nope") == "WRONGPASS invalid username-password pair or user is disabled."
    assert c.cmd("AUTH", "a", "b", "c") == "ERR syntax error"
    assert c.cmd("AUTH", "pw") == "OK"
    assert c.cmd("SET", "k", "v") == "OK"
    assert c.cmd("AUTH", "default", "pw") == "OK"
    c.close()

    # Before AUTH only small requests are accepted.
    c = Conn(s)
    c.send(b"*11\r\n")
    assert c.read() == "ERR Protocol error: unauthenticated multibulk length"
    assert c.closed()
    c.close()
    c = Conn(s)
    c.send(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n")
    assert c.read() == "ERR Protocol error: unauthenticated bulk length"
    assert c.closed()
    c.close()
    # malformed input before AUTH still gets the plain protocol error
    c = Conn(s)
    c.send(b"*x\r\n")
    assert c.read() == "ERR Protocol error: invalid multibulk length"
    c.close()
    # ...and after AUTH the normal limits apply
    c = Conn(s)
    assert c.cmd("AUTH", "pw") == "OK"
    assert c.cmd("ECHO", "y" * 20000) == b"y" * 20000
    args = ["MSET"] + ["k%d" % i for i in range(20)]
    assert c.cmd(*args) == "OK"
    # QUIT works without AUTH
    c2 = Conn(s)
    assert c2.cmd("QUIT") == "OK"
    assert c2.closed()
    c.close()


def test_auth_without_password_configured(server, r):
    c = Conn(server)
    assert c.cmd("AUTH", "x") == (
        "ERR AUTH <password> called without any password configured for the default user. Are you sure "
        "your configuration is correct?")
    # the default user has nopass: any password works with the user form
    assert c.cmd("AUTH", "default", "anything") == "OK"
    assert c.cmd("AUTH", "someone", "anything") == (
        "WRONGPASS invalid username-password pair or user is disabled.")
    c.close()


def test_requirepass_set_at_runtime(keel):
    s = keel()
    r = s.client()
    r.config_set("requirepass", "later")
    c = Conn(s)
    assert c.cmd("GET", "k") == "NOAUTH Authentication required."
    assert c.cmd("AUTH", "later") == "OK"
    c.close()
    # the client that set it stays authenticated
    assert r.ping()
    r.config_set("requirepass", "")
    c = Conn(s)
    assert c.cmd("PING") == "PONG"
    c.close()
    r.close()


def test_resp_exchange_helper_inline(server, r):
    s = server.raw()
    assert resp_exchange(s, b"PING\r\nPING\r\n") == b"+PONG\r\n+PONG\r\n"
    s.close()


def test_client_reply_off_skip_on(server):
    """CLIENT REPLY: OFF silences every reply (its own too) until ON, whose
    OK is sent; SKIP silences itself and the next command's reply."""
    from resp_client import RespConn
    c = RespConn(server)
    try:
        c.send("CLIENT", "REPLY", "OFF")
        c.send("SET", "reply:k", "1")
        c.send("INCR", "reply:k")
        c.send("GET", "nope")
        assert c.try_read() is None
        assert c.call("CLIENT", "REPLY", "ON") == "OK"
        assert c.call("GET", "reply:k") == b"2"
        c.send("CLIENT", "REPLY", "SKIP")
        c.send("INCR", "reply:k")
        assert c.call("GET", "reply:k") == b"3"
        c.send("CLIENT", "REPLY", "SKIP")
        c.send("CLIENT", "REPLY", "SKIP")  # skipped itself; its own SKIP then skips PING
        c.send("PING")
        assert c.call("ECHO", "x") == b"x"
        assert str(c.call("CLIENT", "REPLY", "BOGUS")) == "ERR syntax error"
    finally:
        c.close()


def test_debug_protocol_attrib(keel):
    """An attribute before the reply in RESP3; the reply alone in RESP2."""
    server = keel("--enable-debug-command", "yes")
    s = socket.create_connection(("127.0.0.1", server.port))
    try:
        def exchange(cmd, want):
            s.sendall(cmd)
            got = b""
            while len(got) < len(want):
                got += s.recv(4096)
            return got
        tail = b"$39\r\nSome real reply following the attribute\r\n"
        assert exchange(b"DEBUG PROTOCOL attrib\r\n", tail) == tail
        hello = exchange(b"HELLO 3\r\n", b"%")
        while not hello.endswith(b"modules\r\n*0\r\n"):  # its last field
            hello += s.recv(4096)
        want = b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n" + tail
        assert exchange(b"DEBUG PROTOCOL attrib\r\n", want) == want
    finally:
        s.close()


def test_every_command_name_is_found_in_any_case(server, r):
    # Each top-level command of COMMAND LIST is found under its name in
    # upper, lower and mixed case; a name one letter off is unknown, in
    # any case, and running it says so.
    raw = server.client()
    raw.response_callbacks.clear()  # COMMAND's replies as sent
    names = [n.decode() for n in raw.execute_command("COMMAND", "LIST") if b"|" not in n]
    assert len(names) > 200
    for name in names:
        mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name))
        infos = raw.execute_command("COMMAND", "INFO", name.upper(), name.lower(), mixed)
        assert [i[0] if i else None for i in infos] == [name.encode()] * 3, name
    for bogus in ("GETX", "gett", "Xget", "SETT", "zaddd", "PIN"):
        assert raw.execute_command("COMMAND", "INFO", bogus) == [None]
        assert err(r.execute_command, bogus, "k").startswith("unknown command '%s'" % bogus)
    assert raw.execute_command("sEt", "k", "v") == b"OK"
    assert raw.execute_command("GeT", "k") == b"v"
    assert raw.execute_command("pInG") == b"PONG"
    # Case folds letters only, byte for byte, past 16 bytes too: a non-letter
    # one bit off, a letter with its top bit set or a trailing NUL is another
    # name.
    for bogus in (b"GEORADIUS\x7fRO", b"\xc7ET", b"get\x00", b"georadiusbymember_rx", b"GEORADIUSBYMEMBER-RO"):
        assert err(r.execute_command, bogus, "k").startswith("unknown command")
    for found in ("GeoRadius_Ro", "GEORADIUSBYMEMBER_RO", "georadiusByMember_ro"):
        assert err(r.execute_command, found) == "wrong number of arguments for '%s' command" % found.lower()


def test_big_argument_buffer_fits_it(server, r):
    """The query buffer holding a big argument stays about its size, even when
    the last bytes arrive on their own (they once doubled it)."""
    size = 3 << 20
    c = Conn(server)
    c.send(b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$4\r\nhalf\r\n")
    assert c.read() == "OK"
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % size + b"x" * (size - 100))
    time.sleep(0.3)
    c.send(b"x" * 50)  # 50 still to come
    time.sleep(0.2)
    line = [x for x in r.client_list() if x["name"] == "half"][0]
    held = int(line["qbuf"]) + int(line["qbuf-free"])
    assert size - 100 < held < size + 64 * 1024, held
    c.send(b"x" * 50 + b"\r\n")
    assert c.read() == "OK"
    assert r.strlen("k") == size
    c.close()


def test_client_reply_off_keeps_pushes(server):
    """Pushes are not replies: subscribe confirmations, messages, keyspace
    events and invalidations reach a client whose replies CLIENT REPLY
    OFF|SKIP silence, in RESP2 and RESP3, as in Redis 7.0.15."""
    from resp_client import Push, RespConn
    pub = RespConn(server)
    c3 = RespConn(server, resp3=True)
    c2 = RespConn(server)
    try:
        pub.call("CONFIG", "SET", "notify-keyspace-events", "KA")
        c3.send("CLIENT", "REPLY", "OFF")
        c3.send("SUBSCRIBE", "ch")
        got = c3.read()
        assert isinstance(got, Push) and got == [b"subscribe", b"ch", 1]
        c3.send("PSUBSCRIBE", "__keyspace@0__:*")
        assert c3.read() == [b"psubscribe", b"__keyspace@0__:*", 2]
        # its own write: the silenced OK is dropped, the event it causes is not
        c3.send("SET", "pk", "v")
        assert c3.read() == [b"pmessage", b"__keyspace@0__:*", b"__keyspace@0__:pk", b"set"]
        c3.send("PUBLISH", "ch", "self")
        assert c3.read() == [b"message", b"ch", b"self"]
        assert pub.call("PUBLISH", "ch", "hi") == 1
        assert c3.read() == [b"message", b"ch", b"hi"]
        c3.send("UNSUBSCRIBE", "ch")
        assert c3.read() == [b"unsubscribe", b"ch", 1]
        c3.send("GET", "pk")
        assert c3.try_read() is None
        assert c3.call("CLIENT", "REPLY", "ON") == "OK"
        assert c3.call("GET", "pk") == b"v"

        # RESP2 and SKIP: the confirmation of the skipped command is sent
        c2.send("CLIENT", "REPLY", "SKIP")
        c2.send("PSUBSCRIBE", "c*")
        assert c2.read() == [b"psubscribe", b"c*", 1]
        assert pub.call("PUBLISH", "ch", "two") == 1
        assert c2.read() == [b"pmessage", b"c*", b"ch", b"two"]
        assert c2.call("PING") == [b"pong", b""]

        # RESET while silenced answers, and the silence is gone
        c3.send("CLIENT", "REPLY", "OFF")
        assert c3.call("RESET") == "RESET"
        assert c3.call("ECHO", "e") == b"e"
    finally:
        pub.call("CONFIG", "SET", "notify-keyspace-events", "")
        for conn in (pub, c3, c2):
            conn.close()


def test_client_reply_off_keeps_invalidations(server):
    """A RESP3 client tracking its own reads gets the invalidation of its
    own silenced write."""
    from resp_client import RespConn
    c = RespConn(server, resp3=True)
    try:
        assert c.call("CLIENT", "TRACKING", "ON") == "OK"
        c.call("SET", "tk", "1")
        assert c.call("GET", "tk") == b"1"
        c.send("CLIENT", "REPLY", "OFF")
        c.send("SET", "tk", "2")
        assert c.read() == [b"invalidate", [b"tk"]]
        assert c.try_read() is None
    finally:
        c.close()
