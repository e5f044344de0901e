"""The module API: RESP3 attributes, and commands that name their keys or
channels when asked.

testmod's commands of its "API coverage: replies and key positions"
section (tests/modules/testmod.c) call ReplyWithAttribute,
ReplySetAttributeLength, CallReplyAttribute, CallReplyAttributeElement,
KeyAtPosWithFlags, IsChannelsPositionRequest and ChannelAtPosWithFlags.
Every test here passes against Redis 7.0 too (KEEL_SERVER=
/usr/bin/redis-server), but for one deliberate difference: Redis 7.0's
CallReplyAttributeElement refuses every attribute (it looks for a map's
type), while Keel reads the pairs as the API documents; and Redis 7.0's
CallReplyAttribute gives NULL until the reply was read (its parse is
lazy), Keel the attribute at once. Only those assertions differ on Redis,
and a key position past the arguments is tested on Keel only (Keel
leaves it out, Redis 7.0 reads past argv).

Redis 7.0 behaviour the tests rely on (found by running them on it):
- ReplyWithAttribute answers ERR to a client speaking RESP2 and writes
  nothing; ReplySetAttributeLength is then a no-op (the enclosing
  postponed array keeps its own length).
- Through RM_Call (RESP3) an attribute hangs on the reply it precedes:
  that reply keeps its own type, its bytes begin at the attribute, and
  ReplyWithCallReply refuses it for a RESP2 client.
- KeyAtPos reports RW access update; KeyAtPosWithFlags the flags given,
  shown by COMMAND GETKEYSANDFLAGS and used by ACL. A legacy range given
  with getkeys-api becomes a key spec with variable_flags (so the module
  is asked), while a key spec from SetCommandInfo is preferred to asking.
- getchannels-api: ACL checks the channels the command publishes or
  subscribes to (a pattern literally), never those it leaves.
"""
import os

import pytest
from conftest import REDIS_BIN, SERVER
from module_util import err_text, x
from resp_client import RespConn, RespError
from test_differential_more import Typed, TypedConn
from test_modules import BASE, c, msrv, so  # noqa: F401 - fixtures

ON_REDIS = os.path.realpath(SERVER) == os.path.realpath(REDIS_BIN)

REPLY_STRING, REPLY_ARRAY, REPLY_ATTRIBUTE = 0, 3, 11


class AttrConn(TypedConn):
    """TypedConn that also reads RESP3 attributes: Typed("attr", (pairs,
    the reply they describe))."""

    def read(self, timeout=5):
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buf:
            self._fill()
        if not self.buf.startswith(b"|"):
            return super().read(timeout)
        n = int(self._line()[1:])
        pairs = []
        for _ in range(n):
            k = self.read(timeout)
            pairs.append((k, self.read(timeout)))
        return Typed("attr", (pairs, self.read(timeout)))


def conn_of(server, proto):
    conn = AttrConn(server)
    if proto == 3:
        assert isinstance(conn.call("HELLO", "3"), Typed)
    return conn


def attr(pairs, value):
    return Typed("attr", (pairs, value))


@pytest.fixture
def c3(msrv):
    conn = conn_of(msrv, 3)
    yield conn
    conn.close()


@pytest.fixture
def c2(msrv):
    conn = conn_of(msrv, 2)
    yield conn
    conn.close()


# ---------------------------------------------------------------- ReplyWithAttribute


def test_attribute_reply_resp3(c3):
    pairs = [(b"k0", 0), (b"k1", 1), (b"k2", 2)]
    assert c3.call("tm.attr", "3") == attr(pairs, b"value")
    assert c3.call("tm.attr", "3", "POSTPONED") == attr(pairs, b"value")
    assert c3.call("tm.attr", "0") == attr([], b"value")
    assert c3.call("tm.attr", "0", "POSTPONED") == attr([], b"value")
    # Inside a postponed array, before its first element.
    assert c3.call("tm.attr", "NESTED") == [attr([(b"source", b"tm")], 0), b"x"]
    assert c3.call("PING") == "PONG"  # nothing left behind


