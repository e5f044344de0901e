"""Server and connection commands: limits (maxclients, timeout), CLIENT,
AUTH/SELECT/QUIT/RESET/ECHO/PING/TIME/LASTSAVE, COMMAND, INFO, CONFIG,
DEBUG, SHUTDOWN and signals, the command line, redis-cli/redis-benchmark
compatibility, and docs/COMMANDS.md staying in step with the table."""
import os
import re
import signal
import subprocess
import time

import pytest
import redis

from conftest import ROOT, SERVER, err, free_port
from test_protocol import Conn, Err


def err_text(excinfo):
    """redis-py drops a leading "ERR "; other codes stay in the text."""
    return str(excinfo.value)


# ---- connection limits ----


def test_maxclients(keel):
    s = keel("--maxclients", "2")
    time.sleep(0.2)  # let the harness's start-up probe connection go away
    a, b = Conn(s), Conn(s)
    assert a.cmd("PING") == "PONG"
    assert b.cmd("PING") == "PONG"
    c = Conn(s)
    assert c.read() == "ERR max number of clients reached"
    assert c.closed()
    c.close()
    assert int(dict(l.split(":", 1) for l in a.cmd("INFO", "stats").decode().split("\r\n")
                    if ":" in l)["rejected_connections"]) == 1
    # a slot frees up when a client leaves
    b.cmd("QUIT")
    b.close()
    time.sleep(0.1)
    d = Conn(s)
    assert d.cmd("PING") == "PONG"
    assert a.cmd("CONFIG", "GET", "maxclients") == [b"maxclients", b"2"]
    a.close()
    d.close()


def test_idle_timeout_closes_idle_clients(keel):
    s = keel("--timeout", "1")
    idle, busy = Conn(s), Conn(s)
    assert idle.cmd("PING") == "PONG"
    deadline = time.time() + 2.5
    while time.time() < deadline:
        assert busy.cmd("PING") == "PONG"
        time.sleep(0.2)
    assert idle.closed(timeout=2)
    assert busy.cmd("PING") == "PONG"
    idle.close()
    busy.close()


# ---- CLIENT ----


def client_fields(line):
    return dict(kv.split("=", 1) for kv in line.strip().split(" "))


def test_client_id_setname_getname(r):
    cid = r.client_id()
    assert isinstance(cid, int) and cid > 0
    assert r.execute_command("CLIENT", "GETNAME") is None
    assert r.client_setname("conn-1") is True
    assert r.execute_command("CLIENT", "GETNAME") == b"conn-1"
    for bad in ("a b", "a\nb"):
        with pytest.raises(redis.ResponseError) as e:
            r.client_setname(bad)
        assert err_text(e) == "Client names cannot contain spaces, newlines or special characters."
    assert r.execute_command("CLIENT", "SETNAME", "") == b"OK"  # empty clears the name
    assert r.execute_command("CLIENT", "GETNAME") is None


def test_client_subcommand_errors(r):
    cases = [
        (("CLIENT", "ID", "x"), "wrong number of arguments for 'client|id' command"),
        (("CLIENT", "GETNAME", "x"), "wrong number of arguments for 'client|getname' command"),
        (("CLIENT", "SETNAME"), "wrong number of arguments for 'client|setname' command"),
        (("CLIENT", "KILL"), "wrong number of arguments for 'client|kill' command"),
        (("CLIENT", "INFO", "x"), "wrong number of arguments for 'client|info' command"),
        (("CLIENT", "NO-EVICT"), "wrong number of arguments for 'client|no-evict' command"),
        (("CLIENT", "foo"), "unknown subcommand 'foo'. Try CLIENT HELP."),
        (("CLIENT", "NO-EVICT", "maybe"), "syntax error"),
        (("CLIENT", "LIST", "TYPE", "foo"), "Unknown client type 'foo'"),
        (("CLIENT", "LIST", "ID", "abc"), "Invalid client ID"),
        (("CLIENT", "LIST", "foo"), "syntax error"),
    ]
    for args, msg in cases:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert err_text(e) == msg, args
    assert r.execute_command("CLIENT", "HELP")[0].startswith(b"CLIENT <subcommand>")


def test_client_list_and_info(server, r):
    r.client_setname("lister")
    r.execute_command("SELECT", "3")
    other = server.client()
    other.ping()
    info = r.execute_command("CLIENT", "INFO").decode()
    assert info.endswith("\n")
    f = client_fields(info)
    for key in ("id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "multi",
                "qbuf", "qbuf-free", "obl", "oll", "omem", "tot-mem", "events", "cmd", "user", "resp"):
        assert key in f, key
    assert f["name"] == "lister" and f["db"] == "3" and f["cmd"] == "client|info" and f["flags"] == "N"
    # the query buffer still holds the command being run, as in Redis
    assert f["qbuf"] == str(len(b"*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n"))
    assert f["id"] == str(r.client_id())
    assert re.match(r"127\.0\.0\.1:\d+$", f["addr"])
    assert f["laddr"] == "127.0.0.1:%d" % server.port
    lines = r.execute_command("CLIENT", "LIST").decode().strip().split("\n")
    ids = {client_fields(l)["id"] for l in lines}
    assert str(r.client_id()) in ids and str(other.client_id()) in ids
    only = r.execute_command("CLIENT", "LIST", "ID", str(other.client_id())).decode().strip().split("\n")
    assert len(only) == 1 and client_fields(only[0])["id"] == str(other.client_id())
    assert r.execute_command("CLIENT", "LIST", "ID", "0") == b""
    typed = r.execute_command("CLIENT", "LIST", "TYPE", "normal").decode().strip().split("\n")
    assert len(typed) == len(lines)
    assert r.execute_command("CLIENT", "LIST", "TYPE", "pubsub") == b""
    other.close()


def test_client_setinfo_and_no_evict(r):
    assert r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "mylib") == b"OK"
    assert r.execute_command("CLIENT", "SETINFO", "lib-ver", "1.2.3") == b"OK"
    f = client_fields(r.execute_command("CLIENT", "INFO").decode())
    assert f["lib-name"] == "mylib" and f["lib-ver"] == "1.2.3"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CLIENT", "SETINFO", "lib-name", "a b")
    assert err_text(e) == "lib-name cannot contain spaces, newlines or special characters."
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CLIENT", "SETINFO", "foo", "bar")
    assert err_text(e) == "Unrecognized option 'foo'"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CLIENT", "SETINFO", "lib-name")
    assert err_text(e) == "wrong number of arguments for 'client|setinfo' command"
    assert r.execute_command("CLIENT", "NO-EVICT", "on") == b"OK"
    assert "e" in client_fields(r.execute_command("CLIENT", "INFO").decode())["flags"]
    assert r.execute_command("CLIENT", "NO-EVICT", "OFF") == b"OK"
    assert client_fields(r.execute_command("CLIENT", "INFO").decode())["flags"] == "N"


