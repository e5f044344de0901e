"""TLS (issue 12): tls-port beside the plain port, the tls-* directives of
Redis 7.0, mutual TLS, bad peers, big replies and pipelines over TLS,
pub/sub, and replication over TLS between Keel and Debian's redis-server.

Written against Debian's redis-server 7.0.15 (built with TLS): every test
here passes with KEEL_SERVER=/usr/bin/redis-server; the replication
interop tests run Keel and Redis side by side and need both. Certificates
are made per module with the openssl CLI (tls_util.PKI)."""
import hashlib
import os
import socket
import ssl
import subprocess
import time

import pytest
import redis
from conftest import SERVER
from tls_util import (HOST, KEY_PASS, PKI, REDIS, TLSServer, client_context, read_until_closed, tls_args,
                      tls_client, tls_socket)

HAVE_REDIS = os.access(REDIS, os.X_OK)
TLS_UPDATE_FAILED = ("CONFIG SET failed (possibly related to argument '%s') - Unable to update TLS configuration. "
                     "Check server logs.")
BAD_PROTOCOLS = ("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and "
                 "'TLSv1.3'.")
NEED_CA = ("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or "
           "tls-auth-clients are enabled!")
FAILED_TLS = "Failed to configure TLS. Check logs for more info."


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def start(pki):
    """start(*args, **kw) -> TLSServer; all stopped after the test."""
    started = []

    def run(*args, **kw):
        s = TLSServer(pki, *args, **kw)
        started.append(s)
        return s

    yield run
    problems = []
    for s in reversed(started):
        try:
            s.stop()
        except AssertionError as e:
            problems.append(str(e))
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def shared(pki):
    """One server for the tests that do not change its configuration."""
    s = TLSServer(pki)
    yield s
    s.stop()


def conn_refused(fn):
    """fn() fails the way a refused TLS peer does (redis-py wraps the
    handshake's SSL error, or the reset after the server's alert, as a
    ConnectionError); returns its text."""
    with pytest.raises(redis.exceptions.ConnectionError) as e:
        fn()
    return str(e.value)


def cli(port, *args, ca=None, cert=None, key=None, pki=None):
    argv = ["redis-cli", "-h", HOST, "-p", str(port), "--tls", "--cacert", ca or pki.ca_crt]
    if cert:
        argv += ["--cert", cert, "--key", key]
    r = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


# ---------------------------------------------------------------- clients

def test_redis_cli_over_tls(shared, pki):
    rc, out = cli(shared.tls_port, "SET", "cli:k", "v1", pki=pki, cert=pki.client_crt, key=pki.client_key)
    assert (rc, out.strip()) == (0, "OK")
    rc, out = cli(shared.tls_port, "GET", "cli:k", pki=pki, cert=pki.client_crt, key=pki.client_key)
    assert (rc, out.strip()) == (0, "v1")
    # tls-auth-clients defaults to yes: no client certificate, no service.
    rc, out = cli(shared.tls_port, "PING", pki=pki)
    assert rc != 0 and "PONG" not in out
    # A client that does not trust the server's CA refuses it.
    rc, out = cli(shared.tls_port, "PING", pki=pki, ca=pki.other_ca_crt, cert=pki.client_crt, key=pki.client_key)
    assert rc != 0 and "certificate verify failed" in out


def test_redis_py_over_tls(shared):
    c = shared.client()
    assert c.ping() is True
    c.set("py:k", "v")
    assert c.get("py:k") == b"v"
    assert c.incrby("py:n", 5) == 5
    info = c.info("server")
    assert info["tcp_port"] == shared.port
    c.close()


def test_plain_and_tls_ports_side_by_side(shared):
    t = shared.client()
    p = shared.plain()
    t.set("side", "from-tls")
    assert p.get("side") == b"from-tls"
    p.set("side", "from-plain")
    assert t.get("side") == b"from-plain"
    assert p.config_get("tls-port") == {"tls-port": str(shared.tls_port)}
    assert t.config_get("port") == {"port": str(shared.port)}
    ids = {int(line.split()[0].split("=")[1]) for line in p.execute_command("CLIENT", "LIST").decode().splitlines()}
    assert t.client_id() in ids and p.client_id() in ids
    t.close()
    p.close()


