"""What a module writes reaches replicas (and the AOF, the same stream) as
Redis 7.0 sends it: read here as a replica reads it, through SYNC.

testmod's commands of its "API coverage: propagation and ACL" section
(tests/modules/testmod.c) do the writing. Every test here passes against
Redis 7.0 too (KEEL_SERVER=/usr/bin/redis-server).

Redis 7.0 behaviour the tests rely on (found by running them on it):
- what a timer callback writes (Replicate, Call with "!") goes out as one
  unit, in MULTI/EXEC when there is more than one command;
- so does what a thread writes between ThreadSafeContextLock and Unlock,
  in the db its detached context selected (SelectDb), where its Calls run;
- a key found expired or evicted: what a module's callback for the
  "expired" / "evicted" event writes goes out before the key's DEL, and
  neither is wrapped in MULTI/EXEC;
- a Call without "!" replicates nothing of the command it runs, but the
  DEL of a key that command found expired still goes out.
"""
import os
import time

import pytest
from conftest import Server
from module_util import build_testmod, build_testmod_acl, err_text, loadmodule, poll, x
from repl_util import Raw, read_rdb_payload
from resp_client import RespConn

BASE = ["--save", "", "--appendonly", "no", "--enable-debug-command", "yes"]


@pytest.fixture(scope="module")
def psrv():
    s = Server(*BASE, *loadmodule(build_testmod()))
    yield s
    s.stop()


@pytest.fixture
def c(psrv):
    conn = RespConn(psrv)
    assert conn.call("FLUSHALL") == "OK"
    yield conn
    conn.call("tm.prop.watch", "off")
    conn.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    conn.call("CONFIG", "SET", "maxmemory", "0")
    conn.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
    conn.call("FLUSHALL")
    conn.close()


class ReplicaView:
    """The primary's replication stream after a SYNC: the snapshot skipped,
    then the commands as they come (PINGs left out, names lowercased)."""

    def __init__(self, server):
        self.raw = Raw(server.port)
        self.raw.send("SYNC")
        read_rdb_payload(self.raw)

    def command(self):
        head = self.raw.line()
        assert head.startswith(b"*"), head
        args = []
        for _ in range(int(head[1:])):
            size = self.raw.line()
            assert size.startswith(b"$"), size
            args.append(self.raw.exact(int(size[1:]) + 2)[:-2].decode())
        args[0] = args[0].lower()
        return args

    def until_end(self):
        """The commands up to the marker `set prop:end 1` (left out)."""
        out = []
        while True:
            cmd = self.command()
            if cmd == ["set", "prop:end", "1"]:
                return out
            if cmd != ["ping"]:
                out.append(cmd)

    def close(self):
        self.raw.close()


@pytest.fixture
def view(psrv, c):
    v = ReplicaView(psrv)
    yield v
    v.close()


def end(c):
    assert c.call("SELECT", "0") == "OK"
    assert c.call("SET", "prop:end", "1") == "OK"


def test_timer_writes_go_out_as_one_unit(c, view):
    assert c.call("tm.prop.timer") == "OK"
    poll(lambda: c.call("GET", "prop:timer-b") == b"1", "the timer ran")
    end(c)
    assert view.until_end() == [
        ["select", "0"],
        ["multi"],
        ["incr", "prop:timer-a"],
        ["incr", "prop:timer-b"],
        ["incr", "prop:timer-c"],
        ["exec"],
    ]


def test_thread_writes_go_out_as_one_unit_in_its_db(c, view):
    assert c.call("tm.prop.thread", "9") == "OK"
    assert c.call("SELECT", "9") == "OK"
    poll(lambda: c.call("GET", "prop:thread-b") == b"1", "the thread's INCR ran in db 9")
    end(c)
    assert view.until_end() == [
        ["select", "9"],
        ["multi"],
        ["incr", "prop:thread-a"],
        ["incr", "prop:thread-b"],
        ["exec"],
        ["select", "0"],
    ]
    assert err_text(x(c, "tm.prop.thread", "-1")) == "ERR invalid db"