def test_attribute_reply_resp2(c2):
    """RESP2 has no attributes: ReplyWithAttribute refuses, writes nothing,
    and the ReplySetAttributeLength after it leaves the array alone."""
    for args in (("3",), ("3", "POSTPONED"), ("0",)):
        assert err_text(c2.call("tm.attr", *args)) == "ERR no attributes in RESP2"
    assert c2.call("tm.attr", "NESTED") == [1, b"x"]
    assert c2.call("PING") == "PONG"


def test_attribute_reply_after_hello(msrv):
    """The client's protocol counts as it is when the command runs."""
    conn = conn_of(msrv, 2)
    try:
        assert err_text(conn.call("tm.attr", "1")) == "ERR no attributes in RESP2"
        assert isinstance(conn.call("HELLO", "3"), Typed)
        assert conn.call("tm.attr", "1") == attr([(b"k0", 0)], b"value")
        assert isinstance(conn.call("HELLO", "2"), list)
        assert err_text(conn.call("tm.attr", "1")) == "ERR no attributes in RESP2"
    finally:
        conn.close()


# ---------------------------------------------------------------- CallReplyAttribute


def test_call_reply_attribute(c):
    """tm.attr called with RESP3: the reply is the string after the
    attribute; its bytes start at the attribute."""
    got = x(c, "tm.attrcall", "READ", "tm.attr", "2")
    assert got[:2] == [REPLY_STRING, b"|2\r\n$2\r\nk0\r\n:0\r\n$2\r\nk1\r\n:1\r\n$5\r\nvalue\r\n"]
    described = got[2]
    assert described[:2] == [REPLY_ATTRIBUTE, 2]
    # Past the last pair, and the reply itself read as an attribute: refused.
    assert described[4:] == [1, 1]
    if not ON_REDIS:  # Redis 7.0's CallReplyAttributeElement refuses every attribute
        assert described[2:4] == [[b"$2\r\nk0\r\n", b":0\r\n"], [b"$2\r\nk1\r\n", b":1\r\n"]]
    else:
        assert described[2:4] == [b"ERR", b"ERR"]


def test_call_reply_attribute_of_debug_protocol(c):
    got = x(c, "tm.attrcall", "READ", "DEBUG", "PROTOCOL", "attrib")
    text = b"Some real reply following the attribute"
    head = b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
    assert got[:2] == [REPLY_STRING, head + b"$%d\r\n%s\r\n" % (len(text), text)]
    assert got[2][:2] == [REPLY_ATTRIBUTE, 1]
    if not ON_REDIS:  # as above
        assert got[2][2] == [b"$14\r\nkey-popularity\r\n", b"*2\r\n$7\r\nkey:123\r\n:90\r\n"]


def test_call_reply_without_attribute(c):
    assert x(c, "tm.attrcall", "READ", "PING") == [REPLY_STRING, b"+PONG\r\n", -1]
    assert x(c, "tm.attrcall", "READ", "tm.attr", "0") == [
        REPLY_STRING, b"|0\r\n$5\r\nvalue\r\n", [REPLY_ATTRIBUTE, 0, 1, 1]]
    # The attribute belongs to the array's first element, not to the array.
    got = x(c, "tm.attrcall", "READ", "tm.attr", "NESTED")
    assert got == [REPLY_ARRAY, b"*2\r\n|1\r\n$6\r\nsource\r\n$2\r\ntm\r\n:0\r\n$1\r\nx\r\n", -1]


def test_call_reply_attribute_before_reading(c):
    """Keel parses a call reply at once; Redis 7.0 only when first read."""
    assert x(c, "tm.attrcall", "ATTRFIRST", "tm.attr", "2") == (-1 if ON_REDIS else 2)
    assert x(c, "tm.attrcall", "ATTRFIRST", "PING") == -1


@pytest.mark.skipif(ON_REDIS, reason="Redis 7.0's reply parser reads past the reply")
def test_call_reply_with_a_false_length(c):
    """A module's reply whose attribute claims more pairs than it holds is
    an unknown reply through Call, not an allocation of them, and
    ReplyWithCallReply refuses it (Keel only)."""
    assert x(c, "tm.attrcall", "READ", "tm.attr", "LIE") == [
        -1, b"|1000000000\r\n$1\r\nk\r\n:1\r\n$5\r\nvalue\r\n", -1]
    # Nor is it passed on (the client would wait for pairs that never come).
    assert err_text(x(c, "tm.attrcall", "FORWARD", "tm.attr", "LIE")) == "ERR refused"
    assert x(c, "PING") == "PONG"