def test_tls_port_only(start, pki):
    s = start(plain=False)
    c = s.client()
    assert c.config_get("port") == {"port": "0"}
    # With no plain port, INFO names the TLS one (as Redis).
    assert c.info("server")["tcp_port"] == s.tls_port
    c.set("k", "v")
    assert c.get("k") == b"v"
    c.close()


def test_tls_client_on_plain_port_fails(shared, pki):
    with pytest.raises((ssl.SSLError, OSError)):
        tls_socket(pki, shared.port, timeout=3).close()
    assert shared.plain().ping() is True


# ---------------------------------------------------------------- mutual TLS

def test_auth_clients_yes(shared, pki):
    assert shared.client().ping() is True
    conn_refused(lambda: tls_client(pki, shared.tls_port).ping())
    other = tls_client(pki, shared.tls_port, ssl_certfile=pki.other_client_crt, ssl_keyfile=pki.other_client_key)
    conn_refused(other.ping)
    assert shared.client().ping() is True


def test_auth_clients_optional(start, pki):
    s = start("--tls-auth-clients", "optional")
    assert tls_client(pki, s.tls_port).ping() is True
    assert s.client().ping() is True
    other = tls_client(pki, s.tls_port, ssl_certfile=pki.other_client_crt, ssl_keyfile=pki.other_client_key)
    conn_refused(other.ping)


def test_auth_clients_user_cn_logs_the_client_in(start, pki):
    """tls-auth-clients-user CN (Redis 8.6): a client whose verified
    certificate's Common Name names an enabled ACL user is that user from
    its first command, with no AUTH; otherwise it stays the default user
    and acl_access_denied_tls_cert counts it."""
    s = start("--tls-auth-clients", "optional", "--tls-auth-clients-user", "CN")
    s.plain().config_set("requirepass", "secret")  # after start-up: the readiness PING has none
    admin = s.plain(password="secret", decode_responses=True)
    assert admin.config_get("tls-auth-clients-user") == {"tls-auth-clients-user": "CN"}
    admin.execute_command("ACL", "SETUSER", "keel-test-client", "on", "nopass", "+@all", "-flushall", "~app:*")
    c = s.client(decode_responses=True)
    assert c.execute_command("ACL", "WHOAMI") == "keel-test-client"
    assert c.set("app:1", "v") is True
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.set("other", "v")  # the user's own rules apply
    c.close()
    # No certificate: the default user, who needs its password.
    anon = tls_client(pki, s.tls_port)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anon.ping()
    anon.close()
    assert int(admin.info("stats")["acl_access_denied_tls_cert"]) == 0
    # A certificate whose CN names no user (or a user that is off).
    admin.execute_command("ACL", "SETUSER", "keel-test-client", "off")
    c = s.client(decode_responses=True)
    with pytest.raises(redis.exceptions.AuthenticationError):
        c.ping()
    c.close()
    assert int(admin.info("stats")["acl_access_denied_tls_cert"]) == 1
    # Off (the default): the certificate names nobody.
    admin.execute_command("ACL", "SETUSER", "keel-test-client", "on")
    assert admin.config_set("tls-auth-clients-user", "off") is True
    c = s.client(decode_responses=True)
    with pytest.raises(redis.exceptions.AuthenticationError):
        c.ping()
    c.close()
    assert admin.config_get("tls-auth-clients-user") == {"tls-auth-clients-user": "off"}
    with pytest.raises(redis.exceptions.ResponseError):
        admin.config_set("tls-auth-clients-user", "SAN")
    admin.close()


def test_auth_clients_no(start, pki):
    s = start("--tls-auth-clients", "no")
    assert tls_client(pki, s.tls_port).ping() is True
    # Not asked for a certificate, the other CA's client is not judged.
    other = tls_client(pki, s.tls_port, ssl_certfile=pki.other_client_crt, ssl_keyfile=pki.other_client_key)
    assert other.ping() is True


def test_auth_clients_changes_for_new_connections(start, pki):
    s = start()
    held = s.client()
    assert held.ping() is True
    conn_refused(lambda: tls_client(pki, s.tls_port).ping())
    assert held.config_set("tls-auth-clients", "no") is True
    assert tls_client(pki, s.tls_port).ping() is True
    assert held.config_get("tls-auth-clients") == {"tls-auth-clients": "no"}
    with pytest.raises(redis.ResponseError) as e:
        held.config_set("tls-auth-clients", "maybe")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-auth-clients') - argument(s) must "
                            "be one of the following: no, yes, optional")


