"""Redis 7.2's module authentication: RegisterAuthCallback and
BlockClientOnAuth, with tests/modules/testmod_auth.c (see its header
comment for what each password makes its callbacks do).

Redis 7.0 has neither function, so these tests run on Keel only. The
behaviour asserted is Redis 7.2's, from its module API reference and its
tests/unit/moduleapi/moduleauth.tcl:
- callbacks are tried last registered first, across modules, for AUTH
  (AUTH <pass> is user "default") and HELLO ... AUTH; NOT_HANDLED passes
  to the next, and after the last the user's passwords are checked;
- HANDLED with the client authenticated: AUTH replies OK, HELLO goes on
  with SETNAME and its reply; HANDLED without: the error the callback set,
  as addReplyError sends it ("ERR " before it unless it starts with "-"),
  or WRONGPASS; no password check then; INFO commandstats counts it in
  failed_calls;
- the server writes no ACL LOG entry for a module's refusal (the module
  may: ACLAddLogEntryByUserName), only for a failed password;
- a blocking callback (BlockClientOnAuth, then HANDLED) holds the reply
  until the module's thread unblocks it; the reply callback answers as a
  callback does; the client's later commands wait behind it; the command
  is counted once, when it ends, and not at all if the client goes first
  (then no reply callback runs, only free_privdata); AbortBlock is not
  handled (the next callbacks, then the password);
- in MULTI, BlockClientOnAuth replies "ERR Blocking module command called
  from transaction";
- a module with an auth block under way cannot be unloaded ("the module
  has blocked clients"); an unloaded module's callbacks are gone.

Keel's own choices where Redis 7.2's code says nothing a test checks or
behaves oddly:
- Redis 7.2's addAuthErrReply sends nothing when the client has output
  not yet written (its clientHasPendingReplies check, there for the
  error BlockClientOnAuth replied in MULTI); Keel replies every refusal,
  once, and only leaves out the second error in that MULTI case;
- BlockClientOnAuth outside an auth callback (or twice in one) returns
  NULL and replies nothing.
"""
import os
import shutil
import time

import pytest
from conftest import REDIS_BIN, SERVER, Server
from module_util import build_module, err_text, loadmodule, poll, x
from resp_client import RespConn, RespError

ON_REDIS = os.path.realpath(SERVER) == os.path.realpath(REDIS_BIN)
pytestmark = pytest.mark.skipif(ON_REDIS, reason="Redis 7.0 has no RegisterAuthCallback (7.2)")

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "modules", "testmod_auth.c")
BASE = ["--save", "", "--appendonly", "no", "--enable-module-command", "yes"]
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
BLOCKED_ERR = "ERR Error unloading module: the module has blocked clients. Please wait them unblocked and try again"


@pytest.fixture(scope="module")
def so():
    return build_module(SRC)


@pytest.fixture(scope="module")
def so2(so):
    """A second file of the module: it loads as a module of its own."""
    other = os.path.join(os.path.dirname(so), "testmod_auth_two.so")
    if not os.path.exists(other):
        shutil.copy(so, other)
    return other


@pytest.fixture
def srv(so, so2):
    """Module one (name m1, commands m1.*) and module two (m2, m2.*)."""
    s = Server(*BASE, *loadmodule(so, "name", "m1", "prefix", "m1"), *loadmodule(so2, "name", "m2", "prefix", "m2"))
    yield s
    s.stop()


@pytest.fixture
def c(srv):
    conn = RespConn(srv)
    # foo's password is "pwd"; users named after the modules show which
    # callback authenticated (ACL WHOAMI).
    for user in ("foo", "m1", "m2", "m1-b", "m2-b"):
        assert x(conn, "ACL", "SETUSER", user, "on", ">pwd", "~*", "&*", "+@all") == "OK"
    yield conn
    conn.close()


def whoami(conn):
    return x(conn, "ACL", "WHOAMI")