def test_client_kill_forms(server, r):
    def victim():
        c = Conn(server)
        c.cmd("PING")
        return c, client_fields(c.cmd("CLIENT", "INFO").decode())

    # old form: CLIENT KILL addr:port
    c, f = victim()
    assert r.execute_command("CLIENT", "KILL", f["addr"]) == b"OK"
    assert c.closed()
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CLIENT", "KILL", "1.2.3.4:5")
    assert err_text(e) == "No such client"
    # ID
    c, f = victim()
    assert r.execute_command("CLIENT", "KILL", "ID", f["id"]) == 1
    assert c.closed()
    assert r.execute_command("CLIENT", "KILL", "ID", "999999") == 0
    # ADDR and LADDR (skipping the caller by default)
    c, f = victim()
    assert r.execute_command("CLIENT", "KILL", "ADDR", f["addr"]) == 1
    assert c.closed()
    c, f = victim()
    killed = r.execute_command("CLIENT", "KILL", "LADDR", f["laddr"])
    assert killed >= 1 and c.closed()
    assert r.ping()  # SKIPME yes by default
    # TYPE and USER
    c, f = victim()
    assert r.execute_command("CLIENT", "KILL", "TYPE", "normal") >= 1
    assert c.closed() and r.ping()
    c, f = victim()
    assert r.execute_command("CLIENT", "KILL", "USER", "default", "ID", f["id"]) == 1
    assert c.closed()
    # MAXAGE: only clients older than the age
    c, f = victim()
    assert r.execute_command("CLIENT", "KILL", "ID", f["id"], "MAXAGE", "1000") == 0
    assert not c.closed(timeout=0.2)
    c.close()
    # SKIPME no kills the caller too, after its reply
    me = Conn(server)
    my = client_fields(me.cmd("CLIENT", "INFO").decode())
    assert me.cmd("CLIENT", "KILL", "ID", my["id"], "SKIPME", "no") == 1
    assert me.closed()
    errors = [
        (("CLIENT", "KILL", "ID", "0"), "client-id should be greater than 0"),
        (("CLIENT", "KILL", "ID", "abc"), "client-id should be greater than 0"),
        (("CLIENT", "KILL", "TYPE", "bad"), "Unknown client type 'bad'"),
        (("CLIENT", "KILL", "USER", "bob"), "No such user 'bob'"),
        (("CLIENT", "KILL", "SKIPME", "maybe"), "syntax error"),
        (("CLIENT", "KILL", "ID", "1", "SKIPME"), "syntax error"),
        (("CLIENT", "KILL", "FOO", "bar"), "syntax error"),
    ]
    for args, msg in errors:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert err_text(e) == msg, args


# ---- AUTH, SELECT, QUIT, RESET, ECHO, PING, TIME, LASTSAVE ----


def test_auth_errors(r):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("AUTH", "pw")
    assert err_text(e) == ("AUTH <password> called without any password configured for the default user. "
                           "Are you sure your configuration is correct?")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("AUTH", "someone", "pw")
    assert err_text(e) == "WRONGPASS invalid username-password pair or user is disabled."


def test_select(server, r):
    r.set("k", "db0")
    c = Conn(server)
    assert c.cmd("SELECT", "15") == "OK"
    assert c.cmd("GET", "k") is None
    assert c.cmd("SET", "k", "db15") == "OK"
    assert c.cmd("SELECT", "0") == "OK"
    assert c.cmd("GET", "k") == b"db0"
    c.close()
    for bad, msg in (("16", "DB index is out of range"), ("-1", "DB index is out of range"),
                     ("x", "value is not an integer or out of range"),
                     ("1.5", "value is not an integer or out of range")):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("SELECT", bad)
        assert err_text(e) == msg
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SELECT")
    assert err_text(e) == "wrong number of arguments for 'select' command"


def test_quit(server, r):
    c = Conn(server)
    c.send(b"QUIT\r\nPING\r\n")
    assert c.read() == "OK"
    assert c.closed()  # nothing after QUIT runs
    c.close()


def test_reset(server, r):
    c = Conn(server)
    c.cmd("HELLO", "3")
    c.cmd("SELECT", "5")
    c.cmd("CLIENT", "SETNAME", "x")
    c.cmd("CLIENT", "NO-EVICT", "on")
    assert c.cmd("RESET") == "RESET"
    f = client_fields(c.cmd("CLIENT", "INFO").decode())
    assert f["db"] == "0" and f["name"] == "" and f["resp"] == "2" and f["flags"] == "N"
    assert c.cmd("GET", "nosuch") is None  # RESP2 again
    c.close()


def test_reset_deauthenticates(keel):
    s = keel("--requirepass", "pw")
    c = Conn(s)
    assert c.cmd("AUTH", "pw") == "OK"
    assert c.cmd("RESET") == "RESET"
    assert c.cmd("PING") == "NOAUTH Authentication required."
    c.close()


def test_echo_ping(server, r):
    assert r.echo("hello") == b"hello"
    assert r.echo(b"\x00bin\xff") == b"\x00bin\xff"
    assert r.ping() is True
    c = Conn(server)
    assert c.cmd("PING", "msg") == b"msg"
    c.close()
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("PING", "a", "b")
    assert err_text(e) == "wrong number of arguments for 'ping' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("ECHO")
    assert err_text(e) == "wrong number of arguments for 'echo' command"
    c = Conn(server)
    c.cmd("HELLO", "3")
    assert c.cmd("PING") == "PONG"
    assert c.cmd("PING", "x") == b"x"
    c.close()


def test_time_and_lastsave(server, r):
    c = Conn(server)
    sec, usec = c.cmd("TIME")
    assert abs(int(sec) - time.time()) < 5 and 0 <= int(usec) < 1000000
    assert r.time()[0] > 1600000000
    assert abs(c.cmd("LASTSAVE") - time.time()) < 3600 * 24
    c.close()
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("TIME", "x")
    assert err_text(e) == "wrong number of arguments for 'time' command"


# ---- unknown commands and arity ----


def test_unknown_command_and_arity_texts(server, r):
    c = Conn(server)
    assert c.cmd("foo", "a", "b") == "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
    assert c.cmd("foo") == "ERR unknown command 'foo', with args beginning with: "
    long = "x" * 200
    reply = c.cmd("foo", long, "b")
    assert reply == "ERR unknown command 'foo', with args beginning with: '%s' " % ("x" * 128)
    reply = c.cmd("foo", "y" * 100, "z" * 100, "w")
    assert reply == "ERR unknown command 'foo', with args beginning with: '%s' '%s' " % ("y" * 100, "z" * 25)
    assert c.cmd("GET") == "ERR wrong number of arguments for 'get' command"
    assert c.cmd("GeT", "a", "b") == "ERR wrong number of arguments for 'get' command"
    assert c.cmd("SET", "k") == "ERR wrong number of arguments for 'set' command"
    c.close()


# ---- COMMAND ----


def keys_of(r, *args):
    return [k if isinstance(k, bytes) else k.encode() for k in r.execute_command("COMMAND GETKEYS", *args)]