def test_call_reply_attribute_forwarded(c2, c3):
    assert err_text(c2.call("tm.attrcall", "FORWARD", "tm.attr", "1")) == "ERR refused"
    assert c3.call("tm.attrcall", "FORWARD", "tm.attr", "1") == attr([(b"k0", 0)], b"value")
    assert c3.call("tm.attrcall", "FORWARD", "tm.attr", "NESTED") == [attr([(b"source", b"tm")], 0), b"x"]


# ---------------------------------------------------------------- KeyAtPosWithFlags


def test_keys_with_flags(c):
    args = ["RO", "a", "OW", "b", "RM", "c", "RW", "d", "LEGACY", "e"]
    assert x(c, "COMMAND", "GETKEYSANDFLAGS", "tm.posflags", *args) == [
        [b"a", ["RO", "access"]], [b"b", ["OW", "update"]], [b"c", ["RM", "delete"]],
        [b"d", ["RW", "access", "insert"]], [b"e", ["RW", "access", "update"]]]
    assert x(c, "COMMAND", "GETKEYS", "tm.posflags", *args) == [b"a", b"b", b"c", b"d", b"e"]
    assert x(c, "COMMAND", "INFO", "tm.posflags") == [
        [b"tm.posflags", -1, ["readonly", "module", "movablekeys"], 0, 0, 0, [], [], [], []]]
    # Run (not asked), it is no keys request.
    assert x(c, "tm.posflags", "RO", "a", "OW", "b") == [0, b"a", b"b"]
    assert err_text(x(c, "COMMAND", "GETKEYS", "tm.posflags", "NOSUCH", "a")) == \
        "ERR Invalid arguments specified for command"


@pytest.mark.skipif(ON_REDIS, reason="Redis 7.0 reads past the arguments")
def test_key_position_past_arguments(c):
    """A position past the command's arguments is left out (Keel only)."""
    assert x(c, "COMMAND", "GETKEYS", "tm.posflags", "PAST", "a", "RO", "b") == [b"b"]
    assert x(c, "ACL", "SETUSER", "past", "on", "nopass", "+@all", "~b") == "OK"
    try:
        assert x(c, "ACL", "DRYRUN", "past", "tm.posflags", "PAST", "a", "RO", "b") == "OK"
        assert x(c, "ACL", "DRYRUN", "past", "tm.posflags", "PAST", "b", "RO", "a") == \
            b"This user has no permissions to access the 'a' key"
    finally:
        x(c, "ACL", "DELUSER", "past")


def test_keys_with_flags_acl(c):
    assert x(c, "ACL", "SETUSER", "kpos", "on", "nopass", "+@all", "%R~r*", "%W~w*", "~rw*") == "OK"
    try:
        def dry(*args):
            return x(c, "ACL", "DRYRUN", "kpos", "tm.posflags", *args)

        assert dry("RO", "r1") == "OK"
        assert dry("RO", "w1") == b"This user has no permissions to access the 'w1' key"
        assert dry("OW", "w1") == "OK"
        assert dry("OW", "r1") == b"This user has no permissions to access the 'r1' key"
        assert dry("RM", "w1") == "OK"
        # KeyAtPos: read and write.
        assert dry("LEGACY", "rw1") == "OK"
        assert dry("LEGACY", "r1") == b"This user has no permissions to access the 'r1' key"
        assert dry("LEGACY", "w1") == b"This user has no permissions to access the 'w1' key"
        assert dry("RO", "r1", "OW", "w2", "RO", "w3") == b"This user has no permissions to access the 'w3' key"
    finally:
        x(c, "ACL", "DELUSER", "kpos")