def cmdstat(conn, cmd):
    text = x(conn, "INFO", "commandstats").decode()
    for line in text.split("\r\n"):
        if line.startswith("cmdstat_%s:" % cmd):
            return dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
    return None


def calls(conn, cmd):
    st = cmdstat(conn, cmd)
    return (int(st["calls"]), int(st["failed_calls"])) if st else (0, 0)


def blocked_clients(conn):
    text = x(conn, "INFO", "clients").decode()
    return int(text.split("blocked_clients:")[1].split("\r\n")[0])


def acl_log(conn):
    return [dict(zip(e[::2], e[1::2])) for e in x(conn, "ACL", "LOG")]


# ---------------------------------------------------------------- non-blocking


def test_plain_callback_paths(c):
    assert x(c, "m1.register", "plain") == "OK"
    x(c, "CONFIG", "RESETSTAT")
    # Allow: the callback's user, whatever the password is.
    assert x(c, "AUTH", "foo", "allow") == "OK"
    assert whoami(c) == b"foo"
    # Deny with a message: "ERR " before it, as Redis's addReplyError.
    assert err_text(x(c, "AUTH", "m1", "deny")) == "ERR Auth denied by m1."
    assert whoami(c) == b"foo"  # still who it was
    # A message with its own error code is sent as it is.
    assert err_text(x(c, "AUTH", "m1", "denycode")) == "DENIED by m1"
    # Deny without a message: WRONGPASS, and no password check after it.
    assert x(c, "ACL", "SETUSER", "foo", ">denysilent") == "OK"
    assert err_text(x(c, "AUTH", "foo", "denysilent")) == WRONGPASS
    # Not handled: the password decides.
    assert x(c, "AUTH", "m2", "pwd") == "OK"
    assert whoami(c) == b"m2"
    assert err_text(x(c, "AUTH", "foo", "nomatch")) == WRONGPASS
    assert whoami(c) == b"m2"
    # A user that does not exist: the callback cannot authenticate it.
    assert err_text(x(c, "AUTH", "nosuchuser", "allow")) == WRONGPASS
    assert calls(c, "auth") == (7, 5)


def test_auth_password_form_is_default_user(c, srv):
    assert x(c, "m1.register", "plain") == "OK"
    assert x(c, "ACL", "SETUSER", "default", ">secret") == "OK"
    try:
        other = RespConn(srv)
        assert err_text(x(other, "PING")).startswith("NOAUTH")
        assert err_text(x(other, "AUTH", "deny")) == "ERR Auth denied by m1."
        assert x(other, "AUTH", "allow") == "OK"
        assert whoami(other) == b"default"
        assert x(other, "AUTH", "secret") == "OK"
        other.close()
    finally:
        assert x(c, "ACL", "SETUSER", "default", "nopass") == "OK"


def test_acl_log_refusals(c):
    assert x(c, "m1.register", "plain") == "OK"
    assert x(c, "ACL", "LOG", "RESET") == "OK"
    # A refusal without a log entry of the module's: the server adds none.
    assert err_text(x(c, "AUTH", "foo", "denysilent")) == WRONGPASS
    assert err_text(x(c, "AUTH", "foo", "denycode")) == "DENIED by m1"
    assert acl_log(c) == []
    # The module's own entry (ACLAddLogEntryByUserName).
    assert err_text(x(c, "AUTH", "foo", "deny")) == "ERR Auth denied by m1."
    log = acl_log(c)
    assert len(log) == 1
    assert (log[0][b"username"], log[0][b"context"], log[0][b"reason"], log[0][b"object"]) == (
        b"foo", b"module", b"auth", b"Module Auth")
    assert b"cmd=auth" in log[0][b"client-info"]
    # A failed password: the server's entry, as without modules.
    assert err_text(x(c, "AUTH", "foo", "nomatch")) == WRONGPASS
    log = acl_log(c)
    assert (log[0][b"context"], log[0][b"reason"], log[0][b"object"]) == (b"toplevel", b"auth", b"AUTH")