def test_command_introspection(r):
    count = r.execute_command("COMMAND COUNT")
    listed = [n.decode() for n in r.execute_command("COMMAND LIST")]
    # COMMAND LIST names subcommands too ("config|get"); COUNT does not.
    names = [n for n in listed if "|" not in n]
    assert count == len(names) and len(set(listed)) == len(listed)
    for must in ("config|get", "client|list", "object|encoding", "xinfo|stream"):
        assert must in listed
    for must in ("get", "set", "ping", "client", "config", "command", "info", "debug"):
        assert must in names
    everything = r.execute_command("COMMAND")
    assert len(everything) == count
    get = r.execute_command("COMMAND INFO", "get", "nosuchcmd", "SET")
    assert get[1] is None
    assert get[0][:6] == [b"get", 2, [b"readonly", b"fast"], 1, 1, 1]
    assert get[2][0] == b"set" and get[2][1] == -3
    assert b"@read" in get[0][6]
    mset = r.execute_command("COMMAND INFO", "mset")[0]
    assert mset[1] == -3 and mset[3:6] == [1, -1, 2]
    assert r.execute_command("COMMAND LIST FILTERBY PATTERN", "g*") and all(
        n.startswith(b"g") for n in r.execute_command("COMMAND LIST FILTERBY PATTERN", "g*"))
    docs = r.execute_command("COMMAND DOCS", "get", "nosuchcmd")
    assert docs[0] == b"get" and len(docs) == 2
    doc = dict(zip(docs[1][::2], docs[1][1::2]))
    assert doc[b"group"] == b"string" and doc[b"summary"]
    assert len(r.execute_command("COMMAND DOCS")) == 2 * count
    # Subcommands are entries of their own: nested in their container's
    # COMMAND INFO and DOCS, and reachable by full name.
    config = r.execute_command("COMMAND INFO", "config")[0]
    subs = {s[0]: s for s in config[9]}
    assert subs[b"config|get"][:6] == [b"config|get", -3, [b"admin", b"noscript", b"loading", b"stale"], 0, 0, 0]
    assert r.execute_command("COMMAND INFO", "config|set")[0][1] == -4
    assert r.execute_command("COMMAND INFO", "object|encoding")[0][3:6] == [2, 2, 1]
    assert r.execute_command("COMMAND INFO", "config|nope") == [None]
    cdoc = dict(zip(*[iter(r.execute_command("COMMAND DOCS", "config")[1])] * 2))
    assert b"config|get" in dict(zip(*[iter(cdoc[b"subcommands"])] * 2))
    assert keys_of(r, "OBJECT", "ENCODING", "k") == [b"k"]
    assert set(r.execute_command("COMMAND LIST FILTERBY ACLCAT", "hyperloglog")) == \
        {b"pfadd", b"pfcount", b"pfmerge", b"pfdebug", b"pfselftest"}
    assert r.execute_command("COMMAND LIST FILTERBY ACLCAT", "@hyperloglog") == []
    def keys(*args):
        return [k if isinstance(k, bytes) else k.encode() for k in r.execute_command("COMMAND GETKEYS", *args)]

    assert keys("SET", "a", "b") == [b"a"]
    assert keys("MSET", "a", "1", "b", "2") == [b"a", b"b"]
    assert keys("DEL", "x", "y", "z") == [b"x", b"y", b"z"]
    errors = [
        (("COMMAND GETKEYS", "nosuch", "a"), "Invalid command specified"),
        (("COMMAND GETKEYS", "ping", "x"), "The command has no key arguments"),
        (("COMMAND GETKEYS", "get", "a", "b"), "Invalid number of arguments specified for command"),
        (("COMMAND GETKEYS",), "wrong number of arguments for 'command|getkeys' command"),
        (("COMMAND COUNT", "x"), "wrong number of arguments for 'command|count' command"),
        (("COMMAND", "foo"), "unknown subcommand 'foo'. Try COMMAND HELP."),
        (("COMMAND LIST", "FILTERBY", "foo", "bar"), "syntax error"),
    ]
    for args, msg in errors:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert err_text(e) == msg, args
    assert r.execute_command("COMMAND HELP")[0].startswith(b"COMMAND <subcommand>")


@pytest.mark.parametrize("args,want", [
    ("EVAL x 2 a b c", [b"a", b"b"]), ("EVAL x 0", []), ("EVAL x 5 a", []), ("EVALSHA_RO x 1 a", [b"a"]),
    ("FCALL f 1 k", [b"k"]), ("FCALL_RO f 0", []),
    ("ZUNIONSTORE d 2 a b", [b"d", b"a", b"b"]), ("ZINTERSTORE d 1 a", [b"d", b"a"]),
    ("ZDIFFSTORE d 2 a b WEIGHTS 1 2", [b"d", b"a", b"b"]), ("ZUNION 2 a b", [b"a", b"b"]),
    ("ZINTERCARD 1 a LIMIT 2", [b"a"]), ("SINTERCARD 2 a b", [b"a", b"b"]),
    ("LMPOP 2 a b LEFT", [b"a", b"b"]), ("BLMPOP 0 2 a b LEFT", [b"a", b"b"]), ("ZMPOP 1 z MAX", [b"z"]),
    ("BZMPOP 1 1 z MIN", [b"z"]), ("XREAD COUNT 2 STREAMS s1 s2 0 0", [b"s1", b"s2"]),
    ("XREADGROUP GROUP g c STREAMS s 0", [b"s"]), ("SORT k BY w GET x STORE d", [b"k", b"d"]),
])
def test_command_getkeys_of_movable_key_commands(r, args, want):
    """Keys after a count or a STREAMS keyword come from the same finders the
    ACL checks use; script commands may have none (Redis's
    no_mandatory_keys), the others must have some."""
    assert keys_of(r, *args.split()) == want


def test_command_getkeys_bad_counts(r):
    for args in ("ZUNIONSTORE d 3 a b", "ZUNIONSTORE d 0 a", "ZUNION 5 a", "LMPOP 3 a LEFT"):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("COMMAND GETKEYS", *args.split())
        assert err_text(e) == "Invalid arguments specified for command", args
    assert b"no_mandatory_keys" in r.execute_command("COMMAND INFO", "eval")[0][2]
    assert b"no_mandatory_keys" not in r.execute_command("COMMAND INFO", "zunion")[0][2]


# ---- subcommand arity: one check, in dispatch, from the SUB lines ----

SUB_ARITY_LINES = [
    ("OBJECT", "ENCODING"), ("OBJECT", "HELP", "x"), ("FUNCTION", "DELETE"), ("FUNCTION", "DUMP", "x"),
    ("FUNCTION", "RESTORE"), ("FUNCTION", "STATS", "x"), ("FUNCTION", "KILL", "x"), ("FUNCTION", "HELP", "x"),
    ("FUNCTION", "LOAD"), ("SCRIPT", "LOAD"), ("SCRIPT", "EXISTS"), ("SCRIPT", "KILL", "x"), ("SCRIPT", "HELP", "x"),
    ("CLIENT", "UNBLOCK"), ("CLIENT", "PAUSE"), ("CLIENT", "UNPAUSE", "x"), ("CLIENT", "TRACKING"),
    ("CLIENT", "CACHING"), ("CLIENT", "GETREDIR", "x"), ("CLIENT", "TRACKINGINFO", "x"), ("MEMORY", "USAGE"),
    ("MEMORY", "STATS", "x"), ("MEMORY", "DOCTOR", "x"), ("MEMORY", "PURGE", "x"), ("MEMORY", "HELP", "x"),
    ("PUBSUB", "NUMPAT", "x"), ("PUBSUB", "HELP", "x"), ("XGROUP", "DESTROY", "s"), ("XGROUP", "CREATE", "s", "g"),
    ("XGROUP", "CREATECONSUMER", "s", "g"), ("XINFO", "GROUPS"), ("XINFO", "CONSUMERS", "s"),
    ("SLOWLOG", "LEN", "x"), ("SLOWLOG", "RESET", "x"), ("LATENCY", "HISTORY"), ("LATENCY", "GRAPH"),
    ("LATENCY", "LATEST", "x"), ("LATENCY", "HELP", "x"),
]