def test_active_expiry_event_writes_go_before_the_del(c, view):
    assert c.call("tm.prop.watch", "on") == "OK"
    assert c.call("SET", "prop:x", "1", "PX", "30") == "OK"
    poll(lambda: c.call("GET", "prop:seen") == b"1", "the key expired")
    end(c)
    got = view.until_end()
    assert got[:2] == [["select", "0"], ["set", "prop:x", "1", "PXAT", got[1][-1]]], got
    assert got[2:] == [["incr", "prop:seen"], ["del", "prop:x"]]


def test_eviction_event_writes_go_before_the_del(c, view):
    assert c.call("tm.prop.watch", "on") == "OK"
    assert c.call("SET", "prop:v1", "1", "EX", "100") == "OK"
    assert c.call("SET", "prop:v2", "2", "EX", "100") == "OK"
    assert c.call("CONFIG", "SET", "maxmemory-policy", "volatile-ttl") == "OK"
    assert c.call("CONFIG", "SET", "maxmemory", "1") == "OK"
    poll(lambda: c.call("GET", "prop:seen") == b"2", "both keys evicted")
    assert c.call("CONFIG", "SET", "maxmemory", "0") == "OK"
    end(c)
    got = view.until_end()
    assert [cmd[:3] for cmd in got[:3]] == [["select", "0"], ["set", "prop:v1", "1"], ["set", "prop:v2", "2"]]
    rest = got[3:]
    assert [cmd[0] for cmd in rest] == ["incr", "del", "incr", "del"], rest
    assert sorted(cmd[1] for cmd in rest if cmd[0] == "del") == ["prop:v1", "prop:v2"]


def test_call_without_bang_still_sends_the_del_of_an_expired_key(c, view):
    assert c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == "OK"
    assert c.call("SET", "prop:k", "5", "PX", "20") == "OK"
    time.sleep(0.1)
    assert c.call("tm.prop.quiet", "prop:k") == 1
    end(c)
    got = view.until_end()
    assert got[1][:3] == ["set", "prop:k", "5"], got
    assert got[2:] == [["del", "prop:k"]]
    assert c.call("GET", "prop:k") == b"1"


def acl_log_entry(conn):
    """The newest ACL LOG entry as {field: value} (bytes decoded)."""
    entry = conn.call("ACL", "LOG", "1")[0]
    pairs = dict(zip(entry[::2], entry[1::2]))
    return {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
            for k, v in pairs.items()}


def test_call_checking_acl_logs_its_denials(psrv, c):
    """A Call with "C" that the caller's user may not make is logged in ACL
    LOG: context "module", the key or the command as object."""
    assert c.call("ACL", "LOG", "RESET") == "OK"
    assert c.call("ACL", "SETUSER", "propu", "on", "nopass", "+@all", "-get", "~x", "%R~z") == "OK"
    u = RespConn(psrv)
    try:
        assert u.call("AUTH", "propu", "any") == "OK"
        assert u.call("tm.callwith", "CE", "set", "x", "1") == "OK"
        assert err_text(u.call("tm.callwith", "CE", "set", "z", "1")) == (
            "ERR acl verification failed, can't access at least one of the keys mentioned in the command arguments.")
        e = acl_log_entry(c)
        assert (e["reason"], e["context"], e["object"], e["username"]) == ("key", "module", "z", "propu")
        assert "cmd=tm.callwith" in e["client-info"]
        assert err_text(u.call("tm.callwith", "CE", "get", "x")) == (
            "ERR acl verification failed, can't run this command or subcommand.")
        e = acl_log_entry(c)
        assert (e["reason"], e["context"], e["object"], e["username"]) == ("command", "module", "get", "propu")
        # Without "C" the module's Call is not checked, and nothing is logged.
        assert c.call("ACL", "LOG", "RESET") == "OK"
        assert u.call("tm.callwith", "E", "get", "x") == b"1"
        assert c.call("ACL", "LOG") == []
    finally:
        u.close()
        c.call("ACL", "DELUSER", "propu")
        c.call("ACL", "LOG", "RESET")


# ---------------------------------------------------------------- module parameters
#
# Redis 7.0 behaviour (found by running these on it): a string parameter is
# binary (a NUL kept); a BITFLAGS value without a name of its own is named
# by the registered names in order, each taking bits not named yet; LOADEX
# named a parameter twice takes the last value, and refuses one of a module
# already loaded; a module that registers parameters but never calls
# LoadConfigs is not loaded; CONFIG REWRITE after an unload keeps the
# unloaded module's parameter lines as "# ??? " comments.