def test_lifo_order_across_modules(c):
    assert x(c, "m1.register", "plain") == "OK"
    assert x(c, "m2.register", "plain") == "OK"
    # The last registered (m2's) answers first.
    assert x(c, "AUTH", "foo", "who") == "OK"
    assert whoami(c) == b"m2"
    # m2 does not handle m1's password: m1's callback is asked next.
    assert x(c, "AUTH", "foo", "m1:allow") == "OK"
    assert whoami(c) == b"foo"
    assert err_text(x(c, "AUTH", "foo", "m1:deny")) == "ERR Auth denied by m1."
    assert err_text(x(c, "AUTH", "foo", "m2:deny")) == "ERR Auth denied by m2."
    # The first one to decide wins: m2's refusal ends it before m1.
    before = x(c, "m1.stats")[0]
    assert err_text(x(c, "AUTH", "foo", "deny")) == "ERR Auth denied by m2."
    assert x(c, "m1.stats")[0] == before
    # Registered again, m1's callback is now the first.
    assert x(c, "m1.register", "plain") == "OK"
    assert x(c, "AUTH", "foo", "who") == "OK"
    assert whoami(c) == b"m1"


def test_hello_auth(c):
    assert x(c, "m1.register", "plain") == "OK"
    x(c, "CONFIG", "RESETSTAT")
    reply = x(c, "HELLO", "3", "AUTH", "foo", "allow", "SETNAME", "n1")
    assert reply[b"proto"] == 3
    assert whoami(c) == b"foo"
    assert x(c, "CLIENT", "GETNAME") == b"n1"
    # Refused: no SETNAME, no protocol change.
    assert err_text(x(c, "HELLO", "2", "AUTH", "m1", "deny", "SETNAME", "n2")) == "ERR Auth denied by m1."
    assert err_text(x(c, "HELLO", "2", "AUTH", "m1", "denysilent", "SETNAME", "n2")) == WRONGPASS
    assert x(c, "CLIENT", "GETNAME") == b"n1"
    assert whoami(c) == b"foo"
    # RESP3 still: a map.
    assert isinstance(x(c, "HELLO"), dict)
    # Not handled: the password.
    reply = x(c, "HELLO", "2", "AUTH", "m2", "pwd")
    assert dict(zip(reply[::2], reply[1::2]))[b"proto"] == 2
    assert whoami(c) == b"m2"
    assert err_text(x(c, "HELLO", "2", "AUTH", "m2", "nomatch")) == WRONGPASS
    assert calls(c, "hello") == (6, 3)


def test_multi(c):
    assert x(c, "m1.register", "plain") == "OK"
    assert x(c, "m1.register", "block") == "OK"
    assert x(c, "MULTI") == "OK"
    assert x(c, "AUTH", "m2", "allow") == "QUEUED"
    assert x(c, "AUTH", "foo", "block_allow") == "QUEUED"
    reply = x(c, "EXEC")
    assert reply[0] == "OK"
    assert err_text(reply[1]) == "ERR Blocking module command called from transaction"
    assert whoami(c) == b"m2"
    # The handle the thread unblocks later is freed with nothing to answer.
    poll(lambda: x(c, "m1.stats")[3] == 1, "free_privdata")
    assert x(c, "m1.stats")[2] == 0


def test_block_client_on_auth_outside_auth(c):
    assert x(c, "m1.blockoutside") == "NULL"
    assert x(c, "PING") == "PONG"


# ---------------------------------------------------------------- blocking


def timed(conn, *args):
    t = time.time()
    reply = x(conn, *args)
    return reply, time.time() - t