def error_of(client, *args):
    try:
        client.execute_command(*args)
    except redis.ResponseError as e:
        return str(e)
    return None


@pytest.mark.parametrize("args", SUB_ARITY_LINES, ids=lambda a: " ".join(a))
def test_subcommand_arity_errors_match_redis(r, redis_ref, args):
    """A subcommand's arity is checked once, before its container's handler
    runs, with Redis's text naming it ("object|encoding")."""
    mine = error_of(r, *args)
    assert mine == error_of(redis_ref, *args)
    assert mine == "wrong number of arguments for '%s|%s' command" % (args[0].lower(), args[1].lower())


SUB_SYNTAX_LINES = [
    ("FUNCTION", "FLUSH", "a", "b"), ("FUNCTION", "RESTORE", "a", "b", "c"), ("CLIENT", "PAUSE", "1", "WRITE", "x"),
    ("SLOWLOG", "GET", "1", "2"), ("PUBSUB", "CHANNELS", "a", "b"), ("XINFO", "STREAM", "s", "x"),
]


@pytest.mark.parametrize("args", SUB_SYNTAX_LINES, ids=lambda a: " ".join(a))
def test_subcommand_extra_arguments_answer_as_redis(r, redis_ref, args):
    """Counts a subcommand checks itself beyond its arity get Redis's
    "unknown subcommand or wrong number of arguments for 'x'. Try C HELP."."""
    r.delete("s")
    r.xadd("s", {"f": "v"})
    redis_ref.delete("s")
    redis_ref.xadd("s", {"f": "v"})
    mine = error_of(r, *args)
    assert mine == error_of(redis_ref, *args)
    assert mine == "unknown subcommand or wrong number of arguments for '%s'. Try %s HELP." % (args[1], args[0])


def test_script_flush_extra_arguments(r, redis_ref):
    for server in (r, redis_ref):
        assert error_of(server, "SCRIPT", "FLUSH", "a", "b") == "SCRIPT FLUSH only support SYNC|ASYNC option"


def test_subcommand_arity_in_scripts(r):
    """Scripts get the same check (lua.c), with the script error text."""
    for args in (("object", "encoding"), ("xgroup", "destroy", "s"), ("memory", "stats", "x")):
        script = "return redis.pcall(%s)" % ", ".join("'%s'" % a for a in args)
        with pytest.raises(redis.ResponseError) as e:
            r.eval(script, 0)
        assert "Wrong number of args calling Redis command from script" in str(e.value), args


# ---- INFO ----


def info_raw(r, *sections):
    """INFO's text as the server sent it."""
    return r.execute_command("INFO " + " ".join(sections) if sections else "INFO ")


def info_dict(text):
    out = {}
    for line in text.split("\r\n"):
        if line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def test_info_sections_and_fields(r):
    r.set("a", "1")
    r.set("b", "2", ex=100)
    r.get("a")
    r.get("missing")
    text = info_raw(r).decode()
    headers = re.findall(r"^# (\w+)", text, re.M)
    for h in ("Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Keyspace"):
        assert h in headers, h
    assert "Commandstats" not in headers
    f = info_dict(text)
    for key in ("redis_version", "redis_mode", "os", "arch_bits", "process_id", "run_id", "tcp_port",
                "uptime_in_seconds", "hz", "connected_clients", "maxclients", "blocked_clients",
                "used_memory", "used_memory_human", "used_memory_rss", "used_memory_peak",
                "used_memory_peak_human", "mem_fragmentation_ratio", "maxmemory", "maxmemory_policy",
                "mem_allocator", "total_connections_received", "total_commands_processed",
                "keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys", "rejected_connections",
                "total_net_input_bytes", "role", "used_cpu_sys", "rdb_changes_since_last_save"):
        assert key in f, key
    used, rss, peak = int(f["used_memory"]), int(f["used_memory_rss"]), int(f["used_memory_peak"])
    assert 100 * 1024 < used < 512 * 1024 * 1024
    assert rss > 0 and peak >= used
    assert re.match(r"^\d+(\.\d+)?[BKMGT]$", f["used_memory_human"])
    ratio = float(f["mem_fragmentation_ratio"])
    assert 0 < ratio < 1000
    assert f["role"] == "master" and f["redis_mode"] == "standalone"
    assert int(f["process_id"]) > 0 and len(f["run_id"]) == 40
    assert f["db0"] == "keys=2,expires=1,avg_ttl=%s" % f["db0"].split("avg_ttl=")[1]
    assert int(f["keyspace_hits"]) >= 1 and int(f["keyspace_misses"]) >= 1
    # one section, several sections, case-insensitive; unknown is empty
    clients = info_raw(r, "CLIENTS").decode()
    assert clients.startswith("# Clients\r\n") and "# Server" not in clients
    two = info_raw(r, "server", "keyspace").decode()
    assert re.findall(r"^# (\w+)", two, re.M) == ["Server", "Keyspace"]
    assert info_raw(r, "nosuchsection") == b""
    stats = info_raw(r, "commandstats").decode()
    assert stats.startswith("# Commandstats\r\n")
    m = re.search(r"cmdstat_set:calls=(\d+),usec=\d+,usec_per_call=[\d.]+,rejected_calls=\d+,failed_calls=\d+",
                  stats)
    assert m and int(m.group(1)) >= 2
    assert "# Commandstats" in info_raw(r, "all").decode()
    assert "# Commandstats" in info_raw(r, "everything").decode()


def test_info_commandstats_failed_and_rejected(r):
    r.config_resetstat()
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET")
    with pytest.raises(redis.ResponseError):
        r.execute_command("CONFIG", "SET", "hz", "abc")
    stats = info_raw(r, "commandstats").decode()
    assert re.search(r"cmdstat_get:calls=0,.*rejected_calls=1,failed_calls=0", stats)
    # CONFIG RESETSTAT itself counts after the reset, as in Redis; a
    # container's calls are counted per subcommand
    assert re.search(r"cmdstat_config\|resetstat:calls=1,.*rejected_calls=0,failed_calls=0", stats)
    assert re.search(r"cmdstat_config\|set:calls=1,.*rejected_calls=0,failed_calls=1", stats)
    assert "cmdstat_config:" not in stats


def test_info_commandstats_per_subcommand(r):
    r.config_resetstat()
    r.client_setname("stats")
    r.client_setname("again")
    assert r.client_getname() == "again"
    r.config_get("hz")
    assert r.command_count() > 100
    r.object("encoding", "nokey")
    # Made-up subcommand names are refused and never get lines of their
    # own, however many there are (the table stays bounded).
    for i in range(50):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("CLIENT", "bogus%d" % i)
        assert err_text(e) == "unknown subcommand 'bogus%d'. Try CLIENT HELP." % i
    stats = r.info("commandstats")
    assert stats["cmdstat_client|setname"]["calls"] == 2
    assert stats["cmdstat_client|getname"]["calls"] == 1
    assert stats["cmdstat_config|get"]["calls"] == 1
    assert stats["cmdstat_command|count"]["calls"] == 1
    assert stats["cmdstat_object|encoding"]["calls"] == 1
    assert not [k for k in stats if "bogus" in k]
    assert "cmdstat_client" not in stats  # unknown subcommands are errors, not calls (as in Redis)
    assert int(re.search(r"errorstat_ERR:count=(\d+)", info_raw(r, "errorstats").decode()).group(1)) >= 50
    # Mixed case counts under one lower-case name; a failed call counts as failed.
    r.execute_command("client", "SetName", "x")
    with pytest.raises(redis.ResponseError):
        r.execute_command("CLIENT", "SETNAME", "has space")
    st = r.info("commandstats")["cmdstat_client|setname"]
    assert st["calls"] == 4 and st["failed_calls"] == 1
    r.config_resetstat()
    assert "cmdstat_client|setname" not in r.info("commandstats")