LOAD_ERROR = "ERR Error loading the extension. Please check the server logs."


@pytest.fixture
def admin():
    s = Server(*BASE, "--enable-module-command", "yes")
    conn = RespConn(s)
    yield conn
    conn.close()
    s.stop()


def config_get(conn, name):
    reply = conn.call("CONFIG", "GET", name)
    return dict(zip(reply[::2], reply[1::2]))


def test_string_parameter_keeps_a_nul(c):
    assert c.call("CONFIG", "SET", "testmod.str", b"a\x00b") == "OK"
    assert config_get(c, "testmod.str") == {b"testmod.str": b"a\x00b"}
    assert c.call("CONFIG", "SET", "testmod.str", "hello") == "OK"


def test_bitflags_named_in_registration_order(admin):
    assert admin.call("MODULE", "LOAD", build_testmod(), "notype", "propcfg") == "OK"
    assert config_get(admin, "testmod.combo") == {b"testmod.combo": b"a b"}
    assert admin.call("CONFIG", "SET", "testmod.combo", "a b c") == "OK"
    assert config_get(admin, "testmod.combo") == {b"testmod.combo": b"ac b"}
    assert admin.call("CONFIG", "SET", "testmod.combo", "c a") == "OK"
    assert config_get(admin, "testmod.combo") == {b"testmod.combo": b"ac"}


def test_loadex_takes_the_last_of_a_parameter_named_twice(admin):
    assert admin.call("MODULE", "LOADEX", build_testmod(), "CONFIG", "testmod.num", "20", "CONFIG", "testmod.num", "30",
                      "ARGS", "notype") == "OK"
    assert config_get(admin, "testmod.num") == {b"testmod.num": b"30"}


def test_loadex_refuses_a_loaded_modules_parameter(admin):
    assert admin.call("MODULE", "LOAD", build_testmod(), "notype") == "OK"
    other = build_testmod_acl()
    assert err_text(admin.call("MODULE", "LOADEX", other, "CONFIG", "testmod.num", "99")) == LOAD_ERROR
    assert config_get(admin, "testmod.num") == {b"testmod.num": b"10"}
    assert [m[1] for m in admin.call("MODULE", "LIST")] == [b"testmod"]


def test_module_without_loadconfigs_is_not_loaded(admin):
    assert err_text(admin.call("MODULE", "LOAD", build_testmod(), "notype", "propnoloadcfg")) == LOAD_ERROR
    assert admin.call("CONFIG", "GET", "testmod.*") == []
    assert admin.call("MODULE", "LIST") == []


def test_rewrite_after_unload_comments_the_parameters_out():
    s = Server(config="enable-module-command yes\nsave \"\"\nenable-debug-command yes\n")
    try:
        conn = RespConn(s)
        assert conn.call("MODULE", "LOADEX", build_testmod(), "CONFIG", "testmod.num", "20", "ARGS", "notype") == "OK"
        assert conn.call("CONFIG", "REWRITE") == "OK"
        assert conn.call("MODULE", "UNLOAD", "testmod") == "OK"
        assert conn.call("CONFIG", "REWRITE") == "OK"
        conn.close()
        with open(os.path.join(s.dir, "keel.conf")) as f:
            text = f.read()
    finally:
        s.stop()
    assert "# ??? testmod.num 20\n" in text
    assert "loadmodule" not in text
    again = Server(config=text)  # starts: the parameter is only a comment now
    try:
        assert RespConn(again).call("CONFIG", "GET", "testmod.*") == []
    finally:
        again.stop()


def test_info_dict_field_name_made_safe(c):
    """A dict field's name with ':' or '#' (which would break the INFO line)
    has them written as '_', as Redis 7.0 writes it."""
    assert c.call("tm.prop.infounsafe", "on") == "OK"
    try:
        text = c.call("INFO", "testmod_unsafe").decode()
    finally:
        c.call("tm.prop.infounsafe", "off")
    assert "# testmod_unsafe\r\n" in text
    assert "testmod_un_safe_field:value=1\r\n" in text
