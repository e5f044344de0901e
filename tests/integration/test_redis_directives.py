"""Every directive of Redis 7.0 is accepted, so a redis.conf moves over
unchanged; the ones with an effect here have it (supervised, syslog,
shutdown-on-sigint/-sigterm, active-expire-effort), and those of features
Keel does not have answer as Debian's redis-server does."""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import resp_client

from conftest import SERVER, Server, err, free_port


def test_every_redis_directive_is_known(r, redis_ref):
    names = set(redis_ref.config_get("*"))
    ours = set(r.config_get("*"))
    assert sorted(names - ours) == []


# Directives added for Redis's sake: Keel's defaults must be Redis's.
ADDED = ["active-defrag-cycle-max", "active-defrag-cycle-min", "active-defrag-ignore-bytes",
         "active-defrag-max-scan-fields", "active-defrag-threshold-lower", "active-defrag-threshold-upper",
         "active-expire-effort", "activedefrag", "aof-disable-auto-gc", "aof_rewrite_cpulist", "bgsave_cpulist",
         "bind-source-addr", "bio_cpulist", "cluster-allow-pubsubshard-when-down", "cluster-allow-reads-when-down",
         "cluster-allow-replica-migration", "cluster-announce-bus-port", "cluster-announce-hostname",
         "cluster-announce-ip", "cluster-announce-port", "cluster-announce-tls-port", "cluster-config-file",
         "cluster-enabled", "cluster-link-sendbuf-limit", "cluster-migration-barrier", "cluster-node-timeout",
         "cluster-port", "cluster-preferred-endpoint-type", "cluster-replica-no-failover",
         "cluster-replica-validity-factor", "cluster-require-full-coverage", "cluster-slave-no-failover",
         "cluster-slave-validity-factor", "crash-log-enabled", "crash-memcheck-enabled", "ignore-warnings",
         "maxmemory-clients", "propagation-error-behavior", "replica-ignore-disk-write-errors",
         "replica-ignore-maxmemory", "server_cpulist", "shutdown-on-sigint", "shutdown-on-sigterm",
         "shutdown-timeout", "slave-ignore-maxmemory", "socket-mark-id", "supervised", "syslog-enabled",
         "syslog-facility", "syslog-ident"]


def test_added_directives_have_redis_defaults(r, redis_ref):
    for name in ADDED:
        assert r.config_get(name) == redis_ref.config_get(name), name


def test_values_set_and_refused_as_redis(r, redis_ref):
    for c in (r, redis_ref):
        assert c.config_set("active-expire-effort", 7) is True
        assert c.config_get("active-expire-effort") == {"active-expire-effort": "7"}
        assert c.config_set("shutdown-on-sigterm", "nosave force") is True
        assert c.config_get("shutdown-on-sigterm") == {"shutdown-on-sigterm": "nosave force"}
        assert c.config_set("shutdown-on-sigint", "force now save") is True
        assert c.config_get("shutdown-on-sigint") == {"shutdown-on-sigint": "save now force"}
        assert c.config_set("shutdown-on-sigint", "default now") is True
        assert c.config_get("shutdown-on-sigint") == {"shutdown-on-sigint": "now"}
        c.config_set("shutdown-on-sigint", "default")
        assert c.config_set("cluster-node-timeout", 5000) is True
        assert c.config_set("propagation-error-behavior", "panic") is True
        c.config_set("active-expire-effort", 1)
        c.config_set("shutdown-on-sigterm", "default")
        c.config_set("cluster-node-timeout", 15000)
        c.config_set("propagation-error-behavior", "ignore")
    for name, value in (("active-expire-effort", "11"), ("active-expire-effort", "0"),
                        ("shutdown-on-sigterm", "sometimes"), ("shutdown-on-sigint", "save nosave"),
                        ("supervised", "systemd"),
                        ("syslog-enabled", "yes"), ("cluster-enabled", "yes")):
        want = err(redis_ref.config_set, name, value)
        assert err(r.config_set, name, value) == want, (name, value)