def test_blocking_callback_paths(c):
    assert x(c, "m1.register", "plain") == "OK"
    assert x(c, "m1.register", "block") == "OK"
    x(c, "CONFIG", "RESETSTAT")
    reply, took = timed(c, "AUTH", "m2", "block_allow")
    assert reply == "OK" and took >= 0.19
    assert whoami(c) == b"m2"
    reply, took = timed(c, "AUTH", "foo", "block_deny")
    assert err_text(reply) == "ERR Blocked auth denied by m1." and took >= 0.19
    assert err_text(x(c, "AUTH", "foo", "block_denysilent")) == WRONGPASS
    assert whoami(c) == b"m2"
    # Not handled by the reply callback: m1's plain callback, then the
    # password (foo's is "pwd" and "block_skip" here).
    assert x(c, "ACL", "SETUSER", "foo", ">block_skip") == "OK"
    reply, took = timed(c, "AUTH", "foo", "block_skip")
    assert reply == "OK" and took >= 0.19
    assert whoami(c) == b"foo"
    assert err_text(x(c, "AUTH", "m1", "block_skip")) == WRONGPASS
    # Aborted: not handled either.
    assert err_text(x(c, "AUTH", "m1", "block_abort")) == WRONGPASS
    # Each AUTH counted once, when it ended.
    assert calls(c, "auth") == (6, 4)
    plain, block, replied, freed = x(c, "m1.stats")
    # The aborted block: no reply callback, no private data to free.
    assert (block, replied, freed) == (6, 5, 5)
    # The plain callback (registered before) heard only the undecided ones.
    assert plain == 3
    assert blocked_clients(c) == 0


def test_blocking_hello(c):
    assert x(c, "m1.register", "block") == "OK"
    x(c, "CONFIG", "RESETSTAT")
    reply, took = timed(c, "HELLO", "3", "AUTH", "foo", "block_allow", "SETNAME", "nb")
    assert reply[b"proto"] == 3 and took >= 0.19
    assert x(c, "CLIENT", "GETNAME") == b"nb"
    assert whoami(c) == b"foo"
    assert err_text(x(c, "HELLO", "2", "AUTH", "m1", "block_deny", "SETNAME", "nx")) == "ERR Blocked auth denied by m1."
    assert x(c, "CLIENT", "GETNAME") == b"nb"
    assert isinstance(x(c, "HELLO"), dict)
    assert calls(c, "hello") == (3, 1)


def test_blocking_order_and_not_handled_chain(c):
    # m1 plain, m2 block, m1 block, m2 plain: tried m2 plain, m1 block,
    # m2 block, m1 plain.
    assert x(c, "m1.register", "plain") == "OK"
    assert x(c, "m2.register", "block") == "OK"
    assert x(c, "m1.register", "block") == "OK"
    assert x(c, "m2.register", "plain") == "OK"
    assert x(c, "AUTH", "foo", "block_who") == "OK"
    assert whoami(c) == b"m1-b"
    assert x(c, "AUTH", "foo", "who") == "OK"
    assert whoami(c) == b"m2"
    # Skipped by both blocking callbacks (two waits), then the password.
    assert x(c, "ACL", "SETUSER", "foo", ">block_skip") == "OK"
    reply, took = timed(c, "AUTH", "foo", "block_skip")
    assert reply == "OK" and took >= 0.39
    assert x(c, "m1.stats")[1:] == [2, 2, 2]
    assert x(c, "m2.stats")[1:] == [1, 1, 1]


def test_commands_wait_behind_blocked_auth(c, srv):
    assert x(c, "m1.register", "block") == "OK"
    other = RespConn(srv)
    other.send("AUTH", "foo", "block_allow")
    other.send("ACL", "WHOAMI")
    other.send("PING")
    poll(lambda: blocked_clients(c) == 1, "the blocked client")
    # Other clients are served meanwhile.
    assert x(c, "PING") == "PONG"
    assert other.read() == "OK"
    assert other.read() == b"foo"
    assert other.read() == "PONG"
    assert blocked_clients(c) == 0
    other.close()