# ---- CONFIG ----


def test_config_get_globs(r):
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    # a name without glob characters is echoed as typed, as Redis does
    assert r.config_get("MAXMEMORY") == {"MAXMEMORY": "0"}
    mm = r.config_get("maxmemory*")
    assert set(mm) >= {"maxmemory", "maxmemory-policy", "maxmemory-samples"}
    assert all(k.startswith("maxmemory") for k in mm)
    assert r.config_get("nosuchparam") == {}
    two = r.execute_command("CONFIG", "GET", "hz", "timeout")
    assert dict(zip(two[::2], two[1::2])) == {b"hz": b"10", b"timeout": b"0"}
    everything = r.config_get("*")
    assert len(everything) > 40
    for k in ("port", "bind", "maxclients", "timeout", "databases", "save", "appendonly", "dir",
              "requirepass", "proto-max-bulk-len", "client-query-buffer-limit", "client-output-buffer-limit",
              "notify-keyspace-events", "enable-debug-command", "hash-max-listpack-entries",
              "hash-max-ziplist-entries"):
        assert k in everything, k
    assert everything["databases"] == "16"
    assert r.config_get("?z") == {"hz": "10"}
    assert set(r.config_get("[hp]*rt")) == {"port"}


def test_config_set_several_pairs_atomically(r):
    assert r.execute_command("CONFIG", "SET", "maxmemory", "10mb", "timeout", "30") == b"OK"
    assert r.config_get("maxmemory") == {"maxmemory": "10485760"}
    assert r.config_get("timeout") == {"timeout": "30"}
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "SET", "maxmemory", "20mb", "timeout", "40", "hz", "abc")
    assert err_text(e) == ("CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be "
                           "parsed into an integer")
    # nothing changed
    assert r.config_get("maxmemory") == {"maxmemory": "10485760"}
    assert r.config_get("timeout") == {"timeout": "30"}
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "SET", "maxmemory", "20mb", "nosuch", "1")
    assert err_text(e) == "Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    assert r.config_get("maxmemory") == {"maxmemory": "10485760"}
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "SET", "hz", "5", "HZ", "6")
    assert err_text(e) == "CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "SET", "maxmemory")
    assert err_text(e) == "wrong number of arguments for 'config|set' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "SET", "maxmemory", "1mb", "hz")
    assert err_text(e) == "syntax error"
    r.execute_command("CONFIG", "SET", "maxmemory", "0", "timeout", "0")


def test_config_set_values_and_errors(r):
    errors = [
        (("maxmemory", "1xb"), "argument must be a memory value"),
        (("maxclients", "abc"), "argument couldn't be parsed into an integer"),
        (("maxclients", "0"), "argument must be between 1 and 4294967295 inclusive"),
        (("appendonly", "maybe"), "argument must be 'yes' or 'no'"),
        (("loglevel", "loud"),
         "argument(s) must be one of the following: debug, verbose, notice, warning"),
        (("notify-keyspace-events", "Z"), "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
    ]
    for (name, val), msg in errors:
        with pytest.raises(redis.ResponseError) as e:
            r.config_set(name, val)
        assert err_text(e) == "CONFIG SET failed (possibly related to argument '%s') - %s" % (name, msg)
    r.config_set("maxmemory", "1gb")
    assert r.config_get("maxmemory") == {"maxmemory": "1073741824"}
    r.config_set("maxmemory", "0")
    r.config_set("notify-keyspace-events", "KEA")
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
    r.config_set("notify-keyspace-events", "")
    # hz is clamped to 1..500 as Redis does
    r.config_set("hz", "0")
    assert r.config_get("hz") == {"hz": "1"}
    r.config_set("hz", "100000")
    assert r.config_get("hz") == {"hz": "500"}
    r.config_set("hz", "10")
    # aliases read and write the same value
    r.config_set("hash-max-ziplist-entries", "77")
    assert r.config_get("hash-max-listpack-entries") == {"hash-max-listpack-entries": "77"}
    r.config_set("hash-max-listpack-entries", "128")


def test_config_immutable(r):
    for name, val in (("daemonize", "yes"), ("databases", "3"), ("tcp-backlog", "100"),
                      ("enable-debug-command", "yes"), ("unixsocket", "/tmp/x.sock")):
        with pytest.raises(redis.ResponseError) as e:
            r.config_set(name, val)
        assert err_text(e) == ("CONFIG SET failed (possibly related to argument '%s') - can't set immutable "
                               "config" % name)
    assert r.config_get("databases") == {"databases": "16"}


def test_config_resetstat_and_misc(r):
    r.set("x", "1")
    r.get("x")
    r.get("nope")
    assert r.config_resetstat() is True
    stats = r.info("stats")
    assert stats["keyspace_hits"] == 0 and stats["keyspace_misses"] == 0
    assert stats["total_commands_processed"] <= 2
    assert info_raw(r, "commandstats").decode().count("cmdstat_") <= 2
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "RESETSTAT", "x")
    assert err_text(e) == "wrong number of arguments for 'config|resetstat' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "GET")
    assert err_text(e) == "wrong number of arguments for 'config|get' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "foo")
    assert err_text(e) == "unknown subcommand 'foo'. Try CONFIG HELP."
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "REWRITE")
    assert err_text(e) == "The server is running without a config file"
    assert r.execute_command("CONFIG", "HELP")[0].startswith(b"CONFIG <subcommand>")


def test_config_resetstat_zeroes_lazyfreed_objects(r):
    r.sadd("lazy:big", *range(5000))
    assert r.unlink("lazy:big") == 1
    deadline = time.time() + 5
    while r.info("memory")["lazyfree_pending_objects"] and time.time() < deadline:
        time.sleep(0.01)
    assert r.info("memory")["lazyfreed_objects"] >= 1
    assert r.config_resetstat() is True
    assert r.info("memory")["lazyfreed_objects"] == 0


def test_lazyfreed_objects_counts_the_keys_of_a_flushed_db(r):
    """FLUSHDB ASYNC adds the db's key count, as Redis counts it."""
    r.select(9)
    try:
        r.mset({"lazy:%d" % i: i for i in range(2000)})
        assert r.config_resetstat() is True
        assert r.flushdb(asynchronous=True) is True
        deadline = time.time() + 5
        while r.info("memory")["lazyfreed_objects"] < 2000 and time.time() < deadline:
            time.sleep(0.01)
        assert r.info("memory")["lazyfreed_objects"] == 2000
    finally:
        r.select(0)