def test_server_certificate_from_another_ca_refused(start, pki):
    s = start("--tls-auth-clients", "no", files=tls_args(pki, cert=pki.other_server_crt, key=pki.other_server_key))
    msg = conn_refused(lambda: tls_client(pki, s.tls_port).ping())
    assert "certificate verify failed" in msg
    ok = tls_client(pki, s.tls_port, ssl_ca_certs=pki.other_ca_crt)
    assert ok.ping() is True
    ok.close()


def test_expired_server_certificate_refused(start, pki):
    s = start("--tls-auth-clients", "no", files=tls_args(pki, cert=pki.expired_crt, key=pki.expired_key))
    msg = conn_refused(lambda: tls_client(pki, s.tls_port).ping())
    assert "certificate has expired" in msg
    rc, out = cli(s.tls_port, "PING", pki=pki)
    assert rc != 0 and "certificate verify failed" in out
    assert s.plain().ping() is True


# ---------------------------------------------------------------- bad peers

def test_garbage_on_tls_port_closes_connection(shared, pki):
    for payload in (os.urandom(4096), b"PING\r\n", b"*1\r\n$4\r\nPING\r\n",
                    b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"):
        with socket.create_connection((HOST, shared.tls_port), timeout=5) as s:
            s.sendall(payload)
            data = read_until_closed(s, timeout=5)
            assert b"PONG" not in data
    c = shared.client()
    assert c.ping() is True
    c.close()


def _client_hello(pki):
    """The first flight of a TLS client, as bytes."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_context(pki).wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_stalled_handshakes_do_not_block_others(shared, pki):
    hello = _client_hello(pki)
    stalled = []
    try:
        # Connected and silent; half a ClientHello; a whole ClientHello and
        # then nothing (the server has answered and waits for Finished).
        for part in (b"", hello[:len(hello) // 2], hello):
            s = socket.create_connection((HOST, shared.tls_port), timeout=5)
            if part:
                s.sendall(part)
            stalled.append(s)
        time.sleep(0.2)
        for i in range(5):
            c = shared.client(socket_timeout=2, socket_connect_timeout=2)
            assert c.set("stall:%d" % i, i) is True
            assert c.get("stall:%d" % i) == str(i).encode()
            c.close()
        assert shared.plain().ping() is True
    finally:
        for s in stalled:
            s.close()


# ---------------------------------------------------------------- big and many

def test_big_values_over_tls(shared):
    c = shared.client(socket_timeout=60)
    big = os.urandom(10 * 1024 * 1024)
    assert c.set("big:1", big) is True
    assert c.strlen("big:1") == len(big)
    assert c.get("big:1") == big
    p = c.pipeline(transaction=False)
    for i in range(4):
        p.set("big:p%d" % i, big[i:] + big[:i])
    for i in range(4):
        p.get("big:p%d" % i)
    out = p.execute()
    assert out[:4] == [True] * 4
    for i in range(4):
        assert out[4 + i] == big[i:] + big[:i]
    c.delete("big:1", *["big:p%d" % i for i in range(4)])
    c.close()


def test_pipeline_over_tls(shared):
    c = shared.client(socket_timeout=60)
    p = c.pipeline(transaction=False)
    for i in range(20000):
        p.set("pipe:%d" % i, "v%d" % i)
    for i in range(20000):
        p.get("pipe:%d" % i)
    out = p.execute()
    assert out[:20000] == [True] * 20000
    assert out[20000:] == [b"v%d" % i for i in range(20000)]
    c.close()


def test_replies_larger_than_socket_buffers_to_a_slow_reader(shared, pki):
    """64 MB of replies to a client that reads nothing for a while: the
    server's writes stop half-way (WANT_WRITE) and resume on writable."""
    c = shared.client()
    value = os.urandom(1024 * 1024)
    c.set("slow:big", value)
    digest = hashlib.sha1(value).hexdigest()
    n = 64
    with tls_socket(pki, shared.tls_port, timeout=60) as s:
        s.sendall(b"*2\r\n$3\r\nGET\r\n$8\r\nslow:big\r\n" * n + b"*1\r\n$4\r\nPING\r\n")
        time.sleep(0.5)
        # Others are served while that output waits.
        assert c.ping() is True
        head = b"$%d\r\n" % len(value)
        want = n * (len(head) + len(value) + 2) + len(b"+PONG\r\n")
        data = bytearray()
        while len(data) < want:
            chunk = s.recv(1 << 20)
            assert chunk, "connection closed after %d of %d bytes" % (len(data), want)
            data += chunk
    assert len(data) == want
    size = len(head) + len(value) + 2
    for i in range(n):
        reply = bytes(data[i * size:(i + 1) * size])
        assert reply.startswith(head) and reply.endswith(b"\r\n")
        assert hashlib.sha1(reply[len(head):-2]).hexdigest() == digest
    assert bytes(data[n * size:]) == b"+PONG\r\n"
    c.delete("slow:big")
    c.close()


def test_pubsub_over_tls(shared):
    sub = shared.client()
    p = sub.pubsub()
    p.subscribe("tls:chan")
    assert p.get_message(timeout=5)["type"] == "subscribe"
    pub_tls, pub_plain = shared.client(), shared.plain()
    assert pub_tls.publish("tls:chan", "over-tls") == 1
    assert pub_plain.publish("tls:chan", "over-plain") == 1
    got = []
    deadline = time.time() + 5
    while len(got) < 2 and time.time() < deadline:
        m = p.get_message(timeout=1)
        if m and m["type"] == "message":
            got.append(m["data"])
    assert got == [b"over-tls", b"over-plain"]
    p.close()
    sub.close()


@pytest.mark.skipif(os.path.basename(SERVER) == "redis-server", reason="Keel only: Redis 7.0 does not count it")
def test_tls_state_counts_in_used_memory_keel_only(start, pki):
    """Keel only. OpenSSL allocates through Keel's allocator, so what a TLS
    connection holds (its SSL object and record buffers, some 55 KB)
    counts in used_memory, as query and output buffers do; Redis 7.0 leaves
    it out."""
    s = start("--tls-auth-clients", "no")
    c = s.plain()
    before = c.info("memory")["used_memory"]
    socks = [tls_socket(pki, s.tls_port, cert=False) for _ in range(40)]
    for sock in socks:
        sock.sendall(b"PING\r\n")
        assert sock.recv(16) == b"+PONG\r\n"
    per_tls = (c.info("memory")["used_memory"] - before) / 40
    for sock in socks:
        sock.close()
    # An idle plain client holds no buffers (they go back when drained):
    # what is left is OpenSSL's state.
    assert per_tls > 40000, per_tls
    assert per_tls < 200000, per_tls


# ---------------------------------------------------------------- configuration

REDIS70_TLS_DEFAULTS = {
    "tls-key-file-pass": "", "tls-client-cert-file": "", "tls-client-key-file": "", "tls-client-key-file-pass": "",
    "tls-dh-params-file": "", "tls-ca-cert-dir": "", "tls-auth-clients": "yes", "tls-protocols": "",
    "tls-ciphers": "", "tls-ciphersuites": "", "tls-prefer-server-ciphers": "no", "tls-session-caching": "yes",
    "tls-session-cache-size": "20480", "tls-session-cache-timeout": "300", "tls-replication": "no",
    "tls-cluster": "no",
}


def test_config_get_tls(shared, pki):
    got = shared.plain(decode_responses=True).config_get("tls-*")
    want = dict(REDIS70_TLS_DEFAULTS, **{"tls-port": str(shared.tls_port), "tls-cert-file": pki.server_crt,
                                         "tls-key-file": pki.server_key, "tls-ca-cert-file": pki.ca_crt,
                                         "tls-auth-clients-user": "off"})  # the last: Redis 8.6's
    assert got == want


def test_config_set_bad_file_keeps_old_context(start, pki):
    # The client certificate as the server's (an EC key, like the other
    # CA's: Redis notices a key that does not match only when both are of
    # one type).
    s = start(files=tls_args(pki, cert=pki.client_crt, key=pki.client_key))
    c = s.client()
    for name, value in (("tls-cert-file", "/nonexistent/x.crt"), ("tls-key-file", pki.other_client_key),
                        ("tls-cert-file", pki.garbage), ("tls-ca-cert-file", "/nonexistent/ca.crt"),
                        ("tls-dh-params-file", "/nonexistent/dh.pem"), ("tls-protocols", "TLSv1.5"),
                        ("tls-ciphers", "NOT-A-CIPHER"), ("tls-ciphersuites", "NOT_A_SUITE"),
                        ("tls-key-file-pass", "irrelevant-but-fine")):
        if name == "tls-key-file-pass":
            # The key is not encrypted: a password changes nothing.
            assert c.config_set(name, value) is True
            assert c.config_set(name, "") is True
            continue
        with pytest.raises(redis.ResponseError) as e:
            c.config_set(name, value)
        assert str(e.value) == TLS_UPDATE_FAILED % name, name
        # The value is restored and the old context serves new clients.
        assert c.config_get(name)[name] != value
        fresh = s.client()
        assert fresh.ping() is True
        fresh.close()
    assert c.ping() is True
    # Several pairs: restored together.
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("CONFIG", "SET", "tls-session-cache-size", "100", "tls-cert-file", "/nonexistent/x.crt")
    assert str(e.value) == TLS_UPDATE_FAILED % "tls-session-cache-size"
    assert c.config_get("tls-session-cache-size") == {"tls-session-cache-size": "20480"}
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("tls-session-cache-size", "-1")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-session-cache-size') - argument "
                            "must be between 0 and 2147483647 inclusive")
    assert "Restoring previous settings" in s.log_text()