def test_two_clients_blocked_at_once(c, srv):
    assert x(c, "m1.register", "plain") == "OK"
    assert x(c, "m1.register", "block") == "OK"
    a, b = RespConn(srv), RespConn(srv)
    a.send("AUTH", "foo", "block_allow")
    poll(lambda: blocked_clients(c) == 1, "one blocked client")
    assert x(c, "AUTH", "m2", "allow") == "OK"  # not blocked behind them
    b.send("AUTH", "m2", "block_deny")
    assert a.read() == "OK"
    assert err_text(b.read()) == "ERR Blocked auth denied by m1."
    assert whoami(a) == b"foo"
    assert whoami(b) == b"default"
    a.close()
    b.close()


def test_disconnect_while_blocked(c, srv):
    assert x(c, "m1.register", "block") == "OK"
    x(c, "CONFIG", "RESETSTAT")
    other = RespConn(srv)
    other.send("AUTH", "foo", "block_slow_allow")
    poll(lambda: blocked_clients(c) == 1, "the blocked client")
    other.close()
    poll(lambda: blocked_clients(c) == 0, "the client gone")
    # The thread still unblocks it: no reply callback, the private data freed.
    poll(lambda: x(c, "m1.stats")[3] == 1, "free_privdata")
    assert x(c, "m1.stats")[2] == 0
    # Not counted in INFO commandstats, as in Redis.
    assert cmdstat(c, "auth") is None
    assert x(c, "AUTH", "foo", "block_allow") == "OK"
    assert calls(c, "auth") == (1, 0)


def test_kill_while_blocked(c, srv):
    assert x(c, "m1.register", "block") == "OK"
    other = RespConn(srv)
    cid = x(other, "CLIENT", "ID")
    other.send("AUTH", "foo", "block_slow_allow")
    poll(lambda: blocked_clients(c) == 1, "the blocked client")
    assert x(c, "CLIENT", "KILL", "ID", str(cid)) == 1
    with pytest.raises((ConnectionError, OSError)):
        other.read()
    poll(lambda: x(c, "m1.stats")[3] == 1, "free_privdata")
    assert x(c, "m1.stats")[2] == 0
    assert x(c, "PING") == "PONG"


def test_user_disabled_while_blocked(c, srv):
    assert x(c, "m1.register", "block") == "OK"
    assert x(c, "ACL", "SETUSER", "foo", ">block_slow_skip") == "OK"
    other = RespConn(srv)
    other.send("AUTH", "foo", "block_slow_skip")  # then foo's password
    poll(lambda: blocked_clients(c) == 1, "the blocked client")
    assert x(c, "ACL", "SETUSER", "foo", "off") == "OK"
    assert err_text(other.read()) == WRONGPASS
    other.close()


def test_module_unload(c, srv):
    # Tried: m1 block, m1 plain, m2 plain.
    assert x(c, "m2.register", "plain") == "OK"
    assert x(c, "m1.register", "plain") == "OK"
    assert x(c, "m1.register", "block") == "OK"
    assert x(c, "ACL", "SETUSER", "foo", ">block_slow_skip") == "OK"
    other = RespConn(srv)
    other.send("AUTH", "foo", "block_slow_skip")
    poll(lambda: blocked_clients(c) == 1, "the blocked client")
    # m1 blocks a client: it stays; m2 has callbacks but blocks no one.
    assert err_text(x(c, "MODULE", "UNLOAD", "m1")) == BLOCKED_ERR
    assert x(c, "MODULE", "UNLOAD", "m2") == "OK"
    # The blocked AUTH goes on past the callback that went: the password.
    assert other.read() == "OK"
    assert whoami(other) == b"foo"
    # m2's callbacks went with it; m1's are there.
    assert err_text(x(c, "AUTH", "foo", "m2:allow")) == WRONGPASS
    assert x(c, "AUTH", "m2", "m1:allow") == "OK"
    assert whoami(c) == b"m2"
    assert x(c, "MODULE", "UNLOAD", "m1") == "OK"
    # None left: passwords only.
    assert err_text(x(c, "AUTH", "foo", "allow")) == WRONGPASS
    assert err_text(x(c, "AUTH", "foo", "block_allow")) == WRONGPASS
    assert x(c, "AUTH", "foo", "block_slow_skip") == "OK"
    other.close()