def test_a_command_of_many_arguments_leaves_no_big_arrays(server, r):
    """After one SADD of 100,000 members (unlinked again) the connection
    keeps no argument arrays of that size: memory goes back near where it
    was, as in Redis's lazyfree test."""
    c = server.client()
    c.ping()
    before = r.info("memory")["used_memory"]
    assert c.sadd("many", *range(100_000)) == 100_000
    assert c.unlink("many") == 1
    deadline = time.time() + 5
    while r.info("memory")["used_memory"] > before + 400_000 and time.time() < deadline:
        time.sleep(0.05)
    assert r.info("memory")["used_memory"] < before + 400_000
    tot = int(c.client_info()["tot-mem"])
    assert tot < 200_000, tot
    c.close()


# ---- DEBUG ----


def test_debug_commands(r):
    start = time.time()
    assert r.execute_command("DEBUG", "SLEEP", "0.2") == b"OK"
    assert time.time() - start >= 0.19
    assert r.execute_command("DEBUG", "SLEEP", "0") == b"OK"
    r.set("k", "hello")
    obj = r.execute_command("DEBUG", "OBJECT", "k").decode()
    assert re.match(r"Value at:0x[0-9a-f]+ refcount:1 encoding:\w+ serializedlength:\d+ lru:\d+ "
                    r"lru_seconds_idle:\d+$", obj), obj
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("DEBUG", "OBJECT", "nosuch")
    assert err_text(e) == "no such key"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("DEBUG", "foo")
    assert err_text(e) == "unknown subcommand or wrong number of arguments for 'foo'. Try DEBUG HELP."


def test_debug_pause_cron_holds_sigterm_until_shutdown_abort(keel):
    """DEBUG PAUSE-CRON 1 stops the periodic work, so a SIGTERM waits;
    SHUTDOWN ABORT cancels it, as in Redis's own test."""
    s = keel("--enable-debug-command", "yes")
    c = s.client()
    assert c.execute_command("DEBUG", "PAUSE-CRON", "1") == b"OK"
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert s.proc.poll() is None
    assert c.execute_command("SHUTDOWN", "ABORT") in (True, b"OK")
    assert c.execute_command("DEBUG", "PAUSE-CRON", "0") == b"OK"
    time.sleep(0.3)
    assert c.ping() is True
    assert "Shutdown manually aborted" in s.log_text()
    with pytest.raises(redis.ResponseError, match="No shutdown in progress"):
        c.execute_command("SHUTDOWN", "ABORT")
    c.shutdown(nosave=True)  # redis-py takes the closed connection as done
    s.proc.wait(10)


def start_logged(tmp_path):
    """A server writing its log to tmp_path/server.log, and a client."""
    port = free_port()
    log = tmp_path / "server.log"
    proc = subprocess.Popen([SERVER, "--port", str(port), "--dir", str(tmp_path), "--enable-debug-command", "yes",
                             "--save", "", "--logfile", str(log)])
    c = redis.Redis(port=port, socket_timeout=5)
    deadline = time.time() + 10
    while True:
        try:
            c.ping()
            return proc, c, log
        except redis.ConnectionError:
            assert time.time() < deadline
            time.sleep(0.02)


@pytest.mark.skipif(SERVER.endswith(("-san", "-tsan", "redis-server")),
                    reason="sanitizer builds keep their own crash reports; Redis's report differs")
@pytest.mark.parametrize("how", ["DEBUG SEGFAULT", "SIGABRT"])
def test_a_fatal_signal_writes_a_crash_report(tmp_path, how):
    """A fatal signal leaves Redis's kind of bug report in the log (the
    signal, the command running, the stack trace with Keel's functions by
    name), then the process dies of that signal as it would have."""
    proc, c, log = start_logged(tmp_path)
    try:
        if how == "SIGABRT":
            proc.send_signal(signal.SIGABRT)
            want = signal.SIGABRT
        else:
            with pytest.raises(redis.ConnectionError):
                c.execute_command("DEBUG", "SEGFAULT")
            want = signal.SIGSEGV
        assert proc.wait(10) == -want
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    assert "=== KEEL BUG REPORT START" in text
    assert "crashed by signal: %d" % want in text
    assert "------ STACK TRACE ------" in text
    stack = text.split("STACK TRACE")[1]
    assert "keel-server(main+0x" in stack  # frames named from the symbol table
    if how == "DEBUG SEGFAULT":
        assert "Running command: debug" in text
        assert "keel-server(dispatch_call+0x" in stack  # the command's caller
    assert "=== KEEL BUG REPORT END" in text


