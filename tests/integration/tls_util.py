"""Helpers for test_tls.py: a throwaway PKI made with the openssl CLI at
test time, servers (KEEL_SERVER or Debian's redis-server) listening on a
plain port and a tls-port, and clients over TLS (redis-py, raw sockets).

The PKI: a test CA; a server certificate for localhost / 127.0.0.1 (RSA,
so DHE ciphers can be tested) with a password-protected copy of its key; a
client certificate; an expired server certificate; and a second CA with a
client and a server certificate of its own, which the first CA's holders
must refuse. No certificate carries extendedKeyUsage, so a server
certificate also serves as a client one (a replica presents it to its
primary, as Redis does when tls-client-cert-file is unset)."""
import os
import socket
import ssl
import subprocess
import tempfile
import time

import redis
from conftest import SERVER, Server, free_port

HOST = "127.0.0.1"
REDIS = "/usr/bin/redis-server"
KEY_PASS = "s3cret-pass"


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (" ".join(args), r.stderr))


class PKI:
    """Certificates and keys in `dir`; attributes are absolute paths."""

    def __init__(self, dir):
        self.dir = dir
        self.serial = 1000
        self._ca("ca", "Keel Test CA")
        self._ca("other_ca", "Other Test CA")
        self._leaf("server", "ca", "localhost", rsa=True)
        self._leaf("client", "ca", "keel-test-client")
        self._leaf("expired", "ca", "localhost", days=-1)
        self._leaf("other_client", "other_ca", "intruder")
        self._leaf("other_server", "other_ca", "localhost")
        # The server key again, encrypted (tls-key-file-pass).
        _openssl("pkcs8", "-topk8", "-in", "server.key", "-out", "server_enc.key", "-passout", "pass:" + KEY_PASS,
                 cwd=dir)
        self.server_enc_key = self.p("server_enc.key")
        # RFC 7919's ffdhe2048 group: instant, unlike generating new primes.
        _openssl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", "dh.pem",
                 cwd=dir)
        self.dh = self.p("dh.pem")
        self.garbage = self.p("garbage.pem")
        with open(self.garbage, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")

    def p(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, cn):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", name + ".key", "-out", name + ".crt", "-days", "30", "-subj", "/CN=" + cn, cwd=self.dir)
        setattr(self, name + "_crt", self.p(name + ".crt"))

    def _leaf(self, name, ca, cn, days=30, rsa=False):
        key = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        _openssl("req", *key, "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn,
                 cwd=self.dir)
        ext = self.p(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        self.serial += 1
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key", "-set_serial",
                 str(self.serial), "-days", str(days), "-extfile", ext, "-out", name + ".crt",
                 cwd=self.dir)
        setattr(self, name + "_crt", self.p(name + ".crt"))
        setattr(self, name + "_key", self.p(name + ".key"))


def tls_args(pki, cert=None, key=None, ca=None):
    return ["--tls-cert-file", cert or pki.server_crt, "--tls-key-file", key or pki.server_key,
            "--tls-ca-cert-file", ca or pki.ca_crt]


class TLSServer(Server):
    """A server process with a plain port (0 for none) and a tls-port, both
    on 127.0.0.1, its own --dir, no save points, DEBUG enabled (Redis 7.0
    refuses it by default). `args` come last, so they override."""

    def __init__(self, pki, *args, binary=SERVER, plain=True, tls_files=True, files=None):
        self.pki = pki
        self.binary = binary
        self.kind = "redis" if binary == REDIS else "keel"
        self.dir = tempfile.mkdtemp(prefix="keel-tls-")
        self.log = os.path.join(self.dir, "server.log")
        for attempt in range(5):
            self.port = free_port() if plain else 0
            self.tls_port = free_port()
            argv = [binary, "--port", str(self.port), "--tls-port", str(self.tls_port), "--bind", HOST, "--dir",
                    self.dir, "--save", "", "--appendonly", "no", "--enable-debug-command", "yes"]
            if tls_files:
                argv += files or tls_args(pki)
            self.logf = open(self.log, "w")
            self.proc = subprocess.Popen(argv + list(args), stdout=self.logf, stderr=subprocess.STDOUT)
            if self._wait_ready():
                return
            self.logf.close()
        raise RuntimeError("server could not bind its ports:\n" + self.log_text())

    def _wait_ready(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                if "Address already in use" in self.log_text():
                    return False
                raise RuntimeError("server exited at start-up:\n" + self.log_text())
            try:
                # Over the plain port when there is one: the TLS one may
                # carry a certificate the test CA does not vouch for.
                if self.port:
                    s = socket.create_connection((HOST, self.port), timeout=2)
                else:
                    s = tls_socket(self.pki, self.tls_port, timeout=2)
                with s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return True
            except (OSError, ssl.SSLError):
                pass
            time.sleep(0.05)
        self.proc.kill()  # not left running after the test
        self.proc.wait()
        raise RuntimeError("server did not start:\n" + self.log_text())

    def alive(self):
        return self.proc.poll() is None

    def client(self, **kw):
        """A TLS client presenting the test client certificate."""
        kw.setdefault("ssl_certfile", self.pki.client_crt)
        kw.setdefault("ssl_keyfile", self.pki.client_key)
        return tls_client(self.pki, self.tls_port, **kw)

    def plain(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host=HOST, port=self.port, **kw)

    # log_text and stop: conftest's Server.

def tls_client(pki, port, **kw):
    """redis-py over TLS, verifying the server against the test CA."""
    kw.setdefault("ssl_ca_certs", pki.ca_crt)
    kw.setdefault("socket_timeout", 10)
    return redis.Redis(host=HOST, port=port, ssl=True, ssl_cert_reqs="required", **kw)


def client_context(pki, cert=True, ca=None):
    ctx = ssl.create_default_context(cafile=ca or pki.ca_crt)
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(pki.client_crt, pki.client_key)
    return ctx


def tls_socket(pki, port, cert=True, timeout=10, ctx=None, session=None):
    """A raw TLS socket, handshake done (raises ssl.SSLError if refused)."""
    ctx = ctx or client_context(pki, cert)
    raw = socket.create_connection((HOST, port), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    except BaseException:
        raw.close()
        raise


def read_until_closed(sock, timeout=5):
    """Everything the peer sends until it closes; raises socket.timeout if
    it keeps the connection open longer than `timeout`."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
