"""Config files and the command line: directives with quoting and comments
are honoured, bad ones stop start-up naming the file and line, and
--name value on the command line overrides the file."""
import os
import socket
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import SERVER, free_port, err

GOOD_CONF = """# Keel test configuration
   # an indented comment

maxmemory 100mb
maxmemory-policy allkeys-lru
requirepass "pass word"
dbfilename 'my dump.rdb'
save 900 1 300 10
notify-keyspace-events "KEA"
MAXCLIENTS 50
hz 20
timeout 0
client-output-buffer-limit pubsub 64mb 16mb 90
hash-max-ziplist-entries 99
proto-max-bulk-len "2mb"
appendonly no
"""


def run_fail(args, stdin=None):
    """Start the server expecting a start-up failure; returns (rc, output)."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="keel-cfg-")
    out = subprocess.run([SERVER] + args + ["--port", str(port), "--dir", workdir], input=stdin,
                         capture_output=True, timeout=20)
    return out.returncode, (out.stdout + out.stderr).decode()


def write_conf(text):
    fd, path = tempfile.mkstemp(prefix="keel-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def test_config_file_directives_honoured(keel):
    s = keel(config=GOOD_CONF)
    with pytest.raises(redis.AuthenticationError):
        s.client().ping()
    r = s.client(password="pass word", decode_responses=True)
    assert r.ping()
    cfg = r.config_get("*")
    assert cfg["maxmemory"] == str(100 * 1024 * 1024)
    assert cfg["maxmemory-policy"] == "allkeys-lru"
    assert cfg["requirepass"] == "pass word"
    assert cfg["dbfilename"] == "my dump.rdb"
    assert cfg["save"] == "900 1 300 10"
    assert cfg["notify-keyspace-events"] == "AKE"
    assert cfg["maxclients"] == "50"
    assert cfg["hz"] == "20"
    assert cfg["hash-max-listpack-entries"] == "99"
    assert cfg["proto-max-bulk-len"] == str(2 * 1024 * 1024)
    assert cfg["client-output-buffer-limit"] == ("normal 0 0 0 slave 268435456 67108864 60 "
                                                 "pubsub 67108864 16777216 90")  # Redis 7.0 prints "slave"
    assert cfg["appendonly"] == "no"
    info = r.info("server")
    assert info["config_file"].endswith("keel.conf")
    assert info["hz"] == 20
    r.close()


def test_include_reads_files_in_place_and_in_glob_order(keel, tmp_path):
    confd = tmp_path / "conf.d"
    confd.mkdir()
    (confd / "10-first.conf").write_text("hz 30\ntimeout 7\n")
    (confd / "20-second.conf").write_text("# later files win\nhz 40\ninclude %s\n" % (tmp_path / "leaf.conf"))
    (confd / "ignored.txt").write_text("hz 99\n")
    (tmp_path / "leaf.conf").write_text("maxclients 60\n")
    s = keel(config="hz 20\nmaxclients 50\ninclude %s/*.conf\nslowlog-max-len 77\n" % confd)
    r = s.client(decode_responses=True)
    cfg = r.config_get("*")
    assert cfg["hz"] == "40"
    assert cfg["timeout"] == "7"
    assert cfg["maxclients"] == "60"  # nested include, read after the main file's own line
    assert cfg["slowlog-max-len"] == "77"
    # CONFIG REWRITE keeps the include line as written
    r.config_set("hz", "45")
    assert r.execute_command("CONFIG", "REWRITE") == "OK"
    assert "include %s/*.conf" % confd in read_conf(s).splitlines()
    # a pattern that matches nothing is not an error (as in Redis)
    s2 = keel(config="include %s/*.nomatch\nhz 25\n" % confd)
    assert s2.client(decode_responses=True).config_get("hz") == {"hz": "25"}


def test_include_errors_stop_startup(tmp_path):
    missing = tmp_path / "missing.conf"
    main = write_conf("hz 10\ninclude %s\n" % missing)
    rc, out = run_fail([main])
    assert rc != 0
    assert "Reading the configuration file '%s', at line 2" % main in out
    assert "Fatal error, can't open config file '%s'" % missing in out
    # an error inside an included file names that file and its line
    bad = tmp_path / "bad.conf"
    bad.write_text("hz 10\n\nnosuchdirective 1\n")
    main = write_conf("include %s\n" % bad)
    rc, out = run_fail([main])
    assert rc != 0
    assert "Reading the configuration file '%s', at line 3" % bad in out
    assert ">>> 'nosuchdirective 1'" in out
    # a file that includes itself stops instead of recursing forever
    loop = tmp_path / "loop.conf"
    loop.write_text("include %s\n" % loop)
    rc, out = run_fail([str(loop)])
    assert rc != 0 and "Too many nested includes (limit 16)" in out


def test_command_line_overrides_file(keel):
    s = keel("--hz", "30", "--maxmemory-policy", "volatile-lru", "--save", "60", "100", "--requirepass", "",
             config=GOOD_CONF)
    r = s.client(decode_responses=True)
    assert r.config_get("hz") == {"hz": "30"}
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "volatile-lru"}
    # several words after one --option form one value; as in Redis 7, the
    # first "save" replaces the default points and later ones add theirs
    assert r.config_get("save") == {"save": "900 1 300 10 60 100"}
    # values not overridden still come from the file
    assert r.config_get("maxclients") == {"maxclients": "50"}
    r.close()


def test_config_from_stdin():
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="keel-cfg-")
    proc = subprocess.Popen([SERVER, "-", "--port", str(port), "--dir", workdir], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.stdin.write(b"hz 33\nmaxclients 77\n")
    proc.stdin.close()
    try:
        deadline = time.time() + 10
        r = redis.Redis(port=port, decode_responses=True, socket_timeout=5)
        while True:
            try:
                r.ping()
                break
            except redis.ConnectionError:
                assert time.time() < deadline and proc.poll() is None
                time.sleep(0.05)
        assert r.config_get("hz") == {"hz": "33"}
        assert r.config_get("maxclients") == {"maxclients": "77"}
        r.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


BAD_FILES = [
    ("hz 10\n# fine\nnosuchdirective 1\n", 3, "nosuchdirective 1", "Bad directive or wrong number of arguments"),
    ("maxmemory lots\n", 1, "maxmemory lots", "argument must be a memory value"),
    ("\n\nmaxclients abc\n", 3, "maxclients abc", "argument couldn't be parsed into an integer"),
    ("appendonly perhaps\n", 1, "appendonly perhaps", "argument must be 'yes' or 'no'"),
    ("hz 10\nmaxmemory\n", 2, "maxmemory", "wrong number of arguments"),
    ("port 6379 6380\n", 1, "port 6379 6380", "wrong number of arguments"),
    ("requirepass \"abc\n", 1, "requirepass \"abc", "Unbalanced quotes in configuration line"),
    ("maxmemory-policy sometimes\n", 1, "maxmemory-policy sometimes",
     "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, "
     "allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
    ("databases 0\n", 1, "databases 0", "argument must be between 1 and 2147483647 inclusive"),
]


@pytest.mark.parametrize("text,line,echo,msg", BAD_FILES, ids=[b[2] for b in BAD_FILES])
def test_bad_config_file_stops_startup(text, line, echo, msg):
    path = write_conf(text)
    rc, out = run_fail([path])
    assert rc != 0
    assert "*** FATAL CONFIG FILE ERROR" in out
    assert "Reading the configuration file '%s', at line %d" % (path, line) in out
    assert ">>> '%s'" % echo in out
    assert msg in out
    os.unlink(path)


def test_missing_config_file():
    rc, out = run_fail(["/nonexistent/keel.conf"])
    assert rc != 0
    assert "Fatal error, can't open config file '/nonexistent/keel.conf'" in out


def test_bad_command_line_options():
    rc, out = run_fail(["--nosuchoption", "1"])
    assert rc != 0 and "Bad directive or wrong number of arguments" in out and "nosuchoption" in out
    rc, out = run_fail(["--maxmemory", "lots"])
    assert rc != 0 and "argument must be a memory value" in out
    rc, out = run_fail(["--hz"])
    assert rc != 0
    path = write_conf("hz 10\n")
    rc, out = run_fail([path, "stray"])  # a line of its own, as in Redis
    assert rc != 0 and ">>> '\"stray\"'\nBad directive or wrong number of arguments" in out
    os.unlink(path)


# ---- CONFIG REWRITE ----

REWRITE_CONF = """# Keel rewrite test
# second comment