@pytest.mark.skipif(SERVER.endswith(("-san", "-tsan")), reason="sanitizer builds keep their own crash reports")
@pytest.mark.parametrize("how", ["PANIC", "ASSERT", "SEGFAULT"])
def test_use_exit_on_panic_ends_a_panic_with_exit_1(tmp_path, how):
    """Redis's hidden test knob: a panic or a failed assertion (DEBUG PANIC,
    DEBUG ASSERT) logs its report, then exits with status 1 instead of
    aborting; a fatal signal (DEBUG SEGFAULT) still ends with the signal."""
    proc, c, log = start_logged(tmp_path)
    try:
        assert "use-exit-on-panic" not in c.config_get("*")
        assert c.config_get("use-exit-on-panic") == {"use-exit-on-panic": "no"}
        assert c.config_set("use-exit-on-panic", "yes") is True
        with pytest.raises(redis.ConnectionError):
            c.execute_command("DEBUG", how)
        assert proc.wait(10) == (-signal.SIGSEGV if how == "SEGFAULT" else 1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    want = {"PANIC": "DEBUG PANIC called at Unix time", "ASSERT": "1 == 2", "SEGFAULT": "crashed by signal"}[how]
    assert want in text


def test_debug_log_writes_to_the_log(tmp_path):
    proc, c, log = start_logged(tmp_path)
    try:
        assert c.execute_command("DEBUG", "LOG", "marker 42") == b"OK"
        assert "DEBUG LOG: marker 42" in log.read_text()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(SERVER.endswith("-tsan"), reason="TSan reports calls made inside signal handlers")
def test_watchdog_logs_the_stack_of_a_blocked_main_thread(tmp_path):
    """watchdog-period (Redis's software watchdog): a main thread away from
    its event loop for longer than the period logs where it is, and goes
    on. The period is raised to two cron ticks at least; 0 turns it off. The
    config is hidden from CONFIG GET patterns, as in Redis."""
    proc, c, log = start_logged(tmp_path)
    try:
        assert c.config_get("*").get("watchdog-period") is None
        assert c.config_get("watchdog-period") == {"watchdog-period": "0"}
        with pytest.raises(redis.ResponseError, match="argument must be between 0 and 2147483647 inclusive"):
            c.config_set("watchdog-period", -1)
        assert c.config_set("watchdog-period", 200)
        start = time.monotonic()
        assert c.execute_command("DEBUG", "SLEEP", "1") == b"OK"
        if not SERVER.endswith("redis-server"):  # Redis's sleep ends at the signal
            assert time.monotonic() - start >= 0.95
        assert c.ping()
        text = log.read_text(errors="replace")
        # (a loaded machine may also hold the loop back past a period)
        assert text.count("--- WATCHDOG TIMER EXPIRED ---") >= 1
        want = "debugCommand" if SERVER.endswith("redis-server") else "(cmd_debug+0x"
        assert any(want in t for t in text.split("--- WATCHDOG TIMER EXPIRED ---")[1:])
        assert c.config_set("watchdog-period", 0)
        fired = log.read_text(errors="replace").count("--- WATCHDOG TIMER EXPIRED ---")
        c.execute_command("DEBUG", "SLEEP", "0.5")
        assert log.read_text(errors="replace").count("--- WATCHDOG TIMER EXPIRED ---") == fired
    finally:
        proc.kill()
        proc.wait()


def test_watchdog_reports_a_busy_script_that_serves_events(tmp_path):
    """A script past busy-reply-threshold serves events (other clients get
    -BUSY) from deep inside the script, and the cron with them; the server
    is held all the same, so the watchdog still reports it, as in Redis
    (only the event loop's own turns re-arm it)."""
    proc, c, log = start_logged(tmp_path)
    try:
        c.config_set("busy-reply-threshold", 50)
        c.config_set("watchdog-period", 200)
        spin = "local t = redis.call('TIME') local e = t[1] * 1e6 + t[2] + 1e6 " \
               "while true do t = redis.call('TIME') if t[1] * 1e6 + t[2] > e then break end end return 1"
        assert c.eval(spin, 0) == 1
        assert c.ping()
        assert log.read_text(errors="replace").count("--- WATCHDOG TIMER EXPIRED ---") >= 1
    finally:
        proc.kill()
        proc.wait()


def test_debug_mallctl(keel):
    """DEBUG MALLCTL / MALLCTL-STR read and set jemalloc's controls, as
    Redis's defrag tests use them; without jemalloc (sanitizer builds)
    every name is unknown."""
    c = keel("--enable-debug-command", "yes").client()
    if not c.info("memory")["mem_allocator"].startswith("jemalloc"):
        assert err(c.execute_command, "DEBUG", "MALLCTL", "arenas.page") == "No such file or directory"
        return
    page = c.execute_command("DEBUG", "MALLCTL", "arenas.page")
    assert isinstance(page, int) and page >= 4096
    assert b"." in c.execute_command("DEBUG", "MALLCTL-STR", "version")
    assert c.execute_command("DEBUG", "MALLCTL-STR", "thread.tcache.flush", "VOID") == b"OK"
    assert c.execute_command("DEBUG", "MALLCTL", "thread.tcache.enabled", 1) == 1  # the old value
    assert err(c.execute_command, "DEBUG", "MALLCTL", "no.such.name") == "No such file or directory"
    assert err(c.execute_command, "DEBUG", "MALLCTL", "arenas.page", 5) == "Operation not permitted"
    assert err(c.execute_command, "DEBUG", "MALLCTL", "arenas.page", "x") == (
        "value is not an integer or out of range")


def test_debug_digest(r):
    empty = r.execute_command("DEBUG", "DIGEST")
    assert empty == b"0" * 40
    r.set("a", "1")
    r.set("b", "2")
    d1 = r.execute_command("DEBUG", "DIGEST")
    assert re.match(rb"^[0-9a-f]{40}$", d1) and d1 != empty
    # order independent: same data written in another order
    r.flushall()
    r.set("b", "2")
    r.set("a", "1")
    assert r.execute_command("DEBUG", "DIGEST") == d1
    r.set("a", "changed")
    assert r.execute_command("DEBUG", "DIGEST") != d1
    va, vnone = r.execute_command("DEBUG", "DIGEST-VALUE", "a", "nosuch")
    assert re.match(rb"^[0-9a-f]{40}$", va) and va != b"0" * 40
    assert vnone == b"0" * 40
    r.set("c", "changed")
    assert r.execute_command("DEBUG", "DIGEST-VALUE", "c") == [va]  # value only, not the key
    assert r.execute_command("DEBUG", "DIGEST-VALUE") == []


def test_debug_set_active_expire(r):
    try:
        assert r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
        r.set("vol", "1", px=50)
        time.sleep(0.4)
        # not actively expired: still counted, until touched
        assert r.info("keyspace").get("db0", {}).get("keys") == 1
        assert r.get("vol") is None
        assert r.dbsize() == 0
        assert r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1") == b"OK"
        r.set("vol", "1", px=50)
        deadline = time.time() + 3
        while time.time() < deadline and r.info("keyspace").get("db0"):
            time.sleep(0.05)
        assert r.info("keyspace").get("db0") is None
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


@pytest.mark.parametrize("how", ["default", "set"])
def test_enable_debug_command_no(keel, how):
    """No by default, as Redis 7.0 (DEBUG can stop or crash the server)."""
    if how == "default":
        # A config naming the option keeps the harness's `local` off.
        s = keel(config="# enable-debug-command is left at its default\n")
    else:
        s = keel("--enable-debug-command", "no")
    r = s.client()
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("DEBUG", "SLEEP", "0")
    assert err_text(e) == (
        "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it "
        "from a local connection, otherwise you need to set this option in the configuration file, and then "
        "restart the server.")
    assert r.config_get("enable-debug-command") == {"enable-debug-command": "no"}
    r.close()


# ---- shutdown, signals, command line ----


def test_shutdown_command(keel):
    s = keel()
    r = s.client()
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SHUTDOWN", "foo")
    assert err_text(e) == "syntax error"
    assert r.ping()
    try:
        r.execute_command("SHUTDOWN", "NOSAVE")
    except redis.ConnectionError:
        pass
    assert s.proc.wait(timeout=10) == 0
    assert "ready to exit" in s.log_text()


def test_sigterm_exits_cleanly(keel):
    s = keel("--pidfile", "keel-test.pid")
    r = s.client()
    r.set("k", "v")
    pidfile = os.path.join(s.dir, "keel-test.pid")
    assert int(open(pidfile).read()) == s.proc.pid
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=10) == 0
    assert not os.path.exists(pidfile)
    s.proc.returncode = 0
    r.close()