def test_config_set_new_certificate_and_key_together(start, pki):
    s = start("--tls-auth-clients", "no", files=tls_args(pki, cert=pki.client_crt, key=pki.client_key))
    held = s.client()
    # The new certificate alone does not match the old key: refused.
    with pytest.raises(redis.ResponseError) as e:
        held.config_set("tls-cert-file", pki.other_server_crt)
    assert str(e.value) == TLS_UPDATE_FAILED % "tls-cert-file"
    assert held.execute_command("CONFIG", "SET", "tls-cert-file", pki.other_server_crt, "tls-key-file",
                                pki.other_server_key) == b"OK"
    # New connections meet the new certificate; the open one goes on.
    msg = conn_refused(lambda: tls_client(pki, s.tls_port).ping())
    assert "certificate verify failed" in msg
    fresh = tls_client(pki, s.tls_port, ssl_ca_certs=pki.other_ca_crt)
    assert fresh.ping() is True
    assert held.ping() is True
    assert held.config_get("tls-cert-file") == {"tls-cert-file": pki.other_server_crt}
    fresh.close()
    held.close()


def test_config_set_tls_port(start, pki):
    from conftest import free_port
    s = start()
    c = s.plain(decode_responses=True)
    # A port that is taken: refused, the old listeners stay.
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("tls-port", s.port)
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-port') - Unable to listen on this "
                            "port. Check server logs.")
    assert c.config_get("tls-port") == {"tls-port": str(s.tls_port)}
    assert s.client().ping() is True
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("tls-port", "70000")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-port') - argument must be between "
                            "0 and 65535 inclusive")
    # Moved: the new port serves TLS, the old one is closed.
    new = free_port()
    assert c.config_set("tls-port", new) is True
    assert tls_client(pki, new, ssl_certfile=pki.client_crt, ssl_keyfile=pki.client_key).ping() is True
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, s.tls_port), timeout=5).close()
    # 0 closes TLS; the plain port goes on.
    assert c.config_set("tls-port", 0) is True
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, new), timeout=5).close()
    assert c.ping() is True
    s.tls_port = new  # (for nothing else: the server stops normally)


