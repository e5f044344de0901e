"""Pipelining: many commands in one write, split by the server's reads at
arbitrary points, must all be parsed and answered in order."""
from conftest import resp_exchange


def test_large_pipeline_split_across_reads(server):
    server.client().flushall()
    n = 20000
    payload = b"".join(
        b"*3\r\n$3\r\nSET\r\n$10\r\nk:%08d\r\n$16\r\n%s\r\n" % (i, b"v" * 16) for i in range(n))
    s = server.raw()
    s.sendall(payload)
    s.settimeout(10)
    got = b""
    while got.count(b"\r\n") < n:
        chunk = s.recv(1 << 20)
        assert chunk, "connection closed"
        got += chunk
    assert got == b"+OK\r\n" * n
    assert server.client().dbsize() == n
    assert server.client().get("k:00012345") == b"v" * 16


def test_command_split_byte_by_byte(server):
    s = server.raw()
    cmd = b"*3\r\n$3\r\nSET\r\n$5\r\nsplit\r\n$5\r\nvalue\r\n"
    for i in range(len(cmd)):
        s.sendall(cmd[i:i + 1])
    assert resp_exchange(s, b"") == b"+OK\r\n"
    assert server.client().get("split") == b"value"