def test_version_and_help():
    out = subprocess.run([SERVER, "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    assert re.match(r"Keel server v=\d+\.\d+\.\d+ ", out.stdout)
    assert subprocess.run([SERVER, "-v"], capture_output=True, timeout=10).returncode == 0
    out = subprocess.run([SERVER, "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and "Usage:" in out.stdout + out.stderr
    out = subprocess.run([SERVER, "--port", "0", "extra"], capture_output=True, text=True, timeout=10)
    assert out.returncode != 0


# ---- redis-cli and redis-benchmark work unchanged ----


def have(tool):
    return subprocess.run(["which", tool], capture_output=True).returncode == 0


@pytest.mark.skipif(not have("redis-cli"), reason="redis-cli not installed")
def test_redis_cli(server, r):
    def cli(*args, stdin=None):
        out = subprocess.run(["redis-cli", "-p", str(server.port)] + list(args), input=stdin,
                             capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.decode()

    assert cli("set", "a", "b") == "OK\n"
    assert cli("get", "a") == "b\n"
    assert cli("ping") == "PONG\n"
    assert cli("--no-raw", "get", "nosuch") == "(nil)\n"
    assert "redis_version" in cli("info", "server")
    assert cli("-3", "config", "get", "hz") == "hz\n10\n" or "hz" in cli("-3", "config", "get", "hz")
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\nval:%d\r\n" % (
        len(b"key:%d" % i), i, len(b"val:%d" % i), i) for i in range(5000))
    out = cli("--pipe", stdin=payload)
    assert "errors: 0, replies: 5000" in out
    assert r.dbsize() == 5001
    assert r.get("key:4999") == b"val:4999"


@pytest.mark.skipif(not have("redis-benchmark"), reason="redis-benchmark not installed")
def test_redis_benchmark(server, r):
    out = subprocess.run(["redis-benchmark", "-p", str(server.port), "-q", "-n", "1000", "-t", "set,get"],
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert re.search(r"SET: [\d.]+ requests per second", text), text
    assert re.search(r"GET: [\d.]+ requests per second", text), text


# ---- docs/COMMANDS.md cannot drift ----


def test_commands_md_lists_every_command(r):
    path = os.path.join(ROOT, "docs", "COMMANDS.md")
    with open(path) as f:
        text = f.read()
    documented = set(m.lower() for m in re.findall(r"^\| `([A-Z0-9_.|-]+)` \|", text, re.M))
    names = set(n.decode() for n in r.execute_command("COMMAND LIST"))
    missing = names - documented
    extra = documented - names
    assert not missing, "docs/COMMANDS.md lacks %s: run `make docs`" % sorted(missing)
    assert not extra, "docs/COMMANDS.md lists unknown commands %s: run `make docs`" % sorted(extra)


def test_unix_socket_clients(keel, tmp_path):
    path = str(tmp_path / "keel.sock")
    s = keel("--unixsocket", path, "--unixsocketperm", "700")
    assert oct(os.stat(path).st_mode & 0o777) == "0o700"
    u = redis.Redis(unix_socket_path=path, socket_timeout=5)
    assert u.ping()
    f = client_fields(u.execute_command("CLIENT", "INFO").decode())
    assert "U" in f["flags"] and f["addr"] == path + ":0"
    # DEBUG is allowed from a local (unix) connection under the default "local"
    assert u.execute_command("DEBUG", "SLEEP", "0") == b"OK"
    u.close()
    assert s.client().config_get("unixsocketperm") == {"unixsocketperm": "700"}


def test_info_errorstats_counts_by_code(keel):
    c = keel().client()
    c.set("s", "v")
    for _ in range(2):
        with pytest.raises(redis.ResponseError):
            c.execute_command("NOSUCH")
    c.rpush("l", "a")
    with pytest.raises(redis.ResponseError):
        c.get("l")
    info = c.info("errorstats")
    # redis-py 4.3 leaves a single "count=N" pair as text
    assert str(info["errorstat_ERR"]) in ("count=2", "{'count': 2}")
    assert str(info["errorstat_WRONGTYPE"]) in ("count=1", "{'count': 1}")
    assert "errorstat_ERR" in c.info()  # part of the default sections, as in Redis 7
    assert c.info("stats")["total_error_replies"] == 3
    c.config_resetstat()
    assert c.info("errorstats") == {}


def proc_cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_busy_poll_setting_and_idle_server_sleeps(keel):
    srv = keel("--busy-poll-us", "500")
    r = srv.client()
    assert r.config_get("busy-poll-us") == {"busy-poll-us": "500"}
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("busy-poll-us", "-1")
    assert err_text(e) == ("CONFIG SET failed (possibly related to argument 'busy-poll-us') - argument must be "
                           "between 0 and 10000 inclusive")
    # Back-to-back round trips open the polling window...
    for i in range(3000):
        r.set("k%d" % (i % 10), i)
    # ...and once traffic stops the server goes back to sleeping in the
    # kernel: a second of idleness costs next to no CPU (polling all the
    # time would cost the whole second).
    time.sleep(0.3)
    before = proc_cpu_ticks(srv.proc.pid)
    time.sleep(1.0)
    assert proc_cpu_ticks(srv.proc.pid) - before <= 20
    r.config_set("busy-poll-us", "0")
    assert r.config_get("busy-poll-us") == {"busy-poll-us": "0"}
    for i in range(100):
        assert r.incr("n") == i + 1


@pytest.mark.parametrize("container", ["CLIENT", "CONFIG", "COMMAND", "OBJECT", "PUBSUB", "SCRIPT", "FUNCTION",
                                       "MEMORY"])
def test_container_help(r, container):
    # Redis's shape: a header naming the container, then lines as status
    # replies, HELP itself listed last.
    conn = r.connection_pool.get_connection("_")
    try:
        conn.send_command(container, "HELP")
        lines = conn.read_response()  # raw: redis-py's COMMAND/OBJECT parsers expect other replies
    finally:
        r.connection_pool.release(conn)
    assert isinstance(lines, list) and len(lines) >= 4
    assert all(isinstance(x, bytes) for x in lines)
    assert lines[0].startswith(container.encode() + b" <subcommand>")
    assert lines[-2] == b"HELP"


@pytest.mark.parametrize("argv,name", [
    (["PUBSUB", "HELP", "x"], "pubsub|help"),
    (["PUBSUB", "numpat", "x"], "pubsub|numpat"),
    (["CLIENT", "TrackingInfo", "x"], "client|trackinginfo"),
    (["OBJECT", "help", "x"], "object|help"),
    (["CONFIG", "SET", "hz"], "config|set"),
])
def test_subcommand_arity_errors_name_container_and_subcommand(r, argv, name):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*argv)
    assert err_text(e) == "wrong number of arguments for '%s' command" % name


def test_lolwut_answers_with_the_version(r):
    text = r.execute_command("LOLWUT")
    text = text.decode() if isinstance(text, bytes) else text
    assert re.search(r"(Keel|Redis) ver\. \d+\.\d+\.\d+", text)
    assert r.execute_command("LOLWUT", "VERSION", 5) is not None
    assert err(r.execute_command, "LOLWUT", "VERSION", "x") == "value is not an integer or out of range"


def test_instantaneous_rates_follow_the_load(server):
    """INFO's instantaneous_ops_per_sec and _kbps: the mean rate of the last
    samples (one each 100 ms), as Redis computes them."""
    c = server.client()
    stop = time.time() + 1.5
    while time.time() < stop:
        p = c.pipeline(transaction=False)
        for i in range(200):
            p.set("rate:%d" % i, "x" * 100)
        p.execute()
    st = c.info("stats")
    assert st["instantaneous_ops_per_sec"] > 1000
    assert st["instantaneous_input_kbps"] > 10 and st["instantaneous_output_kbps"] > 1
    time.sleep(2.2)  # 16 samples of an idle server
    assert c.info("stats")["instantaneous_ops_per_sec"] < 50


def test_start_up_banner_follows_always_show_logo(keel):
    """With always-show-logo the log carries a banner with "PID: n" (tools
    that start servers, Redis's own test suite among them, wait for it);
    without it, on a pipe, Redis's one line "Running mode=..., port=...".
    Either way the banner comes before the data loads."""
    s = keel("--always-show-logo", "yes")
    log = s.log_text()
    assert " PID: %d" % s.proc.pid in log
    assert "Port: %d" % s.port in log
    assert "Running mode=" not in log
    assert log.index("PID: %d" % s.proc.pid) < log.index("Ready to accept connections")
    s2 = keel()
    log2 = s2.log_text()
    assert "Running mode=standalone, port=%d." % s2.port in log2
    assert " PID: " not in log2