def test_config_set_tls_port_on_a_plain_server(pki, keel):
    """A server started without TLS (its files set) can open a tls-port."""
    from conftest import free_port
    s = keel(*tls_args(pki))
    c = s.client(decode_responses=True)
    port = free_port()
    assert c.config_set("tls-port", port) is True
    t = tls_client(pki, port, ssl_certfile=pki.client_crt, ssl_keyfile=pki.client_key)
    t.set("k", "over-tls")
    assert c.get("k") == "over-tls"
    t.close()


def test_config_rewrite_keeps_tls(pki, keel):
    """CONFIG REWRITE writes the tls-* directives with their current values."""
    import shlex

    from conftest import free_port
    tls_port = free_port()
    s = keel(config="tls-port %d\ntls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\n" % (
        tls_port, pki.server_crt, pki.server_key, pki.ca_crt))
    c = s.client(decode_responses=True)
    assert c.config_set("tls-auth-clients", "optional") is True
    assert c.config_rewrite() == "OK"
    with open(os.path.join(s.dir, "keel.conf")) as f:
        lines = {tuple(shlex.split(line)) for line in f if line.strip() and not line.startswith("#")}
    for want in (("tls-port", str(tls_port)), ("tls-cert-file", pki.server_crt), ("tls-key-file", pki.server_key),
                 ("tls-ca-cert-file", pki.ca_crt), ("tls-auth-clients", "optional")):
        assert want in lines, (want, lines)
    assert tls_client(pki, tls_port).ping() is True  # optional: no certificate needed