def test_cluster_enabled_yes_stops_startup():
    p = subprocess.run([SERVER, "--port", str(free_port()), "--cluster-enabled", "yes"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode()
    assert p.returncode != 0
    assert "Keel has no cluster mode: shard with twemproxy (docs/SCALING.md)" in out


@pytest.mark.parametrize("value,shown", [("10%", "10%"), ("5mb", "5242880"), ("0%", "0"), ("100%", "100%"),
                                         ("0", "0")])
def test_maxmemory_clients_values_as_redis(r, redis_ref, value, shown):
    for c in (r, redis_ref):
        assert c.config_set("maxmemory-clients", value) is True
        assert c.config_get("maxmemory-clients") == {"maxmemory-clients": shown}
        c.config_set("maxmemory-clients", "0")


@pytest.mark.parametrize("value,why", [("-1", "argument must be a memory or percent value"),
                                       ("abc", "argument must be a memory or percent value"),
                                       ("101%", "percentage argument must be less or equal to 100")])
def test_maxmemory_clients_errors_as_redis(r, redis_ref, value, why):
    want = "CONFIG SET failed (possibly related to argument 'maxmemory-clients') - " + why
    assert err(r.config_set, "maxmemory-clients", value) == err(redis_ref.config_set, "maxmemory-clients", value) \
        == want


def half_sent_bulk(port, size):
    """A connection that has sent `size` bytes of a bulk argument it never
    finishes: that much query buffer held on the server."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"*2\r\n$3\r\nSET\r\n$%d\r\n" % (size + 1) + b"x" * size)
    return s


def closed(sock):
    try:
        sock.settimeout(0.2)
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("kind,limit", [("keel", "5%"), ("keel", "5mb"), ("redis", "5%")])
def test_maxmemory_clients_evicts_the_biggest_clients(keel, kind, limit):
    """Over maxmemory-clients the clients holding the most memory go first,
    until the rest fit; CLIENT NO-EVICT ON spares one; INFO counts them."""
    s = keel() if kind == "keel" else Server("--save", "", binary="/usr/bin/redis-server")
    try:
        admin = s.client()
        assert admin.client_no_evict("on") == b"OK"
        big = [half_sent_bulk(s.port, 3 << 20) for _ in range(2)]
        small = half_sent_bulk(s.port, 200 << 10)
        time.sleep(0.3)  # the bytes arrive
        assert admin.info("stats")["evicted_clients"] == 0
        admin.config_set("maxmemory", "100mb")  # 5% of it: 5 MB
        admin.config_set("maxmemory-clients", limit)
        deadline = time.time() + 5
        while time.time() < deadline and admin.info("stats")["evicted_clients"] < 1:
            admin.ping()  # a command and a loop pass: the check runs
            time.sleep(0.05)
        # One of the two big ones brings the total under 5 MB; the rest stay.
        assert admin.info("stats")["evicted_clients"] == 1
        assert sorted(closed(b) for b in big) == [False, True]
        assert not closed(small)
        assert admin.ping() is True
    finally:
        s.stop()


@pytest.mark.parametrize("kind", ["keel", "redis"])
@pytest.mark.parametrize("load", ["replies", "half-sent-commands", "messages"])
def test_clients_go_before_keys_under_maxmemory(keel, kind, load):
    """maxmemory 11mb holding 5 MB of keys, maxmemory-clients 3mb: clients
    that pile up replies they never read (MGET of a 100 KB value), commands
    they never finish, or messages (PUBLISH of 100 KB) are evicted before
    any key is, as in Redis (it checks the clients before each command,
    before evicting keys)."""
    s = keel() if kind == "keel" else Server("--save", "", binary="/usr/bin/redis-server")
    socks = []
    try:
        admin = s.client()
        admin.config_set("maxmemory", "11mb")
        admin.config_set("maxmemory-policy", "allkeys-lru")
        admin.config_set("maxmemory-clients", "3mb")
        admin.client_no_evict("on")
        for j in range(50):
            admin.setrange(j, 100_000, "x")
        socks = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(30)]
        if load == "half-sent-commands":
            for sock in socks:
                sock.sendall(b"*250\r\n")
        elif load == "messages":
            for sock in socks:
                sock.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$3\r\nbla\r\n")
            until = time.time() + 5
            while admin.pubsub_numsub("bla") != [(b"bla", len(socks))] and time.time() < until:
                time.sleep(0.01)
        deadline = time.time() + 10
        sent = 0
        while time.time() < deadline and admin.info("stats")["evicted_clients"] == 0 and sent < 249:
            for sock in socks:
                try:
                    if load == "replies":
                        sock.sendall(b"*2\r\n$4\r\nMGET\r\n$1\r\n1\r\n")
                    elif load == "messages":
                        pass
                    else:
                        sock.sendall(b"$1000\r\n" + b"x" * 1000 + b"\r\n")
                except OSError:
                    pass  # evicted
            sent += 1
            if load == "messages":
                admin.publish("bla", "x" * 100_000)
            admin.ping()
        stats = admin.info("stats")
        assert stats["evicted_clients"] > 0
        assert stats["evicted_keys"] == 0
        assert admin.dbsize() == 50
    finally:
        for sock in socks:
            sock.close()
        s.stop()


@pytest.mark.parametrize("kind", ["keel", "redis"])
def test_clients_over_the_limit_that_cannot_go_keep_working(keel, kind):
    """Every client over a 1-byte maxmemory-clients has CLIENT NO-EVICT on:
    none can go, and their commands keep running."""
    s = keel() if kind == "keel" else Server("--save", "", binary="/usr/bin/redis-server")
    try:
        clients = [s.client() for _ in range(3)]
        for c in clients:
            assert c.client_no_evict("on") == b"OK"
        clients[0].config_set("maxmemory-clients", 1)
        for i in range(200):
            assert clients[i % 3].set("k%d" % i, "v" * 100) is True
        assert clients[1].dbsize() == 200
        assert clients[2].info("stats")["evicted_clients"] == 0
    finally:
        s.stop()


@pytest.mark.parametrize("kind", ["keel", "redis"])
def test_a_command_bigger_than_maxmemory_clients_is_not_run(keel, kind):
    """A client whose one command holds more than maxmemory-clients is
    evicted before the command runs, as in Redis (which checks before each
    command); a smaller one runs."""
    s = keel() if kind == "keel" else Server("--save", "", binary="/usr/bin/redis-server")
    try:
        admin = s.client()
        admin.client_no_evict("on")
        admin.config_set("maxmemory-clients", "1mb")
        small = s.client()
        assert small.mset({"k": "v", "k2": "v" * 300_000}) is True
        big = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        value = b"v" * (2 << 20)
        try:
            big.sendall(b"*5\r\n$4\r\nMSET\r\n$1\r\nk\r\n$1\r\nw\r\n$2\r\nk3\r\n$%d\r\n%s\r\n"
                        % (len(value), value))
        except (ConnectionResetError, BrokenPipeError):
            pass  # evicted while still sending
        deadline = time.time() + 5
        while not closed(big) and time.time() < deadline:
            pass
        assert closed(big)
        assert admin.info("stats")["evicted_clients"] == 1
        assert admin.get("k") == b"v" and admin.exists("k3") == 0
        assert small.get("k") == b"v"
    finally:
        s.stop()


@pytest.mark.parametrize("kind", ["keel", "redis"])
@pytest.mark.parametrize("cmd", ["WATCH", "SUBSCRIBE", "PSUBSCRIBE"])
def test_watches_and_subscriptions_count_toward_maxmemory_clients(keel, kind, cmd):
    """Watched keys and subscriptions are client memory too: a client that
    keeps adding them is evicted, as in Redis; MULTI's queue shows in
    CLIENT LIST multi-mem."""
    s = keel() if kind == "keel" else Server("--save", "", binary="/usr/bin/redis-server")
    try:
        admin = s.client()
        admin.client_no_evict("on")
        admin.config_set("maxmemory-clients", 200_000)
        rr = resp_client.RespConn(s)
        evicted = False
        for j in range(200_000):
            try:
                rr.call(cmd, "name-%d" % j)
            except (OSError, EOFError, ConnectionError):
                evicted = True
                break
        assert evicted
        assert admin.info("stats")["evicted_clients"] == 1
        admin.config_set("maxmemory-clients", 0)
        q = resp_client.RespConn(s)
        assert q.call("MULTI") == "OK"
        assert q.call("SET", "k", "x" * 1000) == "QUEUED"
        line = [l for l in admin.execute_command("CLIENT", "LIST").decode().splitlines() if "multi=1" in l][0]
        assert int(line.split("multi-mem=")[1].split()[0]) >= 1000
    finally:
        s.stop()


def notify_listener(abstract):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "@keel-test-%d-%d" % (os.getpid(), time.time_ns())
        sock.bind("\0" + name[1:])
    else:
        name = os.path.join(tempfile.mkdtemp(prefix="keel-notify-"), "notify")
        sock.bind(name)
    sock.settimeout(30)
    return sock, name


@pytest.mark.parametrize("abstract", [False, True])
@pytest.mark.parametrize("mode", ["systemd", "auto"])
def test_supervised_systemd_notifies_ready_and_stopping(mode, abstract):
    """Debian's redis-server.service is Type=notify and runs the server with
    --supervised systemd: systemd waits for READY=1."""
    sock, name = notify_listener(abstract)
    env = dict(os.environ, NOTIFY_SOCKET=name)
    env.pop("UPSTART_JOB", None)
    s = Server("--supervised", mode, env=env)
    try:
        msg = sock.recv(4096).decode()
        assert "READY=1\n" in msg and "STATUS=Ready to accept connections\n" in msg
        assert s.client().ping()
        assert s.client().info("server")["process_supervised"] == "systemd"
        s.client().shutdown(nosave=True)
        assert sock.recv(4096).decode() == "STOPPING=1\n"
    finally:
        s.stop()
        sock.close()


def test_supervised_no_sends_nothing():
    sock, name = notify_listener(False)
    sock.settimeout(0.5)
    s = Server("--supervised", "no", env=dict(os.environ, NOTIFY_SOCKET=name))
    try:
        assert s.client().info("server")["process_supervised"] == "no"
        with pytest.raises(socket.timeout):
            sock.recv(4096)
    finally:
        s.stop()
        sock.close()


def test_supervised_upstart_stops_itself_when_ready():
    env = dict(os.environ, UPSTART_JOB="keel")
    env.pop("NOTIFY_SOCKET", None)
    d = tempfile.mkdtemp(prefix="keel-test-")
    log = open(os.path.join(d, "log"), "w")
    p = subprocess.Popen([SERVER, "--port", str(free_port()), "--dir", d, "--supervised", "upstart"], stdout=log,
                         stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.time() + 30
        state = None
        while time.time() < deadline:
            with open("/proc/%d/stat" % p.pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state == "T":
                break
            time.sleep(0.02)
        assert state == "T"
        os.kill(p.pid, signal.SIGCONT)
        os.kill(p.pid, signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()
    text = open(os.path.join(d, "log")).read()
    assert "supervised by upstart, will stop to signal readiness." in text


@pytest.mark.parametrize("sig,directive,value,saved", [
    (signal.SIGTERM, "shutdown-on-sigterm", "default", True),
    (signal.SIGTERM, "shutdown-on-sigterm", "nosave", False),
    (signal.SIGINT, "shutdown-on-sigint", "nosave", False),
    (signal.SIGINT, "shutdown-on-sigint", "default", True),
])
def test_shutdown_on_signal_flags(keel, sig, directive, value, saved):
    s = keel("--save", "3600 1", "--" + directive, value)
    c = s.client()
    c.set("k", "v")
    s.proc.send_signal(sig)
    assert s.proc.wait(timeout=30) == 0
    assert os.path.exists(os.path.join(s.dir, "dump.rdb")) == saved


def test_shutdown_on_sigterm_save_without_save_points(keel):
    s = keel("--save", "", "--shutdown-on-sigterm", "save")
    s.client().set("k", "v")
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=30) == 0
    assert os.path.exists(os.path.join(s.dir, "dump.rdb"))


@pytest.mark.parametrize("kind", ["keel", "redis"])
def test_second_sigint_during_a_shutdown_save_exits_at_once(kind):
    """SIGINT starts a shutdown that saves (2 s here: 20 keys, 100 ms
    each); a second SIGINT while temp-<pid>.rdb is being written exits at
    once with status 1, removes the temporary file and leaves no dump, as
    Redis does ("You insist... exiting now."). Redis's unit/shutdown "Temp
    rdb will be deleted in signal handle"."""
    s = Server("--save", "3600 1", **({} if kind == "keel" else {"binary": "/usr/bin/redis-server"}))
    try:
        c = s.client()
        for i in range(20):
            c.set(i, i)
        c.config_set("rdb-key-save-delay", 100000)
        temp = os.path.join(s.dir, "temp-%d.rdb" % s.proc.pid)
        s.proc.send_signal(signal.SIGINT)
        deadline = time.time() + 5
        while time.time() < deadline and not os.path.exists(temp):
            time.sleep(0.01)
        assert os.path.exists(temp)
        s.proc.send_signal(signal.SIGINT)
        assert s.proc.wait(timeout=1.5) == 1
        assert not os.path.exists(temp)
        assert not os.path.exists(os.path.join(s.dir, "dump.rdb"))
    finally:
        if s.proc.poll() is None:
            s.stop()
        else:
            s.logf.close()  # exit status 1 is the point here


def test_syslog_receives_the_log_lines(tmp_path):
    """syslog(3) writes to /dev/log; where none exists (a container), the
    test binds it itself and reads what the server sends."""
    if os.path.exists("/dev/log") or os.geteuid() != 0:
        pytest.skip("needs to bind /dev/log (root, and no syslog daemon)")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/dev/log")
    sock.settimeout(10)
    try:
        s = Server("--syslog-enabled", "yes", "--syslog-ident", "keeltest", "--syslog-facility", "local3")
        try:
            seen = []
            deadline = time.time() + 10
            while time.time() < deadline and not any("Ready to accept connections" in m for m in seen):
                seen.append(sock.recv(4096).decode(errors="replace"))
            ready = [m for m in seen if "Ready to accept connections" in m]
            assert ready
            # <priority> = facility local3 (19) * 8 + notice (5)
            assert ready[0].startswith("<157>") and "keeltest[" in ready[0]
        finally:
            s.stop()
    finally:
        sock.close()
        os.unlink("/dev/log")


@pytest.mark.parametrize("ignore,keeps_all", [("yes", True), ("no", False)])
def test_replica_ignore_maxmemory(keel, ignore, keeps_all):
    """A replica with a smaller maxmemory than its data keeps every key its
    primary sends (the primary decides what is evicted), unless told
    replica-ignore-maxmemory no."""
    primary = keel()
    replica = keel("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru", "--replica-ignore-maxmemory", ignore)
    p, r = primary.client(), replica.client()
    assert r.replicaof("127.0.0.1", primary.port)
    deadline = time.time() + 30
    while r.info("replication").get("master_link_status") != "up":
        assert time.time() < deadline
        time.sleep(0.02)
    pipe = p.pipeline(transaction=False)
    for i in range(20000):
        pipe.set("key:%d" % i, "x" * 200)
    pipe.execute()
    deadline = time.time() + 30
    while r.info("replication")["slave_repl_offset"] != p.info("replication")["master_repl_offset"]:
        assert time.time() < deadline
        time.sleep(0.02)
    r.ping()  # a command, so an eviction pass would have run
    time.sleep(0.3)  # and a cron pass
    assert p.dbsize() == 20000
    if keeps_all:
        assert r.dbsize() == 20000
    else:
        assert r.dbsize() < 20000


# INFO fields added beside the directives; each must exist on both servers.
INFO_FIELDS = {"server": ["monotonic_clock", "atomicvar_api", "process_supervised"],
               "memory": ["used_memory_lua_human", "used_memory_vm_total_human", "used_memory_scripts_human",
                          "mem_cluster_links", "mem_aof_buffer", "mem_replication_backlog"],
               "stats": ["expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds", "migrate_cached_sockets"],
               "cpu": ["used_cpu_sys_children", "used_cpu_user_children", "used_cpu_sys_main_thread",
                       "used_cpu_user_main_thread"]}


def test_info_fields_as_redis(r, redis_ref):
    for section, names in INFO_FIELDS.items():
        ours, theirs = r.info(section), redis_ref.info(section)
        for name in names:
            assert name in ours and name in theirs, (section, name)
    for c in (r, redis_ref):
        # No replica has attached: no backlog yet.
        assert c.info("memory")["mem_replication_backlog"] == 0
        assert c.info("server")["process_supervised"] == "no"
    cpu = r.info("cpu")
    assert 0 < cpu["used_cpu_sys_main_thread"] + cpu["used_cpu_user_main_thread"] <= \
        cpu["used_cpu_sys"] + cpu["used_cpu_user"]