def test_legacy_range_with_getkeys_api(c):
    """A legacy range with getkeys-api: its key spec says variable_flags,
    so the module is asked (its flags, and keys the range would not
    name)."""
    spec = [b"flags", ["RW", "access", "update", "variable_flags"],
            b"begin_search", [b"type", b"index", b"spec", [b"index", 2]],
            b"find_keys", [b"type", b"range", b"spec", [b"lastkey", -1, b"keystep", 2, b"limit", 0]]]
    assert x(c, "COMMAND", "INFO", "tm.posrange") == [
        [b"tm.posrange", -1, ["readonly", "module", "movablekeys"], 2, -1, 2, [], [], [spec], []]]
    assert x(c, "COMMAND", "GETKEYSANDFLAGS", "tm.posrange", "RO", "a", "OW", "b") == [
        [b"a", ["RO", "access"]], [b"b", ["OW", "update"]]]
    assert x(c, "COMMAND", "GETKEYS", "tm.posrange", "x", "y", "RO", "a") == [b"a"]


def test_key_spec_preferred_to_getkeys_api(c):
    """A key spec without variable_flags is used instead of asking."""
    spec = [b"flags", ["RO", "access"],
            b"begin_search", [b"type", b"index", b"spec", [b"index", 2]],
            b"find_keys", [b"type", b"range", b"spec", [b"lastkey", 0, b"keystep", 1, b"limit", 0]]]
    assert x(c, "COMMAND", "INFO", "tm.posspec") == [
        [b"tm.posspec", -1, ["readonly", "module", "movablekeys"], 2, 2, 1, [], [], [spec], []]]
    assert x(c, "COMMAND", "GETKEYSANDFLAGS", "tm.posspec", "OW", "a", "OW", "b") == [[b"a", ["RO", "access"]]]


# ---------------------------------------------------------------- ChannelAtPosWithFlags


@pytest.fixture
def chan_user(c):
    assert x(c, "ACL", "SETUSER", "cpos", "on", "nopass", "+@all", "~*", "resetchannels", "&news",
             "&alerts.*") == "OK"
    yield "cpos"
    x(c, "ACL", "DELUSER", "cpos")


def test_channels_acl_dryrun(c, chan_user):
    def dry(*args):
        return x(c, "ACL", "DRYRUN", chan_user, "tm.chan", *args)

    def denied(ch):
        return b"This user has no permissions to access the '%s' channel" % ch

    assert dry("P", "news") == "OK"
    assert dry("P", "sports") == denied(b"sports")
    assert dry("S", "alerts.fire") == "OK"  # a channel matches the user's pattern
    assert dry("S*", "alerts.*") == "OK"  # a pattern must be one of the user's, literally
    assert dry("S*", "alerts.f*") == denied(b"alerts.f*")
    assert dry("S*", "news") == "OK"
    assert dry("U", "sports") == "OK"  # leaving is always allowed
    assert dry("U*", "sports*") == "OK"
    assert dry("", "sports") == "OK"  # neither publishing nor subscribing
    assert dry("PU", "sports") == denied(b"sports")
    assert dry("P", "news", "S", "sports", "P", "alerts.x") == denied(b"sports")


def test_channels_acl_on_run(c, msrv, chan_user):
    conn = RespConn(msrv)
    try:
        assert conn.call("AUTH", chan_user, "any") == "OK"
        # Run, the command is asked first; then it runs as no request.
        assert conn.call("tm.chan", "P", "news", "S", "alerts.1") == [0, 0, 2]
        assert x(c, "ACL", "LOG", "RESET") == "OK"
        e = conn.call("tm.chan", "P", "news", "P", "sports")
        assert isinstance(e, RespError)
        assert str(e) == "NOPERM this user has no permissions to access one of the channels used as arguments"
        log = x(c, "ACL", "LOG")
        assert len(log) == 1
        entry = dict(zip(log[0][0::2], log[0][1::2]))
        assert (entry[b"reason"], entry[b"object"], entry[b"username"]) == (b"channel", b"sports", b"cpos")
    finally:
        conn.close()
    # The default user may use every channel.
    assert x(c, "tm.chan", "P", "sports") == [0, 0, 1]


def test_channels_not_keys(c):
    assert err_text(x(c, "COMMAND", "GETKEYS", "tm.chan", "P", "news")) == "ERR The command has no key arguments"
    assert x(c, "COMMAND", "INFO", "tm.chan") == [[b"tm.chan", -1, ["readonly", "module"], 0, 0, 0, [], [], [], []]]