def test_protocols(start, pki):
    s = start("--tls-protocols", "TLSv1.3")
    ctx12 = client_context(pki)
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises((ssl.SSLError, OSError)):
        tls_socket(pki, s.tls_port, ctx=ctx12).close()
    with tls_socket(pki, s.tls_port) as sock:
        assert sock.version() == "TLSv1.3"
    c = s.client()
    assert c.config_set("tls-protocols", "tlsv1.2") is True
    with tls_socket(pki, s.tls_port) as sock:
        assert sock.version() == "TLSv1.2"
    assert c.config_get("tls-protocols") == {"tls-protocols": "tlsv1.2"}
    c.close()


def test_ciphersuites_and_ciphers(start, pki):
    s = start("--tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256")
    with tls_socket(pki, s.tls_port) as sock:
        assert sock.cipher()[0] == "TLS_CHACHA20_POLY1305_SHA256"
    c = s.client()
    c.config_set("tls-protocols", "TLSv1.2")
    c.config_set("tls-ciphers", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    ctx = client_context(pki)
    ctx.set_ciphers("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
    with tls_socket(pki, s.tls_port, ctx=ctx) as sock:
        assert sock.cipher()[0] == "ECDHE-RSA-AES256-GCM-SHA384"  # the client's choice
    c.config_set("tls-prefer-server-ciphers", "yes")
    with tls_socket(pki, s.tls_port, ctx=ctx) as sock:
        assert sock.cipher()[0] == "ECDHE-RSA-AES128-GCM-SHA256"  # the server's
    c.close()


def test_dh_params_file(start, pki):
    s = start("--tls-dh-params-file", pki.dh, "--tls-protocols", "TLSv1.2", "--tls-ciphers",
              "DHE-RSA-AES256-GCM-SHA384")
    with tls_socket(pki, s.tls_port) as sock:
        assert sock.cipher()[0] == "DHE-RSA-AES256-GCM-SHA384"
        sock.sendall(b"PING\r\n")
        assert sock.recv(16) == b"+PONG\r\n"


def test_key_file_password(start, pki):
    s = start("--tls-key-file", pki.server_enc_key, "--tls-key-file-pass", KEY_PASS)
    assert s.client().ping() is True


def test_session_caching(start, pki):
    def resumed(port):
        ctx = client_context(pki)
        with tls_socket(pki, port, ctx=ctx) as first:
            first.sendall(b"PING\r\n")
            assert first.recv(16) == b"+PONG\r\n"  # TLS 1.3 tickets arrive after the handshake
            session = first.session
        with tls_socket(pki, port, ctx=ctx, session=session) as second:
            second.sendall(b"PING\r\n")
            assert second.recv(16) == b"+PONG\r\n"
            return second.session_reused

    s = start()
    assert resumed(s.tls_port) is True
    assert s.client().config_set("tls-session-cache-timeout", "600") is True
    assert resumed(s.tls_port) is True


@pytest.mark.skipif(os.path.basename(SERVER) == "redis-server", reason="Keel only: Redis 7.0 fails the handshake")
def test_session_caching_off_keel_only(start, pki):
    """Keel only. With tls-session-caching no, Keel issues no session
    tickets, so a client simply gets a full handshake; Redis 7.0 issues
    tickets it cannot take back and answers a resumption attempt with an
    internal-error alert."""
    off = start("--tls-session-caching", "no")
    ctx = client_context(pki)
    with tls_socket(pki, off.tls_port, ctx=ctx) as first:
        first.sendall(b"PING\r\n")
        assert first.recv(16) == b"+PONG\r\n"
        session = first.session
    with tls_socket(pki, off.tls_port, ctx=ctx, session=session) as second:
        second.sendall(b"PING\r\n")
        assert second.recv(16) == b"+PONG\r\n"
        assert second.session_reused is False


@pytest.mark.skipif(os.path.basename(SERVER) == "redis-server", reason="Keel only: Redis 7.0 accepts the pair")
def test_key_of_another_type_refused_keel_only(start, pki):
    """Keel only. A key that does not belong to the certificate is refused
    also when the two are of different types (an EC key for an RSA
    certificate); Redis 7.0 accepts that pair and every handshake fails."""
    s = start()
    c = s.client()
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("tls-key-file", pki.client_key)
    assert str(e.value) == TLS_UPDATE_FAILED % "tls-key-file"
    assert s.client().ping() is True
    out = start_fails(pki, *tls_args(pki, key=pki.client_key))
    assert "Failed to load private key: %s:" % pki.client_key in out


# ---------------------------------------------------------------- start-up errors

def start_fails(pki, *args, binary=SERVER):
    """Runs a server that must refuse to start; returns its output."""
    from conftest import free_port
    argv = [binary, "--port", str(free_port()), "--tls-port", str(free_port()), "--save", ""] + list(args)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert r.returncode != 0, r.stdout
    return r.stdout + r.stderr


def test_bad_files_stop_start_up(pki):
    cases = [
        (tls_args(pki, cert="/nonexistent/x.crt"), "Failed to load certificate: /nonexistent/x.crt:"),
        (tls_args(pki, cert=pki.client_crt, key=pki.other_client_key),
         "Failed to load private key: %s:" % pki.other_client_key),
        (tls_args(pki, cert=pki.garbage), "Failed to load certificate: %s:" % pki.garbage),
        (tls_args(pki, ca="/nonexistent/ca.crt"), "Failed to configure CA certificate(s) file/directory:"),
        (tls_args(pki, key=pki.server_enc_key) + ["--tls-key-file-pass", "wrong"], "Failed to load private key:"),
        (tls_args(pki) + ["--tls-protocols", "TLSv1.2 SSLv3"], BAD_PROTOCOLS),
        (tls_args(pki) + ["--tls-ciphersuites", "BOGUS"], "Failed to configure ciphersuites: BOGUS"),
        (tls_args(pki) + ["--tls-ciphers", "BOGUS"], "Failed to configure ciphers: BOGUS"),
        (tls_args(pki) + ["--tls-dh-params-file", "/nonexistent/dh.pem"],
         "Failed to load /nonexistent/dh.pem: No such file or directory"),
        (["--tls-cert-file", pki.server_crt, "--tls-key-file", pki.server_key], NEED_CA),
    ]
    for args, msg in cases:
        out = start_fails(pki, *args)
        assert msg in out, (args, out)
        assert FAILED_TLS in out, (args, out)


def test_bad_directive_values_stop_start_up(pki):
    out = start_fails(pki, *tls_args(pki), "--tls-auth-clients", "maybe")
    assert "argument(s) must be one of the following: no, yes, optional" in out


def test_tls_files_unused_without_tls(pki, keel):
    """Without a tls-port or tls-replication the files are not even read
    (as Redis: a config naming them may be shared with TLS servers)."""
    s = keel("--tls-cert-file", "/nonexistent/x.crt", "--tls-protocols", "bogus")
    assert s.client().ping() is True


# ---------------------------------------------------------------- replication

def dataset(c):
    p = c.pipeline(transaction=False)
    for i in range(3000):
        p.set("s:%d" % i, "value-%d" % i)
    for i in range(50):
        p.rpush("l:%d" % i, *range(i + 1))
        p.hset("h:%d" % i, mapping={"f%d" % j: j for j in range(i + 1)})
        p.zadd("z:%d" % i, {"m%d" % j: j for j in range(i + 1)})
        p.sadd("set:%d" % i, *range(i + 1))
    p.set("big", os.urandom(3 * 1024 * 1024))
    p.xadd("stream", {"a": 1})
    p.execute()


def wait_for(cond, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def repl_info(c):
    return c.info("replication")


def in_sync(primary, replica):
    r = repl_info(replica)
    if r.get("master_link_status") != "up":
        return False
    return repl_info(primary)["master_repl_offset"] == r["slave_repl_offset"]


PAIRS = [("keel", "keel"), ("redis", "keel"), ("keel", "redis")]


@pytest.mark.parametrize("load", ["disabled", "swapdb"], ids=["load-from-file", "load-from-socket"])
@pytest.mark.parametrize("diskless", ["yes", "no"], ids=["diskless", "disk"])
@pytest.mark.parametrize("kinds", PAIRS, ids=["-".join(k) for k in PAIRS])
def test_replication_over_tls(start, pki, kinds, diskless, load):
    """The primary sends the snapshot from its walk (diskless) or a file;
    the replica loads it from a file or parses it off the TLS socket
    (repl-diskless-load swapdb)."""
    binaries = {"keel": SERVER, "redis": REDIS}
    if "redis" in kinds and not HAVE_REDIS:
        pytest.skip("needs Debian's redis-server")
    common = ["--repl-diskless-sync-delay", "0", "--tls-replication", "yes"]
    primary = start(*common, "--repl-diskless-sync", diskless, binary=binaries[kinds[0]])
    replica = start(*common, "--repl-diskless-load", load, binary=binaries[kinds[1]])
    pc, rc = primary.client(), replica.client()
    dataset(pc)
    assert rc.replicaof(HOST, primary.tls_port) == b"OK"
    wait_for(lambda: in_sync(pc, rc), "the replica to sync over TLS")
    # The stream after the full sync.
    for i in range(200):
        pc.incr("counter")
        pc.lpush("after", i)
    wait_for(lambda: in_sync(pc, rc), "the stream over TLS")
    assert rc.dbsize() == pc.dbsize()
    assert rc.execute_command("DEBUG", "DIGEST") == pc.execute_command("DEBUG", "DIGEST")
    assert rc.get("counter") == b"200"
    # The replica announced its TLS port.
    slaves = [v for k, v in repl_info(pc).items() if k.startswith("slave") and isinstance(v, dict)]
    assert [s["port"] for s in slaves] == [replica.tls_port]
    # Nothing went over the plain port: the primary's plain port sees only us.
    for line in pc.execute_command("CLIENT", "LIST").decode().splitlines():
        if "flags=S" in line:
            assert ("laddr=%s:%d" % (HOST, primary.tls_port)) in line


def test_replicaof_at_start_up_over_tls(start, pki):
    """replicaof in the configuration: the link is TLS from the first
    connection (the contexts exist before replication starts)."""
    primary = start("--tls-replication", "yes")
    pc = primary.client()
    pc.set("k", "v")
    pc.rpush("l", *range(100))
    replica = start("--tls-replication", "yes", "--replicaof", HOST, str(primary.tls_port))
    rc = replica.client()
    wait_for(lambda: in_sync(pc, rc), "the replica configured with replicaof to sync over TLS")
    assert rc.get("k") == b"v"
    assert rc.execute_command("DEBUG", "DIGEST") == pc.execute_command("DEBUG", "DIGEST")


def test_replica_without_tls_replication_cannot_use_tls_port(start, pki):
    primary = start()
    replica = start()
    rc = replica.client()
    assert rc.replicaof(HOST, primary.tls_port) == b"OK"
    time.sleep(1.5)
    assert repl_info(rc)["master_link_status"] == "down"
    assert primary.alive()
    assert primary.client().ping() is True


def test_replica_with_untrusted_certificate_is_refused(start, pki):
    primary = start("--tls-replication", "yes")
    replica = start("--tls-replication", "yes", "--tls-client-cert-file", pki.other_client_crt,
                    "--tls-client-key-file", pki.other_client_key)
    rc = replica.client()
    assert rc.replicaof(HOST, primary.tls_port) == b"OK"
    time.sleep(1.5)
    assert repl_info(rc)["master_link_status"] == "down"
    # With its own certificate (a trusted one) it gets through.
    assert rc.execute_command("CONFIG", "SET", "tls-client-cert-file", pki.client_crt, "tls-client-key-file",
                              pki.client_key) == b"OK"
    wait_for(lambda: repl_info(rc)["master_link_status"] == "up", "the link with a trusted client certificate")
