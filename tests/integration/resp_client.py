"""A minimal RESP2/RESP3 client over a raw socket, for tests that need to see
frame types redis-py 4 hides (RESP3 pushes, their order against replies).

read() returns one frame: str for +status, RespError for -error, int,
bytes/None for bulk, list for arrays and sets, dict for maps, Push (a list)
for > pushes, None for _ nulls.
"""
import socket


class RespError(Exception):
    pass


class Push(list):
    """A RESP3 out-of-band push frame."""


class RespConn:
    def __init__(self, server, resp3=False, rcvbuf=None):
        if rcvbuf is None:
            self.sock = server.raw()
        else:
            # A small receive window set before connecting keeps the kernel
            # from absorbing megabytes for a client that never reads.
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.connect(("127.0.0.1", server.port))
        self.sock.settimeout(5)
        self.buf = b""
        if resp3:
            hello = self.call("HELLO", "3")
            assert hello[b"proto"] == 3

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def call(self, *args):
        self.send(*args)
        return self.read()

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self, timeout=5):
        self.sock.settimeout(timeout)
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._bytes(n)
        if t == b"=":
            data = self._bytes(int(rest))
            return self.frame("verbatim", (data[:3], data[4:]))
        if t == b"_":
            return self.frame("null", None)
        if t == b",":
            return self.frame("double", float(rest))
        if t == b"#":
            return self.frame("bool", rest == b"t")
        if t == b"(":
            return self.frame("big", int(rest))
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read(timeout) for _ in range(n)]
            return items if t == b"*" else self.frame("set" if t == b"~" else "push", items)
        if t == b"%":
            pairs = []
            for _ in range(int(rest)):
                k = self.read(timeout)
                pairs.append((k, self.read(timeout)))
            return self.frame("map", pairs)
        raise AssertionError("bad frame %r" % line)

    def frame(self, kind, value):
        """The Python value of a RESP3 frame without a RESP2 twin; a
        subclass may keep the types apart instead."""
        if kind == "verbatim":
            return value[1]
        if kind == "set":
            return value
        if kind == "push":
            return Push(value)
        if kind == "map":
            return dict(value)
        return value

    def try_read(self, timeout=0.3):
        """A frame, or None if nothing arrives within timeout."""
        try:
            return self.read(timeout)
        except socket.timeout:
            return None

    def close(self):
        self.sock.close()