hz 20
maxclients 50
hash-max-ziplist-entries 99
   # indented comment between directives
timeout 0
save 900 1
"""


def conf_path(s):
    return os.path.join(s.dir, "keel.conf")


def read_conf(s):
    with open(conf_path(s)) as f:
        return f.read()


def directive_lines(text, name):
    return [l for l in text.splitlines() if l.split(" ", 1)[0].lower() == name]


def test_config_rewrite_roundtrip(keel):
    s = keel(config=REWRITE_CONF)
    r = s.client(decode_responses=True)
    r.config_set("hz", "33")
    r.config_set("maxclients", "10000")  # back to the default while in the file
    r.config_set("hash-max-listpack-entries", "77")
    r.config_set("maxmemory", "64mb")
    r.config_set("maxmemory-policy", "allkeys-lfu")
    r.config_set("notify-keyspace-events", "Kx")
    r.config_set("save", "3600 1 300 100")
    r.config_set("client-output-buffer-limit", "pubsub 64mb 16mb 90 replica 1gb 512mb 120")
    r.config_set("slowlog-max-len", "256")
    assert r.execute_command("CONFIG", "REWRITE") == "OK"
    before = r.config_get("*")
    text = read_conf(s)
    lines = text.splitlines()
    # comments and blank lines stay where they were, directives keep their line
    assert lines[:9] == ["# Keel rewrite test", "# second comment", "", "hz 33", "maxclients 10000",
                         "hash-max-listpack-entries 77", "   # indented comment between directives",
                         "timeout 0", "save 3600 1 300 100"]
    assert lines[9] == "# Generated by CONFIG REWRITE"
    appended = lines[10:]
    assert "maxmemory 64mb" in appended
    assert "maxmemory-policy allkeys-lfu" in appended
    assert "slowlog-max-len 256" in appended
    assert ("client-output-buffer-limit normal 0 0 0 slave 1073741824 536870912 120 "
            "pubsub 67108864 16777216 90" in appended)
    # defaults not already in the file are not added
    assert not directive_lines(text, "lfu-log-factor")
    assert not directive_lines(text, "tcp-keepalive")
    r.close()

    s2 = keel(config=text)
    r2 = s2.client(decode_responses=True)
    after = r2.config_get("*")
    for name in ("hz", "maxclients", "hash-max-listpack-entries", "maxmemory", "maxmemory-policy",
                 "notify-keyspace-events", "save", "client-output-buffer-limit", "slowlog-max-len",
                 "timeout"):
        assert after[name] == before[name], name
    assert after["hz"] == "33" and after["maxmemory"] == str(64 * 1024 * 1024)
    assert after["notify-keyspace-events"] == "xK"
    r2.close()


# Redis 7's reading of the command line: "--name" starts a directive, the
# arguments after it are its values; right after a bare "--name" an
# argument is a value even when it starts with "--".
COMMAND_LINE_ERRORS = [
    (["--port"], "'port'", "wrong number of arguments"),
    (["--port", "6380", "--loglevel"], "'loglevel'", "wrong number of arguments"),
    (["--port", "6379", "6380"], "'port \"6379\" \"6380\"'", "wrong number of arguments"),
    (["--port", "--loglevel", "verbose"], "'port \"--loglevel\" \"verbose\"'", "wrong number of arguments"),
    (["--port", "--bla", "--loglevel", "verbose"], "'port \"--bla\"'", "argument couldn't be parsed into an integer"),
    (["--logfile", "--my--log--file", "--loglevel", "--bla"], "'loglevel \"--bla\"'",
     "argument(s) must be one of the following"),
    (["--shutdown-on-sigint"], "'shutdown-on-sigint'", "argument(s) must be one of the following"),
    (["--replicaof", "127.0.0.1", "abc"], "'replicaof \"127.0.0.1\" \"abc\"'", "Invalid master port"),
    (["--replicaof", "--127.0.0.1", "--abc"], "'replicaof \"--127.0.0.1\"'", "wrong number of arguments"),
    (["--replicaof"], "'replicaof'", "wrong number of arguments"),
]


@pytest.mark.parametrize("args,line,why", COMMAND_LINE_ERRORS, ids=[" ".join(a) for a, _, _ in COMMAND_LINE_ERRORS])
def test_command_line_errors(args, line, why):
    p = subprocess.run([SERVER] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    out = p.stdout.decode()
    assert p.returncode != 0
    assert ">>> %s\n%s" % (line, why) in out, out


def test_command_line_values_may_start_with_dashes_or_share_an_argument(keel, tmp_path):
    s = keel("--proc-title-template", "--my--title--template", "--loglevel verbose", "--maxmemory '700mb'")
    c = s.client(decode_responses=True)
    assert c.config_get("proc-title-template") == {"proc-title-template": "--my--title--template"}
    assert c.config_get("loglevel") == {"loglevel": "verbose"}
    assert c.config_get("maxmemory") == {"maxmemory": str(700 * 1024 * 1024)}
    # After a config file, words before any --name make a line of their own
    conf = tmp_path / "k.conf"
    conf.write_text("hz 12\n")
    port = free_port()
    p = subprocess.Popen([SERVER, str(conf), "loglevel", "verbose", "--port", str(port), "--save", ""],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port, decode_responses=True)
        deadline = time.time() + 10
        while True:
            try:
                assert r.config_get("loglevel") == {"loglevel": "verbose"} and r.config_get("hz") == {"hz": "12"}
                break
            except redis.ConnectionError:
                assert time.time() < deadline and p.poll() is None
                time.sleep(0.05)
    finally:
        p.kill()
        p.wait()


def test_debug_config_rewrite_force_all_restarts_the_same(keel):
    """DEBUG CONFIG-REWRITE-FORCE-ALL (Redis's check that every directive
    CONFIG REWRITE can write reads back): every directive goes to the
    file, defaults included, and a server started from it has the same
    configuration."""
    s = keel("--enable-debug-command", "yes", config="hz 20\n")
    r = s.client(decode_responses=True)
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("save", "100 10")
    r.config_set("notify-keyspace-events", "KEA")
    before = r.config_get("*")
    assert r.execute_command("DEBUG", "CONFIG-REWRITE-FORCE-ALL") == "OK"
    text = read_conf(s)
    for name in ("lfu-log-factor", "tcp-keepalive", "client-output-buffer-limit", "hz"):
        assert directive_lines(text, name), name
    s2 = keel(config=text)  # its own port and dir come from its command line
    after = s2.client(decode_responses=True).config_get("*")
    differ = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert differ <= {"port", "dir"}, {k: (before.get(k), after.get(k)) for k in differ}


def test_config_rewrite_after_promotion_drops_replicaof(keel):
    """A replica's file names its primary; after REPLICAOF NO ONE the
    rewrite removes that line (as Redis does) and the server starts again
    from the file, a primary. An empty replicaof (written by older Keel)
    reads as none; one value alone is refused as in Redis."""
    primary = keel()
    s = keel(config="hz 11\nreplicaof 127.0.0.1 %d\n" % primary.port)
    r = s.client(decode_responses=True)
    assert r.info("replication")["role"] == "slave"
    r.execute_command("REPLICAOF", "NO", "ONE")
    assert r.execute_command("CONFIG", "REWRITE") == "OK"
    text = read_conf(s)
    assert not directive_lines(text, "replicaof") and directive_lines(text, "hz")
    s2 = keel(config=text)
    assert s2.client(decode_responses=True).info("replication")["role"] == "master"
    if not SERVER.endswith("redis-server"):  # Redis refuses it
        s3 = keel(config='replicaof ""\n')
        assert s3.client(decode_responses=True).info("replication")["role"] == "master"
    with pytest.raises(RuntimeError, match="wrong number of arguments"):
        keel(config="replicaof 127.0.0.1\n")


def test_config_rewrite_is_stable(keel):
    s = keel(config=REWRITE_CONF)
    r = s.client(decode_responses=True)
    r.config_set("maxmemory-policy", "volatile-ttl")
    assert r.execute_command("CONFIG", "REWRITE") == "OK"
    first = read_conf(s)
    assert r.execute_command("CONFIG", "REWRITE") == "OK"
    assert read_conf(s) == first
    assert first.count("# Generated by CONFIG REWRITE") == 1
    assert len(directive_lines(first, "maxmemory-policy")) == 1
    r.close()


def test_config_rewrite_collapses_duplicates(keel):
    s = keel(config="hz 20\n# keep me\nhz 30\nsave 900 1\nhz 40\nsave 60 5\n")
    r = s.client(decode_responses=True)
    assert r.config_get("hz") == {"hz": "40"}
    assert r.execute_command("CONFIG", "REWRITE") == "OK"
    text = read_conf(s)
    lines = text.splitlines()
    # the second save line added its points to the first's (Redis 7)
    assert r.config_get("save") == {"save": "900 1 60 5"}
    assert lines[:4] == ["hz 40", "# keep me", "save 900 1 60 5", "# Generated by CONFIG REWRITE"]
    assert len(directive_lines(text, "hz")) == 1
    assert len(directive_lines(text, "save")) == 1
    r.close()


def test_config_rewrite_quotes_values(keel):
    s = keel(config="# quoting\nrequirepass \"old pass\"\nenable-protected-configs local\n")
    r = s.client(password="old pass", decode_responses=True)
    odd = 'my "dump" \\ file\t.rdb'
    r.config_set("dbfilename", odd)
    r.config_set("masterauth", "it's a secret")
    r.config_set("requirepass", "new pass word")
    r.config_set("save", "")
    assert r.execute_command("CONFIG", "REWRITE") == "OK"
    text = read_conf(s)
    assert 'requirepass "new pass word"' in text.splitlines()
    assert 'save ""' in text.splitlines()
    r.close()

    s2 = keel(config=text)
    with pytest.raises(redis.AuthenticationError):
        s2.client().ping()
    r2 = s2.client(password="new pass word", decode_responses=True)
    assert r2.config_get("dbfilename") == {"dbfilename": odd}
    assert r2.config_get("masterauth") == {"masterauth": "it's a secret"}
    assert r2.config_get("save") == {"save": ""}
    r2.close()


def test_config_rewrite_without_config_file(r):
    with pytest.raises(redis.ResponseError, match="^The server is running without a config file$"):
        r.execute_command("CONFIG", "REWRITE")


def test_config_rewrite_from_scratch_when_file_gone(keel):
    s = keel(config="hz 20\n")
    r = s.client(decode_responses=True)
    os.unlink(conf_path(s))
    r.config_set("hz", "25")
    assert r.execute_command("CONFIG", "REWRITE") == "OK"
    assert "hz 25" in read_conf(s).splitlines()
    r.close()


def test_config_rewrite_failure_keeps_old_file(keel):
    s = keel(config=REWRITE_CONF)
    r = s.client(decode_responses=True)
    r.config_set("hz", "44")
    # A read-only directory; root ignores modes, so also try the immutable flag.
    locked = []
    os.chmod(s.dir, 0o555)
    probe = os.path.join(s.dir, "probe")
    try:
        try:
            open(probe, "w").close()
            os.unlink(probe)
            if subprocess.run(["chattr", "+i", s.dir], capture_output=True).returncode == 0:
                locked.append(s.dir)
            open(probe, "w").close()
            os.unlink(probe)
            pytest.skip("cannot make a directory read-only here")
        except PermissionError:
            pass
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("CONFIG", "REWRITE")
        assert str(e.value) in ("Rewriting config file: Permission denied",
                                "Rewriting config file: Operation not permitted")
        assert read_conf(s) == REWRITE_CONF
        assert not [f for f in os.listdir(s.dir) if ".rewrite-" in f]
    finally:
        for d in locked:
            subprocess.run(["chattr", "-i", d], capture_output=True)
        os.chmod(s.dir, 0o755)
    # once writable again the rewrite succeeds
    assert r.execute_command("CONFIG", "REWRITE") == "OK"
    assert "hz 44" in read_conf(s).splitlines()
    r.close()


def test_debian_default_redis_conf_starts_keel(keel, tmp_path):
    """A user moving from Redis keeps their redis.conf: Debian's default one
    starts Keel (only the port, the directory, the log and daemonizing are
    changed, as the harness needs)."""
    src = "/etc/redis/redis.conf"
    if not os.path.exists(src):
        pytest.skip("no /etc/redis/redis.conf (redis-server not installed)")
    lines = []
    for line in open(src).read().splitlines():
        name = line.split(" ", 1)[0]
        if name in ("port", "dir", "logfile", "pidfile", "daemonize", "supervised", "unixsocket"):
            continue
        lines.append(line)
    s = keel(config="\n".join(lines) + "\n")
    r = s.client(decode_responses=True)
    assert r.ping()
    for name, value in (("aof-use-rdb-preamble", "yes"), ("activerehashing", "yes"), ("replica-priority", "100"),
                        ("no-appendfsync-on-rewrite", "no"), ("rdb-save-incremental-fsync", "yes")):
        assert r.config_get(name) == {name: value}
    for name in ("aof-use-rdb-preamble", "aof-timestamp-enabled"):
        for value in ("no", "yes"):
            assert r.config_set(name, value) is True
            assert r.config_get(name) == {name: value}
        assert "argument must be 'yes' or 'no'" in err(r.config_set, name, "maybe")
    assert r.config_set("no-appendfsync-on-rewrite", "yes") is True


def test_sanitize_dump_payload_is_accepted_and_payloads_are_always_checked(r):
    """Redis's three values are accepted and read back; Keel checks every
    RESTORE payload in full whatever the setting (Redis's "yes")."""
    from test_dump import with_crc
    for v in ("no", "yes", "clients"):
        assert r.config_set("sanitize-dump-payload", v) is True
        assert r.config_get("sanitize-dump-payload") == {"sanitize-dump-payload": v}
    with pytest.raises(redis.ResponseError):
        r.config_set("sanitize-dump-payload", "sometimes")
    r.config_set("sanitize-dump-payload", "no")
    # An intset out of order under a valid checksum: only a deep check sees it.
    unsorted = with_crc(b"\x0b\x0c" + b"\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00" + b"\x0a\x00")
    with pytest.raises(redis.ResponseError) as e:
        r.restore("sdp:bad", 0, unsorted)
    assert str(e.value) == "Bad data format"
    assert r.exists("sdp:bad") == 0


# ---- CONFIG GET / SET as Redis 7.0 answers them (each test also passes
# against Debian's redis-server with KEEL_SERVER=/usr/bin/redis-server,
# except those marked keel_only)

IS_REDIS = os.path.basename(SERVER).startswith("redis")
keel_only = pytest.mark.skipif(IS_REDIS, reason="Keel-only: a deliberate difference from Redis 7.0")


def set_err(r, name, value):
    """The reason CONFIG SET name value fails with (after Redis's prefix)."""
    msg = err(r.config_set, name, value)
    prefix = "CONFIG SET failed (possibly related to argument '%s') - " % name
    assert msg.startswith(prefix), msg
    return msg[len(prefix):]


@pytest.fixture
def cfg(rs):
    """rs, with every parameter a test sets put back to its value before."""
    before = rs.config_get("*")
    yield rs
    for name, value in rs.config_get("*").items():
        if value != before[name]:
            rs.config_set(name, before[name])


def test_config_get_glob_skips_hidden_debug_params(cfg):
    assert "rdb-key-save-delay" not in cfg.config_get("*")
    assert cfg.config_get("rdb-key-save-del?") == {}
    assert cfg.config_get("rdb-key-save-delay") == {"rdb-key-save-delay": "0"}
    assert cfg.config_get("RDB-KEY-SAVE-DELAY") == {"RDB-KEY-SAVE-DELAY": "0"}


def test_config_get_echoes_an_exact_name_as_typed(cfg):
    assert cfg.config_get("HZ") == {"HZ": "10"}
    assert cfg.config_get("H?") == {"hz": "10"}
    assert cfg.config_get("SLAVE-READ-ONLY") == {"SLAVE-READ-ONLY": "yes"}
    assert cfg.config_get("SLAVE-READ-*") == {"slave-read-only": "yes"}
    # a name reached twice answers once, spelled as first asked
    assert cfg.execute_command("CONFIG", "GET", "HZ", "hz", "h?") == ["HZ", "10"]
    assert cfg.execute_command("CONFIG", "GET", "h?", "HZ") == ["hz", "10"]


@pytest.mark.parametrize("classes,shown", [("En", "nE"), ("Kn", "nK"), ("gznsK", "gsznK"), ("KEA", "AKE"),
                                           ("Ex$lsmhz", "$lshzxEm"), ("", "")])
def test_notify_keyspace_events_canonical_order(cfg, classes, shown):
    assert cfg.config_set("notify-keyspace-events", classes) is True
    assert cfg.config_get("notify-keyspace-events") == {"notify-keyspace-events": shown}


@keel_only
def test_notify_keyspace_events_all_with_new_keeps_n(cfg):
    # Redis 7.0 prints "AKEm" here though new-key events stay on (a bug).
    assert cfg.config_set("notify-keyspace-events", "KEAnm") is True
    assert cfg.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AnKEm"}


@pytest.mark.parametrize("name,choices", [
    ("appendfsync", "everysec, always, no"),
    ("acl-pubsub-default", "allchannels, resetchannels"),
    # (Redis 8.6's allkeys-lrm and volatile-lrm are accepted, not listed: the text stays 7.0's)
    ("maxmemory-policy", "volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, "
                         "allkeys-random, noeviction"),
    ("loglevel", "debug, verbose, notice, warning"),
    ("oom-score-adj", "no, yes, relative, absolute"),
    ("repl-diskless-load", "disabled, on-empty-db, swapdb"),
    ("sanitize-dump-payload", "no, yes, clients"),
    ("cluster-preferred-endpoint-type", "ip, hostname, unknown-endpoint"),
    ("propagation-error-behavior", "ignore, panic, panic-on-replicas"),
])
def test_enum_errors_list_choices_in_redis_order(cfg, name, choices):
    assert set_err(cfg, name, "nosuch") == "argument(s) must be one of the following: " + choices


@keel_only
def test_loglevel_nothing_is_a_deliberate_superset(cfg):
    # Redis 7.2's level; the error text above stays Redis 7.0's.
    assert cfg.config_set("loglevel", "nothing") is True
    assert cfg.config_get("loglevel") == {"loglevel": "nothing"}


@pytest.mark.parametrize("name,value,shown", [("appendfsync", "Always", "always"),
                                              ("repl-diskless-load", "SWAPDB", "swapdb"),
                                              ("sanitize-dump-payload", "Clients", "clients"),
                                              ("maxmemory-policy", "ALLKEYS-LRU", "allkeys-lru"),
                                              ("oom-score-adj", "relative", "yes"),
                                              ("oom-score-adj", "Relative", "yes")])
def test_enum_values_read_back_canonical(cfg, name, value, shown):
    assert cfg.config_set(name, value) is True
    assert cfg.config_get(name) == {name: shown}


@pytest.mark.parametrize("name", ["maxmemory", "maxmemory-clients", "auto-aof-rewrite-min-size",
                                  "cluster-link-sendbuf-limit", "hll-sparse-max-bytes", "stream-node-max-bytes",
                                  "hash-max-listpack-value", "zset-max-ziplist-value"])
def test_memory_param_empty_is_zero(cfg, name):
    assert cfg.config_set(name, "") is True
    assert cfg.config_get(name) == {name: "0"}


@pytest.mark.parametrize("name,low", [("proto-max-bulk-len", 1048576), ("client-query-buffer-limit", 1048576),
                                      ("active-defrag-ignore-bytes", 1), ("repl-backlog-size", 1)])
def test_memory_param_empty_or_huge_out_of_range(cfg, name, low):
    for value in ("", "99999999999999999999"):
        assert set_err(cfg, name, value) == "argument must be between %d and 9223372036854775807 inclusive" % low


def test_memory_param_huge_values_as_redis(cfg):
    # unsigned in Redis: a number past 2^64-1 saturates
    for name in ("maxmemory", "cluster-link-sendbuf-limit"):
        assert cfg.config_set(name, "99999999999999999999") is True
        assert cfg.config_get(name) == {name: "18446744073709551615"}
        cfg.config_set(name, "0")
    assert set_err(cfg, "hll-sparse-max-bytes", "99999999999999999999") == \
        "argument must be between 0 and 9223372036854775807 inclusive"


@pytest.mark.parametrize("name", ["hash-max-listpack-value", "hash-max-ziplist-value", "zset-max-listpack-value",
                                  "zset-max-ziplist-value"])
def test_listpack_value_params_are_memory_values(cfg, name):
    for value, shown in (("1k", "1000"), ("1kb", "1024"), ("2MB", "2097152"), ("1G", "1000000000"), ("5b", "5")):
        assert cfg.config_set(name, value) is True
        assert cfg.config_get(name) == {name: shown}
    for value in ("abc", "-1", "1.5"):
        assert set_err(cfg, name, value) == "argument must be a memory value"


def test_integer_ranges_as_redis(cfg):
    assert cfg.config_set("maxmemory-samples", "100") is True
    assert cfg.config_get("maxmemory-samples") == {"maxmemory-samples": "100"}
    assert set_err(cfg, "maxmemory-samples", "0") == "argument must be between 1 and 2147483647 inclusive"
    assert cfg.config_set("maxclients", "4294967295") is True
    assert cfg.config_get("maxclients") == {"maxclients": "4294967295"}
    assert set_err(cfg, "maxclients", "0") == "argument must be between 1 and 4294967295 inclusive"
    cfg.config_set("maxclients", "10000")
    assert cfg.config_set("list-max-listpack-size", "-2147483648") is True
    assert cfg.config_get("list-max-ziplist-size") == {"list-max-ziplist-size": "-2147483648"}
    assert set_err(cfg, "list-max-listpack-size", "2147483648") == \
        "argument must be between -2147483648 and 2147483647 inclusive"


def test_list_size_below_minus_5_acts_as_minus_5(cfg):
    assert cfg.config_set("list-max-listpack-size", "-100") is True
    cfg.delete("l")
    cfg.rpush("l", *["x" * 100] * 2000)
    assert cfg.llen("l") == 2000
    assert cfg.lrange("l", 1000, 1000) == ["x" * 100]


def test_maxmemory_samples_beyond_the_old_cap_still_evicts(cfg):
    cfg.config_set("maxmemory-samples", "1000")
    cfg.config_set("maxmemory-policy", "allkeys-lru")
    for i in range(2000):
        cfg.set("k%d" % i, "v" * 100)
    used = cfg.info("memory")["used_memory"]
    cfg.config_set("maxmemory", str(used - 50 * 1024))
    cfg.set("one-more", "v")
    assert cfg.dbsize() < 2000
    cfg.config_set("maxmemory", "0")


@pytest.mark.parametrize("value", ["1", "100", "1k", "5b"])
def test_repl_backlog_size_has_a_floor_of_16384(cfg, value):
    assert cfg.config_set("repl-backlog-size", value) is True
    assert cfg.config_get("repl-backlog-size") == {"repl-backlog-size": "16384"}


@pytest.mark.parametrize("name,value", [("rdbchecksum", "no"), ("rdbchecksum", "maybe"), ("socket-mark-id", "1")])
def test_immutable_as_in_redis_7_0(cfg, name, value):
    assert set_err(cfg, name, value) == "can't set immutable config"


@pytest.mark.parametrize("value,reason", [
    ("foo 1 2 3", "Invalid client class specified in buffer limit configuration."),
    ("master 1 2 3", "Invalid client class specified in buffer limit configuration."),
    ("pubsub 1 2", "Wrong number of arguments in buffer limit configuration."),
    ("pubsub  1 2 3", "Wrong number of arguments in buffer limit configuration."),
    ("abc", "Wrong number of arguments in buffer limit configuration."),
    ("pubsub -1 0 0", "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("pubsub 1 2 3 normal x 0 0", "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("pubsub 1mb 1mb 1.5", "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
])
def test_client_output_buffer_limit_errors(cfg, value, reason):
    assert set_err(cfg, "client-output-buffer-limit", value) == reason


def test_client_output_buffer_limit_empty_changes_nothing(cfg):
    before = cfg.config_get("client-output-buffer-limit")
    assert cfg.config_set("client-output-buffer-limit", "") is True
    assert cfg.config_get("client-output-buffer-limit") == before
    assert cfg.config_set("client-output-buffer-limit", "PUBSUB 1mb 512kb 30") is True
    assert cfg.config_get("client-output-buffer-limit")["client-output-buffer-limit"].endswith(
        "pubsub 1048576 524288 30")


def test_cluster_announce_hostname_is_checked(cfg):
    assert set_err(cfg, "cluster-announce-hostname", "a b") == \
        "Hostnames may only contain alphanumeric characters, hyphens or dots"
    assert set_err(cfg, "cluster-announce-hostname", "a" * 256) == "Hostnames must be less than 256 characters"
    assert cfg.config_set("cluster-announce-hostname", "node-1.example.COM") is True
    assert cfg.config_get("cluster-announce-hostname") == {"cluster-announce-hostname": "node-1.example.COM"}


def test_oom_score_adj_values_are_checked(cfg):
    for value in ("1 2", "abc", "", "1 2 3 4"):
        assert set_err(cfg, "oom-score-adj-values", value) == "wrong number of arguments"
    for value in ("a b c", "0 200 2001", "-2001 0 0", "1 2 99999999999999999999"):
        assert set_err(cfg, "oom-score-adj-values", value) == \
            "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
    assert cfg.config_set("oom-score-adj-values", "+5 -0 007") is True
    assert cfg.config_get("oom-score-adj-values") == {"oom-score-adj-values": "5 0 7"}


@pytest.mark.parametrize("template,ok", [
    ("{title} {listen-addr} {server-mode}", True), ("{title} {port}", True), ("{tls-port}", True),
    ("{listen-addr}", True), ("x}", True), ("{{", True), ("{title}", False), ("{server-mode}", False),
    ("{nosuch}", False), ("{TITLE}", False), ("{}", False), ("x{", False), ("{title", False), ("", False),
    (" ", False)])
def test_proc_title_template_is_checked(cfg, template, ok):
    if ok:
        assert cfg.config_set("proc-title-template", template) is True
    else:
        assert set_err(cfg, "proc-title-template", template) == \
            "template format is invalid or contains unknown variables"


@pytest.mark.parametrize("value,reason", [
    ("101", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
    ("-1 50", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
    ("inf", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
    ("a", "Invalid latency-tracking-info-percentiles parameters"),
    ("50  99", "Invalid latency-tracking-info-percentiles parameters"),
    ("nan", "Invalid latency-tracking-info-percentiles parameters"),
])
def test_latency_percentiles_errors(cfg, value, reason):
    assert set_err(cfg, "latency-tracking-info-percentiles", value) == reason


def test_latency_percentiles_read_back_as_redis(cfg):
    name = "latency-tracking-info-percentiles"
    many = " ".join(str(i) for i in range(1, 21))
    for value, shown in (("99.99999999 0.0000001 1e1 .5", "100 0 10 0.5"), (many, many), ("", "")):
        assert cfg.config_set(name, value) is True
        assert cfg.config_get(name) == {name: shown}


def test_config_set_odd_arguments_is_a_syntax_error(cfg):
    assert err(cfg.execute_command, "CONFIG", "SET", "hz", "10", "maxmemory") == "syntax error"
    assert "wrong number of arguments" in err(cfg.execute_command, "CONFIG", "SET", "hz")


def test_config_help_as_redis(cfg):
    lines = cfg.execute_command("CONFIG", "HELP")
    assert lines[0] == "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert lines[-2:] == ["HELP", "    Prints this help."]
    assert len(lines) == 11


@pytest.mark.parametrize("args,conf,want", [
    ((), "", "3600 1 300 100 60 10000"),
    (("--save", "100", "100"), "", "100 100"),
    ((), "save 900 1\n", "900 1"),
    (("--save", "100", "100"), "save 900 1\n", "900 1 100 100"),
    (("--save", ""), "save 900 1\n", ""),
    (("--save", "5", "5"), "save 900 1\nsave \"\"\nsave 7 7\n", "7 7 5 5"),
], ids=["default", "args", "file", "file+args", "reset", "reset-then-add"])
def test_save_directives_accumulate(keel, args, conf, want):
    """The first save directive replaces the defaults, later ones (file or
    command line) add their points, save "" clears them (Redis 7)."""
    r = keel(*args, config=conf or None).client(decode_responses=True)
    assert r.config_get("save") == {"save": want}
    r.close()


def test_config_set_port_and_bind_move_the_listener(keel):
    """CONFIG SET port and bind reopen the listeners (Redis 7); connections
    already open stay; a port or address that cannot be had is refused and
    the old listener kept."""
    s = keel()
    r = s.client(decode_responses=True)
    new = free_port()
    assert r.config_set("port", new)
    assert r.ping()  # this connection stays
    assert r.config_get("port") == {"port": str(new)}
    r2 = redis.Redis(port=new, decode_responses=True)
    assert r2.ping()
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=s.port, socket_connect_timeout=1).ping()
    # taken: refused, the listener stays where it was
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    with pytest.raises(redis.ResponseError, match="Unable to listen on this port"):
        r2.config_set("port", taken.getsockname()[1])
    taken.close()
    assert redis.Redis(port=new).ping()
    # bind: an address this host lacks is refused
    assert r2.config_set("bind", "127.0.0.1 -::1")
    assert r2.config_get("bind") == {"bind": "127.0.0.1 -::1"}
    with pytest.raises(redis.ResponseError, match="Failed to bind to specified addresses"):
        r2.config_set("bind", "192.0.2.99")
    assert r2.config_get("bind") == {"bind": "127.0.0.1 -::1"}
    assert redis.Redis(port=new).ping()
    with pytest.raises(redis.ResponseError, match="argument must be between 0 and 65535"):
        r2.config_set("port", 70000)
    s.port = new  # so the fixture can stop it
    r.close()
    r2.close()


def test_binary_password_in_a_config_file(keel):
    """requirepass "a\\x00b" in a file keeps the NUL, and CONFIG REWRITE
    writes it back the same way."""
    s = keel(config='requirepass "a\\x00b"\n')
    c = redis.Redis(port=s.port)
    with pytest.raises(redis.ResponseError, match="WRONGPASS"):
        c.execute_command("AUTH", "a")
    assert c.execute_command("AUTH", b"a\x00b") is True
    assert c.execute_command("CONFIG", "GET", "requirepass") == [b"requirepass", b"a\x00b"]
    assert c.execute_command("CONFIG", "REWRITE") in (True, b"OK")
    assert 'requirepass "a\\x00b"' in read_conf(s)
    c.close()


def test_config_set_rollback_restores_save_exactly(r):
    """A CONFIG SET that fails puts save back as it was: the accumulation
    of save lines belongs to config files and the command line only."""
    before = r.config_get("save")["save"]
    with pytest.raises(redis.ResponseError):
        r.execute_command("CONFIG", "SET", "save", "100 1", "maxmemory-policy", "bogus")
    assert r.config_get("save")["save"] == before
    assert r.config_set("save", "200 2")
    assert r.config_get("save")["save"] == "200 2"
    r.config_set("save", before)
