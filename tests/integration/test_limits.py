"""Protected mode, dangerous-command controls and the limits that must hold
when a client attacks: each attack is followed by a PING on a fresh client
and a look at the server's resident memory (VmRSS).

Every test also passes against redis-server 7.0.15
(KEEL_SERVER=/usr/bin/redis-server) unless marked "Keel only".
"""
import os
import re
import resource
import socket
import ssl
import subprocess
import time

import pytest
import redis

from conftest import SERVER, raw_cmd

IS_REDIS = SERVER.endswith("redis-server")
MB = 1024 * 1024

DENIED = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the "
    b"default user. In this mode connections are only accepted from the loopback interface. If you want to connect "
    b"from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode "
    b"sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    b"same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do "
    b"so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode "
    b"by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting "
    b"the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' "
    b"option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above "
    b"things in order for the server to start accepting connections from the outside.\r\n"
)


def rss(server):
    with open("/proc/%d/status" % server.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def alive(server):
    """The server still serves a new client."""
    c = server.client()
    assert c.ping() is True
    c.close()


def cfg(c, name):
    v = c.config_get(name)[name]
    return v.decode() if isinstance(v, bytes) else v


def read_until_closed(sock, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            break
        data += chunk
    return data


def closed_within(sock, seconds):
    """True when the server closes sock within the time (reading what comes)."""
    deadline = time.time() + seconds
    sock.settimeout(0.2)
    while time.time() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


_IP = None


def non_loopback_ip():
    """An IPv4 address of this machine that is not loopback: an interface's
    own, else one on a dummy interface made for the tests (needs root)."""
    global _IP
    if _IP is not None:
        return _IP or None
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    for m in re.finditer(r"inet (\d+\.\d+\.\d+\.\d+)/", out):
        if not m.group(1).startswith("127."):
            _IP = m.group(1)
            return _IP
    if os.geteuid() == 0:
        cmds = [["ip", "link", "add", "keeltest0", "type", "dummy"],
                ["ip", "addr", "add", "10.250.0.1/24", "dev", "keeltest0"],
                ["ip", "link", "set", "keeltest0", "up"]]
        if all(subprocess.run(c, capture_output=True).returncode == 0 for c in cmds):
            _IP = "10.250.0.1"
            return _IP
    _IP = ""
    return None


def need_ip():
    ip = non_loopback_ip()
    if not ip:
        pytest.skip("no non-loopback IPv4 address and no root to add a dummy interface")
    return ip


# ---------------------------------------------------------------- protected mode


def test_protected_mode_denies_non_loopback(keel):
    ip = need_ip()
    s = keel("--bind", "127.0.0.1", ip)
    sock = socket.create_connection((ip, s.port), timeout=5)
    # Said at once, without a request, then closed.
    assert read_until_closed(sock) == DENIED
    sock.close()
    c = s.client()
    assert c.ping() is True
    assert c.info("stats")["rejected_connections"] == 1
    # A password for the default user lifts it: the peer must AUTH.
    c.config_set("requirepass", "s3cret")
    remote = redis.Redis(host=ip, port=s.port, socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        remote.ping()
    remote = redis.Redis(host=ip, port=s.port, password="s3cret", socket_timeout=5)
    assert remote.ping() is True
    remote.close()
    c.close()


def test_default_bind_is_every_address_under_protected_mode(keel):
    """With no bind directive Keel listens on every address, as Redis 7.0
    ("* -::*"), and protected mode keeps peers out until a password is
    set; CONFIG SET bind "" closes the TCP listener."""
    ip = need_ip()
    s = keel()
    c = s.client()
    assert cfg(c, "bind") == "* -::*"
    sock = socket.create_connection((ip, s.port), timeout=5)
    assert read_until_closed(sock) == DENIED
    sock.close()
    c.config_set("requirepass", "pw")
    remote = redis.Redis(host=ip, port=s.port, password="pw", socket_timeout=5)
    assert remote.ping() is True
    remote.close()
    assert c.config_set("bind", "")
    assert cfg(c, "bind") == ""
    assert c.execute_command("AUTH", "pw") and c.ping()  # an open connection stays
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
    assert c.config_set("bind", "127.0.0.1")
    assert redis.Redis(port=s.port, password="pw").ping()
    c.config_set("requirepass", "")
    c.close()


def test_protected_mode_applies_with_explicit_bind_and_lifts_when_off(keel):
    """Redis 7.0 protects whether or not bind is set; protected-mode no
    (at start or through CONFIG SET from a local client) lets peers in."""
    ip = need_ip()
    s = keel("--bind", ip, "127.0.0.1")
    c = s.client()
    assert cfg(c, "protected-mode") == "yes"
    c.config_set("protected-mode", "no")
    remote = redis.Redis(host=ip, port=s.port, socket_timeout=5)
    assert remote.ping() is True
    remote.close()
    c.config_set("protected-mode", "yes")
    sock = socket.create_connection((ip, s.port), timeout=5)
    assert read_until_closed(sock) == DENIED
    sock.close()
    s2 = keel("--bind", ip, "127.0.0.1", "--protected-mode", "no")
    remote = redis.Redis(host=ip, port=s2.port, socket_timeout=5)
    assert remote.ping() is True
    remote.close()


def test_protected_mode_ipv6(keel):
    out = subprocess.run(["ip", "-o", "-6", "addr", "show", "scope", "global"], capture_output=True,
                         text=True).stdout
    m = re.search(r"inet6 ([0-9a-f:]+)/", out)
    if not m:
        pytest.skip("no global IPv6 address")
    ip6 = m.group(1)
    s = keel("--bind", "127.0.0.1", "::1", ip6)
    sock = socket.create_connection((ip6, s.port), timeout=5)
    assert read_until_closed(sock) == DENIED
    sock.close()
    local = socket.create_connection(("::1", s.port), timeout=5)
    local.sendall(b"PING\r\n")
    assert local.recv(16) == b"+PONG\r\n"
    local.close()


def test_protected_mode_over_tls(tmp_path):
    """A TLS peer hears the refusal over TLS, once its handshake is done."""
    ip = need_ip()
    from tls_util import PKI, TLSServer, client_context
    pki = PKI(str(tmp_path))
    s = TLSServer(pki, "--bind", "127.0.0.1", ip, binary=SERVER)
    try:
        ctx = client_context(pki)
        ctx.check_hostname = False  # the test certificate names 127.0.0.1
        sock = ctx.wrap_socket(socket.create_connection((ip, s.tls_port), timeout=5), server_hostname="localhost")
        assert read_until_closed(sock) == DENIED
        sock.close()
        c = s.plain()
        assert c.info("stats")["rejected_connections"] == 1
    finally:
        s.stop()


def test_protected_mode_lets_unix_socket_in(keel, tmp_path):
    path = str(tmp_path / "keel.sock")
    s = keel("--unixsocket", path)
    c = redis.Redis(unix_socket_path=path, socket_timeout=5)
    assert c.ping() is True
    c.close()
    alive(s)


# ------------------------------------------------------------ dangerous commands

DEBUG_DENIED = ("DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it "
                "from a local connection, otherwise you need to set this option in the configuration file, and then "
                "restart the server.")


def test_enable_debug_command_no_local_yes(keel):
    ip = need_ip()
    s = keel("--enable-debug-command", "no", "--bind", "127.0.0.1", ip, "--protected-mode", "no")
    c = s.client()
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("DEBUG", "SLEEP", "0")
    assert str(e.value) == DEBUG_DENIED
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("DEBUG", "HELP")
    assert str(e.value) == DEBUG_DENIED
    # Not changeable at run time.
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("enable-debug-command", "yes")
    assert "can't set immutable config" in str(e.value)
    s2 = keel("--enable-debug-command", "local", "--bind", "127.0.0.1", ip, "--protected-mode", "no")
    assert s2.client().execute_command("DEBUG", "SLEEP", "0") in (b"OK", True)
    remote = redis.Redis(host=ip, port=s2.port, socket_timeout=5)
    with pytest.raises(redis.ResponseError) as e:
        remote.execute_command("DEBUG", "SLEEP", "0")
    assert str(e.value) == DEBUG_DENIED
    s3 = keel("--enable-debug-command", "yes", "--bind", "127.0.0.1", ip, "--protected-mode", "no")
    remote = redis.Redis(host=ip, port=s3.port, socket_timeout=5)
    assert remote.execute_command("DEBUG", "SLEEP", "0") in (b"OK", True)
    remote.close()


MODULE_DENIED = DEBUG_DENIED.replace("DEBUG", "MODULE").replace("enable-debug", "enable-module")


def test_enable_module_command(keel):
    s = keel()
    c = s.client(decode_responses=True)
    assert cfg(c, "enable-module-command") == "no"
    # LIST and HELP are never gated; LOAD, LOADEX and UNLOAD are.
    assert c.execute_command("MODULE", "LIST") == []
    assert c.execute_command("MODULE", "HELP")[0] == "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    for args in (("LOAD", "/nonexistent.so"), ("LOADEX", "/nonexistent.so"), ("UNLOAD", "x")):
        with pytest.raises(redis.ResponseError) as e:
            c.execute_command("MODULE", *args)
        assert str(e.value) == MODULE_DENIED
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("enable-module-command", "yes")
    assert "can't set immutable config" in str(e.value)
    s2 = keel("--enable-module-command", "local")
    c2 = s2.client(decode_responses=True)
    with pytest.raises(redis.ResponseError) as e:
        c2.execute_command("MODULE", "LOAD", "/nonexistent.so")
    assert str(e.value) == "Error loading the extension. Please check the server logs."
    with pytest.raises(redis.ResponseError) as e:
        c2.execute_command("MODULE", "UNLOAD", "x")
    assert str(e.value) == "Error unloading module: no such module with that name"
    with pytest.raises(redis.ResponseError) as e:
        c2.execute_command("MODULE", "LOAD")
    assert str(e.value) == "wrong number of arguments for 'module|load' command"


PROTECTED_CONFIG = "CONFIG SET failed (possibly related to argument '%s') - can't set protected config"


def test_enable_protected_configs(keel, tmp_path):
    ip = need_ip()
    s = keel("--enable-protected-configs", "no")
    c = s.client()
    assert cfg(c, "enable-protected-configs") == "no"
    for name, value in (("dir", str(tmp_path)), ("dbfilename", "x.rdb")):
        with pytest.raises(redis.ResponseError) as e:
            c.config_set(name, value)
        assert str(e.value) == PROTECTED_CONFIG % name
    # Several at once: refused as a whole, naming the protected one.
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("CONFIG", "SET", "maxmemory", "10mb", "dir", str(tmp_path))
    assert str(e.value) == PROTECTED_CONFIG % "dir"
    assert cfg(c, "maxmemory") == "0"
    # Other configs stay settable; the gate itself is immutable.
    assert c.config_set("maxmemory", "10mb") is True
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("enable-protected-configs", "yes")
    assert "can't set immutable config" in str(e.value)
    # local: allowed from loopback, refused from elsewhere.
    s2 = keel("--enable-protected-configs", "local", "--bind", "127.0.0.1", ip, "--protected-mode", "no")
    assert s2.client().config_set("dbfilename", "y.rdb") is True
    remote = redis.Redis(host=ip, port=s2.port, socket_timeout=5)
    with pytest.raises(redis.ResponseError) as e:
        remote.config_set("dbfilename", "z.rdb")
    assert str(e.value) == PROTECTED_CONFIG % "dbfilename"
    remote.close()
    s3 = keel("--enable-protected-configs", "yes")
    assert s3.client().config_set("dir", str(tmp_path)) is True


# ---------------------------------------------------------------- rename-command


def test_rename_command_in_config_file(keel):
    s = keel(config='rename-command FLUSHALL ""\nrename-command CONFIG myconfig\n')
    c = s.client(decode_responses=True)
    c.response_callbacks.pop("COMMAND", None)  # raw replies, nil entries included
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("FLUSHALL")
    assert str(e.value) == "unknown command 'FLUSHALL', with args beginning with: "
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("CONFIG", "GET", "port")
    assert str(e.value) == "unknown command 'CONFIG', with args beginning with: 'GET' 'port' "
    assert c.execute_command("myconfig", "GET", "port") == ["port", str(s.port)]
    assert c.execute_command("MYCONFIG", "SET", "maxmemory", "1mb") == "OK"
    # Errors name the command as Redis does: the container by what the
    # client typed, a subcommand by its real full name.
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("myconfig", "nosuch")
    assert str(e.value) == "unknown subcommand 'nosuch'. Try MYCONFIG HELP."
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("myconfig", "set", "maxmemory")
    assert str(e.value) == "wrong number of arguments for 'config|set' command"
    # COMMAND: looked up by the new name, shown under the real one.
    info = c.execute_command("COMMAND", "INFO", "config", "myconfig", "flushall", "get")
    assert info[0] is None and info[2] is None
    assert info[1][0] == "config" and info[3][0] == "get"
    names = c.execute_command("COMMAND", "LIST")
    assert "config" in names and "config|get" in names
    assert "flushall" not in names and "myconfig" not in names
    assert c.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "my*") == []
    plain = keel().client()
    plain.response_callbacks.pop("COMMAND", None)
    full = plain.execute_command("COMMAND", "COUNT")
    assert c.execute_command("COMMAND", "COUNT") == full - 1  # FLUSHALL is gone
    assert len(c.execute_command("COMMAND")) == full - 1
    assert c.execute_command("myconfig", "HELP")[0].startswith("MYCONFIG <subcommand> ")
    # Not a runtime setting.
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("myconfig", "SET", "rename-command", "GET foo")
    assert str(e.value) == "Unknown option or number of arguments for CONFIG SET - 'rename-command'"
    assert c.execute_command("myconfig", "GET", "rename-command") == []
    alive(s)


def test_rename_command_on_command_line(keel):
    s = keel("--rename-command", "get", "", "--rename-command", "set", "put")
    c = s.client(decode_responses=True)
    assert c.execute_command("PUT", "k", "v") == "OK"
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("GET", "k")
    assert str(e.value) == "unknown command 'GET', with args beginning with: 'k' "
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("put", "k")
    assert str(e.value) == "wrong number of arguments for 'set' command"
    # Scripts see the same names.
    with pytest.raises(redis.ResponseError) as e:
        c.eval("return redis.call('set', 'k', 'v')", 0)
    assert "Unknown Redis command called from script" in str(e.value)
    assert c.eval("return redis.call('put', 'k', 'w')", 0) == "OK"


def test_log_with_internal_names_loads_after_rename(keel):
    """Keel only: the AOF holds DEL for an expired key whatever DEL is
    called; with DEL renamed away the log must still load."""
    if IS_REDIS:
        pytest.skip("Keel only")
    args = ("--appendonly", "yes", "--appendfsync", "always", "--rename-command", "del", "")
    s = keel(*args)
    c = s.client()
    c.set("keep", "1")
    c.set("short", "2", px=50)
    time.sleep(0.3)
    assert c.get("short") is None  # expired on access: DEL goes to the log
    c.set("after", "3")
    c.close()
    s.stop()
    s2 = keel(*args, "--dir", s.dir)
    c2 = s2.client()
    assert c2.get("keep") == b"1" and c2.get("after") == b"3" and c2.exists("short") == 0


@pytest.mark.parametrize("line,message", [
    ("rename-command nosuch foo", "No such command in rename-command"),
    ("rename-command get set", "Target command name already exists"),
    ("rename-command get", "Bad directive or wrong number of arguments"),
])
def test_rename_command_bad_lines(tmp_path, line, message):
    conf = tmp_path / "bad.conf"
    conf.write_text(line + "\n")
    p = subprocess.run([SERVER, str(conf), "--port", "0"], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert message in p.stdout + p.stderr


# ------------------------------------------------------------------------ limits


def test_maxclients(keel):
    s = keel("--maxclients", "3")
    base = rss(s)
    # The start-up probe's connection may not be reaped yet: fill the
    # slots one at a time, counting refusals.
    held, refused, deadline = [], 0, time.time() + 10
    while len(held) < 3:
        h = s.raw()
        h.sendall(b"PING\r\n")
        if h.recv(64) == b"+PONG\r\n":
            held.append(h)
        else:
            h.close()
            refused += 1
            assert time.time() < deadline
            time.sleep(0.05)
    extra = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    assert read_until_closed(extra) == b"-ERR max number of clients reached\r\n"
    extra.close()
    held.pop().close()
    held.pop().close()
    time.sleep(0.3)
    c = s.client()
    assert c.info("stats")["rejected_connections"] == refused + 1
    alive(s)
    assert rss(s) < base + 8 * MB


def test_query_buffer_limit_closes_client(keel):
    s = keel("--client-query-buffer-limit", "1mb")
    base = rss(s)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    # One 4 MB argument, of which 2 MB arrive: more than the limit buffered.
    sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4194304\r\n")
    try:
        for _ in range(32):
            sock.sendall(b"x" * 65536)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert closed_within(sock, 5)
    sock.close()
    c = s.client()
    if not IS_REDIS:  # Keel only: Redis 7.2's INFO field, absent from 7.0
        assert c.info("stats")["client_query_buffer_limit_disconnections"] == 1
    assert c.exists("k") == 0
    alive(s)
    assert rss(s) < base + 16 * MB


def test_proto_max_bulk_len(keel):
    s = keel("--proto-max-bulk-len", "1mb")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n")
    assert read_until_closed(sock) == b"-ERR Protocol error: invalid bulk length\r\n"
    sock.close()
    # Exactly the limit is fine.
    c = s.client()
    assert c.set("k", b"v" * MB) is True
    assert c.strlen("k") == MB
    alive(s)


@pytest.mark.parametrize("header,error", [
    (b"*1\r\n$1099511627776\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
])
def test_bad_lengths(server, header, error):
    base = rss(server)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(header)
    assert read_until_closed(sock) == error
    sock.close()
    alive(server)
    assert rss(server) < base + 8 * MB


def test_negative_multibulk_count_is_ignored(server):
    """"*-1" is an empty request (Redis skips it), not an allocation."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"*-1\r\n*-100\r\nPING\r\n")
    sock.settimeout(5)
    assert sock.recv(100) == b"+PONG\r\n"
    sock.close()


@pytest.mark.parametrize("payload,error", [
    (b"a" * (70 * 1024), b"-ERR Protocol error: too big inline request\r\n"),
    (b"*" + b"1" * (70 * 1024), b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"*1\r\n$" + b"1" * (70 * 1024), b"-ERR Protocol error: too big bulk count string\r\n"),
])
def test_endless_line_without_newline(server, payload, error):
    base = rss(server)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        sock.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert read_until_closed(sock) == error
    sock.close()
    alive(server)
    assert rss(server) < base + 8 * MB


def test_byte_by_byte_command(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = raw_cmd("SET", "bytewise", "value") + b"PING\r\n"
    for i in range(len(req)):
        sock.sendall(req[i:i + 1])
        time.sleep(0.002)
    sock.settimeout(5)
    got = b""
    while len(got) < len(b"+OK\r\n+PONG\r\n"):
        got += sock.recv(100)
    assert got == b"+OK\r\n+PONG\r\n"
    sock.close()
    c = server.client()
    assert c.get("bytewise") == b"value"
    c.delete("bytewise")


def test_never_reading_client_is_cut_at_output_limit(keel):
    s = keel("--client-output-buffer-limit", "normal 4mb 2mb 1")
    c = s.client()
    c.set("big", b"x" * MB)
    base = rss(s)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # 200 MB of replies asked for, none read.
    try:
        sock.sendall(raw_cmd("GET", "big") * 200)
    except (BrokenPipeError, ConnectionResetError):
        pass
    time.sleep(1)
    assert closed_within(sock, 10)
    sock.close()
    if not IS_REDIS:  # Keel only: Redis 7.2's INFO field, absent from 7.0
        assert c.info("stats")["client_output_buffer_limit_disconnections"] == 1
    assert len(c.client_list()) == 1
    alive(s)
    assert rss(s) < base + 32 * MB


def test_soft_output_limit_needs_its_seconds(keel):
    s = keel("--client-output-buffer-limit", "normal 0 1mb 2")
    c = s.client()
    c.set("big", b"x" * (4 * MB))
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # 16 MB of replies: more than the kernel's socket buffers take, so more
    # than 1 MB stays queued in the server.
    sock.sendall(raw_cmd("GET", "big") * 4)
    time.sleep(0.8)
    assert len(c.client_list()) == 2  # over the soft limit, not for 2 s yet
    # Not reading (that would drain the buffer below the soft limit).
    deadline = time.time() + 8
    while len(c.client_list()) == 2 and time.time() < deadline:
        time.sleep(0.1)
    assert len(c.client_list()) == 1
    sock.close()
    alive(s)


def test_timeout_closes_idle_client(keel):
    s = keel("--timeout", "1")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.sendall(b"PING\r\n")
    assert sock.recv(100) == b"+PONG\r\n"
    start = time.time()
    assert closed_within(sock, 6)
    assert time.time() - start >= 0.9
    sock.close()
    alive(s)


def test_slow_sender_cannot_outlive_timeout(keel):
    """Keel only: Redis counts every byte as activity, so a client sending
    one byte a second keeps its connection (and half a command) forever."""
    if IS_REDIS:
        pytest.skip("Keel only: a command must arrive within timeout")
    s = keel("--timeout", "2")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    req = raw_cmd("SET", "slow", "x" * 20)
    start = time.time()
    closed = False
    for i in range(len(req) - 1):
        try:
            sock.sendall(req[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        if closed_within(sock, 0.5):
            closed = True
            break
    assert closed
    assert 1.5 <= time.time() - start <= 6
    sock.close()
    c = s.client()
    assert c.exists("slow") == 0
    alive(s)


def test_tcp_keepalive(keel):
    s = keel("--tcp-keepalive", "77")
    c = s.client()
    assert cfg(c, "tcp-keepalive") == "77"
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.sendall(b"PING\r\n")
    assert sock.recv(100) == b"+PONG\r\n"
    out = subprocess.run(["ss", "-tnoH", "state", "established", "( sport = :%d )" % s.port],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("ss is not available")
    # The server side of our connection runs the keepalive timer (first
    # probe after 77 s of silence).
    lines = [ln for ln in out.stdout.splitlines() if ":%d " % sock.getsockname()[1] in ln + " "]
    assert len(lines) == 1
    for ln in lines:
        m = re.search(r"timer:\(keepalive,(?:(\d+)min)?(\d+)(?:\.\d+)?sec", ln)
        assert m, ln
        assert 60 <= int(m.group(1) or 0) * 60 + int(m.group(2)) <= 77
    sock.close()
    c.config_set("tcp-keepalive", "0")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.sendall(b"PING\r\n")
    assert sock.recv(100) == b"+PONG\r\n"
    out = subprocess.run(["ss", "-tnoH", "state", "established", "( sport = :%d )" % s.port],
                         capture_output=True, text=True).stdout
    mine = [ln for ln in out.splitlines() if ":%d " % sock.getsockname()[1] in ln + " "]
    assert len(mine) == 1 and "keepalive" not in mine[0]  # new connections only
    sock.close()


# ------------------------------------------------------------- idle connections


def test_idle_connections_cost_little_memory(keel):
    """5,000 connections that sent one PING each: at most 2 KB of RSS per
    connection (Keel only; Redis 7.0 takes about 6.3 KB on this test).

    Both readings follow MEMORY PURGE: a burst of connections leaves the
    allocator holding the pages of buffers already freed (each reply in a
    batch has its own until the batch is sent), which it returns within
    seconds by itself; how many depends on how the burst was batched, so
    without the purge the figure wandered between 2.7 and 4.5 KB. The
    purge leaves what the connections themselves hold."""
    n = 5000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256
    if soft < want:
        if hard < want:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            except (ValueError, OSError):
                pytest.skip("cannot raise the descriptor limit to %d" % want)
        else:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    s = keel("--maxclients", str(n + 100))
    # Warm up: the first connections pay for one-off allocations.
    warm = [s.raw() for _ in range(100)]
    for w in warm:
        w.sendall(b"PING\r\n")
        assert w.recv(16) == b"+PONG\r\n"
    for w in warm:
        w.close()
    time.sleep(0.5)
    c = s.client()
    c.execute_command("MEMORY", "PURGE")
    before = rss(s)
    socks = []
    try:
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            sock.sendall(b"PING\r\n")
            socks.append(sock)
        for sock in socks:
            assert sock.recv(16) == b"+PONG\r\n"
        time.sleep(0.5)
        c.execute_command("MEMORY", "PURGE")
        per_conn = (rss(s) - before) / n
        assert c.info("clients")["connected_clients"] == n + 1
    finally:
        for sock in socks:
            sock.close()
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    print("RSS per idle connection: %.0f bytes" % per_conn)
    if IS_REDIS:
        return  # the figure is reported, not held to Keel's bound
    if not s.client().info("memory")["mem_allocator"].startswith("jemalloc"):
        return  # a sanitizer build: its allocator's redzones are the cost
    assert per_conn <= 2048
    alive(s)


# ------------------------------------------------ what the fuzz targets found


def test_struct_unpack_c0_count_from_data(server):
    """fuzz_lua_codecs: a 'c0' count taken from the data (negative here)
    wrapped the bounds check and read far outside the string."""
    c = server.client()
    for script in ("return struct.unpack('bc0', string.char(255) .. 'xyz')",
                   "return struct.unpack('bc0', string.char(4) .. 'xyz')",
                   "return struct.unpack('i4', 'abcd', 3)"):
        with pytest.raises(redis.ResponseError) as e:
            c.eval(script, 0)
        assert "bad argument #2 to 'unpack' (data string too short)" in str(e.value)
    assert c.eval("return struct.unpack('bc0', string.char(3) .. 'xyz')", 0) == b"xyz"
    # Numbers out of an integer's range pack to 8 bytes, without undefined
    # behaviour (the sanitizers would stop the server).
    assert c.eval("return #struct.pack('>i8', 1e300) + #struct.pack('<I8', -1e300)", 0) == 16
    alive(server)


@pytest.mark.parametrize("value", ["abc", "900", "-1 5", "0 1", " 900 1", "900 1 "])
def test_save_parameters_are_checked(server, value):
    """fuzz_config: `save` took any text (Redis checks the pairs)."""
    c = server.client()
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("save", value)
    assert str(e.value) == "CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    assert c.config_set("save", "900 1 300 0") is True
    assert cfg(c, "save") == "900 1 300 0"
    assert c.config_set("save", "") is True


def test_save_parameters_in_config_file(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text('save "" -3\n')
    p = subprocess.run([SERVER, str(conf), "--port", "0"], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "Invalid save parameters" in p.stdout + p.stderr
