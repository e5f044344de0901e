"""ACL: users, rules and their descriptions, enforcement (commands,
subcommands, keys read/write, channels, selectors) at top level, in MULTI
and in scripts, ACL LOG, DRYRUN, AUTH/HELLO, aclfile and `user` lines.

Every test passes against Debian's redis-server 7.0 too
(KEEL_SERVER=/usr/bin/redis-server) except those marked Keel-only.
"""
import os
import time

import pytest
import redis

from conftest import SERVER, Server, seed_script
from resp_client import RespConn, RespError

IS_REDIS = os.path.basename(SERVER).startswith("redis")
keel_only = pytest.mark.skipif(IS_REDIS, reason="Keel-only extension")

NOPERM_CMD = "NOPERM this user has no permissions to run the '%s' command"
NOPERM_KEY = "NOPERM this user has no permissions to access one of the keys used as arguments"
NOPERM_CHAN = "NOPERM this user has no permissions to access one of the channels used as arguments"
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
SHA_PW = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"  # sha256("password")


@pytest.fixture
def admin(server):
    """A default-user connection; every user but default is deleted after
    the test, and the log is emptied before it."""
    c = server.client(decode_responses=True)
    c.flushall()
    c.execute_command("ACL", "LOG", "RESET")
    yield c
    for name in c.execute_command("ACL", "USERS"):
        if name != "default":
            c.execute_command("ACL", "DELUSER", name)
    c.execute_command("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
    c.close()


def conn(server, user, pw="pw"):
    """A raw connection authenticated as user (replies as RespConn gives them)."""
    rc = RespConn(server)
    assert rc.call("AUTH", user, pw) == "OK"
    return rc


def err_text(reply):
    assert isinstance(reply, RespError), reply
    return str(reply)


def acl_list_line(admin, name):
    for line in admin.execute_command("ACL", "LIST"):
        if line.startswith("user %s " % name):
            return line
    raise AssertionError("no user " + name)


def getuser(server, name):
    rc = RespConn(server)
    try:
        return rc.call("ACL", "GETUSER", name)
    finally:
        rc.sock.close()


def pairs(flat):
    return {flat[i].decode() if isinstance(flat[i], bytes) else flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def log_entries(server, n=10):
    rc = RespConn(server)
    try:
        return [pairs(e) for e in rc.call("ACL", "LOG", n)]
    finally:
        rc.sock.close()


# ---- users and their descriptions ----


def test_default_user(server, admin):
    assert admin.execute_command("ACL", "LIST") == ["user default on nopass ~* &* +@all"]
    assert admin.execute_command("ACL", "USERS") == ["default"]
    assert admin.execute_command("ACL", "WHOAMI") == "default"
    g = pairs(getuser(server, "default"))
    assert g == {
        "flags": [b"on", b"nopass"],
        "passwords": [],
        "commands": b"+@all",
        "keys": b"~*",
        "channels": b"&*",
        "selectors": [],
    }


def test_setuser_getuser_shape(server, admin):
    assert admin.execute_command("ACL", "SETUSER", "alice", "on", ">p1", "~foo:*", "%R~bar*", "&ch*", "+@read",
                                 "-get", "+config|get", "(+set ~x*)") == "OK"
    g = pairs(getuser(server, "alice"))
    assert g["flags"] == [b"on"]
    assert g["passwords"] == [b"f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"]
    assert set(g["commands"].split()) == {b"-@all", b"+@read", b"-get", b"+config|get"}
    assert g["commands"].startswith(b"-@all +@read ")
    assert g["keys"] == b"~foo:* %R~bar*"
    assert g["channels"] == b"&ch*"
    assert [pairs(s) for s in g["selectors"]] == [{"commands": b"-@all +set", "keys": b"~x*", "channels": b""}]
    line = acl_list_line(admin, "alice")
    assert line.startswith("user alice on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a "
                           "~foo:* %R~bar* resetchannels &ch* -@all +@read ")
    assert line.endswith(" (~x* resetchannels -@all +set)")
    assert admin.execute_command("ACL", "GETUSER", "nosuch") is None


def test_new_user_defaults(admin):
    admin.execute_command("ACL", "SETUSER", "bob")
    assert acl_list_line(admin, "bob") == "user bob off resetchannels -@all"
    admin.execute_command("ACL", "SETUSER", "bob", "reset")
    assert acl_list_line(admin, "bob") == "user bob off sanitize-payload resetchannels -@all"
    admin.execute_command("ACL", "SETUSER", "bob", "on", "nopass", "skip-sanitize-payload", "allkeys", "allchannels")
    assert acl_list_line(admin, "bob") == "user bob on nopass skip-sanitize-payload ~* &* -@all"
    assert admin.execute_command("ACL", "USERS") == ["bob", "default"]


def test_acl_pubsub_default(admin):
    admin.config_set("acl-pubsub-default", "allchannels")
    try:
        admin.execute_command("ACL", "SETUSER", "pd1")
        admin.execute_command("ACL", "SETUSER", "pd2", "reset")
        assert acl_list_line(admin, "pd1") == "user pd1 off &* -@all"
        assert acl_list_line(admin, "pd2") == "user pd2 off sanitize-payload &* -@all"
    finally:
        admin.config_set("acl-pubsub-default", "resetchannels")
    admin.execute_command("ACL", "SETUSER", "pd3")
    assert acl_list_line(admin, "pd3") == "user pd3 off resetchannels -@all"


# Rules -> the command part of ACL LIST, as Redis 7.0 recomputes it from
# the permission bitmap (categories first, then single commands).
DESCRIBE = [
    ("+get -get", "-@all"),
    ("+get +set -get", "-@all +set"),
    ("+@read -@read", "-@all"),
    ("+@all -get", "+@all -get"),
    ("allcommands +get", "+@all"),
    ("+@all +@read", "+@all"),
    ("nocommands +get", "-@all +get"),
    ("+config|get +config", "-@all +config"),
    ("+config -config|get", "-@all +config -config|get"),
    ("-config|get", "-@all"),
    ("+@read +get", "-@all +@read"),
    ("+get +@read", "-@all +@read"),
    ("+select|0", "-@all +select|0"),
    ("+acl|whoami", "-@all +acl|whoami"),
    ("+config|get -config", "-@all"),
    ("+@all -@dangerous", "+@all -@dangerous"),
    ("+@dangerous", "-@all +@dangerous"),
    ("+@admin +@dangerous", "-@all +@dangerous"),
    ("+@pubsub", "-@all +@pubsub"),
    ("+@all -config|get", "+@all -config|get"),
    ("+@write +@read", "-@all +@write +@read"),
]


@pytest.mark.parametrize("rules,described", DESCRIBE)
def test_command_rules_description(admin, rules, described):
    admin.execute_command("ACL", "SETUSER", "t", "reset", *rules.split())
    assert acl_list_line(admin, "t") == "user t off sanitize-payload resetchannels " + described


def test_command_rules_single_commands_as_a_set(admin):
    # Single commands come in the server's command-table order (Redis: hash order).
    admin.execute_command("ACL", "SETUSER", "t", "reset", "+@string", "-@write")
    words = acl_list_line(admin, "t").split()
    assert words[:5] == ["user", "t", "off", "sanitize-payload", "resetchannels"]
    assert words[5] == "-@all"
    reads = {"+get", "+mget", "+strlen", "+getrange", "+substr", "+lcs"}
    assert set(words[6:]) == reads | (set() if IS_REDIS else {"+digest"})  # DIGEST: Redis 8.4
    # Categories tie on size order: Keel's @hash has more commands than 7.0's.
    admin.execute_command("ACL", "SETUSER", "t", "reset", "+@hash", "+@list")
    assert set(acl_list_line(admin, "t").split()[5:]) == {"-@all", "+@list", "+@hash"}
    admin.execute_command("ACL", "SETUSER", "t", "reset", "+get", "+set", "+del")
    assert set(acl_list_line(admin, "t").split()[6:]) == {"+get", "+set", "+del"}


SETUSER_ERRORS = [
    (["bad"], "Error in ACL SETUSER modifier 'bad': Syntax error"),
    (["+nocmd"], "Error in ACL SETUSER modifier '+nocmd': Unknown command or category name in ACL"),
    (["+@nocat"], "Error in ACL SETUSER modifier '+@nocat': Unknown command or category name in ACL"),
    (["#abc"], "Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain "
               "only lowercase hexadecimal characters"),
    (["!" + SHA_PW.upper()], "Error in ACL SETUSER modifier '!%s': The password hash must be exactly 64 characters "
                             "and contain only lowercase hexadecimal characters" % SHA_PW.upper()),
    (["<nope"], "Error in ACL SETUSER modifier '<nope': The password you are trying to remove from the user does "
                "not exist"),
    (["%X~a"], "Error in ACL SETUSER modifier '%X~a': Syntax error"),
    (["%~x"], "Error in ACL SETUSER modifier '%~x': Syntax error"),
    (["%RR~x"], "Error in ACL SETUSER modifier '%RR~x': Syntax error"),
    (["allkeys", "~x"], "Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the "
                        "'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with "
                        "an empty list of patterns"),
    (["allchannels", "&x"], "Error in ACL SETUSER modifier '&x': Adding a pattern after the * pattern (or the "
                            "'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to "
                            "start with an empty list of channels"),
    (["+config|get|x"], "Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not "
                        "supported"),
    (["+config|"], "Error in ACL SETUSER modifier '+config|': Syntax error"),
    (["-get|x"], "Error in ACL SETUSER modifier '-get|x': Unknown command or category name in ACL"),
    (["+config|nosub"], "Error in ACL SETUSER modifier '+config|nosub': Unknown command or category name in ACL"),
    (["("], "Unmatched parenthesis in acl selector starting at '('."),
    (["(+get", "~x"], "Unmatched parenthesis in acl selector starting at '(+get'."),
    (["(nosuch)"], "Error in ACL SETUSER modifier '(nosuch)': Syntax error"),
    (["(on)"], "Error in ACL SETUSER modifier '(on)': Syntax error"),
    (["on)"], "Error in ACL SETUSER modifier 'on)': Syntax error"),
]


@pytest.mark.parametrize("rules,text", SETUSER_ERRORS)
def test_setuser_errors(server, admin, rules, text):
    rc = RespConn(server)
    assert err_text(rc.call("ACL", "SETUSER", "t9", *rules)) == "ERR " + text
    # A user whose rules failed is not created.
    assert "t9" not in admin.execute_command("ACL", "USERS")


def test_setuser_is_all_or_nothing(admin):
    admin.execute_command("ACL", "SETUSER", "u", "on", ">pw", "~a*", "+get")
    before = acl_list_line(admin, "u")
    with pytest.raises(redis.ResponseError):
        admin.execute_command("ACL", "SETUSER", "u", "off", "resetkeys", "+set", "+nosuch")
    assert acl_list_line(admin, "u") == before


def test_setuser_name_and_split_selectors(admin):
    with pytest.raises(redis.ResponseError, match="Usernames can't contain spaces or null characters"):
        admin.execute_command("ACL", "SETUSER", "a b")
    # A selector split over arguments is joined back.
    admin.execute_command("ACL", "SETUSER", "s", "(+get", "~x*)", "(", "+set", "~y*", ")")
    assert acl_list_line(admin, "s") == ("user s off resetchannels -@all (~x* resetchannels -@all +get) "
                                         "(~y* resetchannels -@all +set)")
    admin.execute_command("ACL", "SETUSER", "s", "clearselectors")
    assert acl_list_line(admin, "s") == "user s off resetchannels -@all"


def test_passwords(server, admin):
    admin.execute_command("ACL", "SETUSER", "p", "on", ">password", ">other", "#" + SHA_PW, "+acl|whoami")
    g = pairs(getuser(server, "p"))
    assert len(g["passwords"]) == 2 and SHA_PW.encode() in g["passwords"]
    c = server.client(decode_responses=True)
    assert c.execute_command("AUTH", "p", "other")
    assert c.execute_command("AUTH", "p", "password")
    admin.execute_command("ACL", "SETUSER", "p", "!" + SHA_PW)
    with pytest.raises(redis.ResponseError, match="WRONGPASS"):
        c.execute_command("AUTH", "p", "password")
    admin.execute_command("ACL", "SETUSER", "p", "<other")
    assert pairs(getuser(server, "p"))["passwords"] == []
    with pytest.raises(redis.ResponseError, match="WRONGPASS"):
        c.execute_command("AUTH", "p", "other")
    admin.execute_command("ACL", "SETUSER", "p", "nopass")
    assert c.execute_command("AUTH", "p", "anything")
    admin.execute_command("ACL", "SETUSER", "p", "resetpass")
    with pytest.raises(redis.ResponseError, match="WRONGPASS"):
        c.execute_command("AUTH", "p", "anything")
    c.close()


def test_deluser(server, admin):
    rc = RespConn(server)
    assert err_text(rc.call("ACL", "DELUSER", "default")) == "ERR The 'default' user cannot be removed"
    admin.execute_command("ACL", "SETUSER", "d1")
    admin.execute_command("ACL", "SETUSER", "d2")
    assert admin.execute_command("ACL", "DELUSER", "nobody", "d1", "d2") == 2
    assert admin.execute_command("ACL", "USERS") == ["default"]


def test_genpass_and_cat(server, admin):
    assert len(admin.execute_command("ACL", "GENPASS")) == 64
    assert len(admin.execute_command("ACL", "GENPASS", "5")) == 2
    assert len(admin.execute_command("ACL", "GENPASS", "1")) == 1
    assert admin.execute_command("ACL", "GENPASS") != admin.execute_command("ACL", "GENPASS")
    for bad in ("0", "4097", "-3"):
        with pytest.raises(redis.ResponseError, match="ACL GENPASS argument must be the number of bits"):
            admin.execute_command("ACL", "GENPASS", bad)
    cats = admin.execute_command("ACL", "CAT")
    # Redis 7.0's 21, then Redis 8's vectorset.
    assert cats[:3] == ["keyspace", "read", "write"] and len(cats) == 22 and cats[-2:] == ["scripting", "vectorset"]
    read = set(admin.execute_command("ACL", "CAT", "read"))
    assert {"get", "smembers", "dbsize", "lpos"} <= read and "set" not in read
    admin_cat = set(admin.execute_command("ACL", "CAT", "admin"))
    assert {"config|set", "acl|setuser", "client|kill", "debug"} <= admin_cat
    assert "config" not in admin_cat and "acl|whoami" not in admin_cat
    rc = RespConn(server)
    assert err_text(rc.call("ACL", "CAT", "nosuch")) == "ERR Unknown category 'nosuch'"
    assert err_text(rc.call("ACL", "FOO")) == "ERR unknown subcommand 'FOO'. Try ACL HELP."
    helptext = admin.execute_command("ACL", "HELP")
    assert helptext[0] == "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert "DRYRUN <username> <command> [<arg> ...]" in helptext


def test_acl_categories_match_command_info(server, admin):
    # Every command ACL CAT lists in a category shows it in COMMAND INFO.
    rc = RespConn(server)
    for cat in ("write", "fast", "dangerous", "keyspace"):
        names = [n for n in admin.execute_command("ACL", "CAT", cat) if "|" not in n][:40]
        assert len(names) > 5
        for info in rc.call("COMMAND", "INFO", *names):
            assert ("@" + cat) in info[6], info[0]


# ---- enforcement ----


def test_command_permissions(server, admin):
    admin.execute_command("ACL", "SETUSER", "u", "on", ">pw", "allkeys", "+@string", "-set", "+config|get",
                          "+client", "-client|kill", "+select|0")
    rc = conn(server, "u")
    assert rc.call("GET", "k") is None
    assert err_text(rc.call("SET", "k", "v")) == NOPERM_CMD % "set"
    assert err_text(rc.call("HSET", "h", "f", "v")) == NOPERM_CMD % "hset"
    assert isinstance(rc.call("CONFIG", "GET", "maxmemory"), list)
    assert err_text(rc.call("CONFIG", "SET", "maxmemory", "0")) == NOPERM_CMD % "config|set"
    assert isinstance(rc.call("CLIENT", "ID"), int)
    assert err_text(rc.call("CLIENT", "KILL", "ID", "999999")) == NOPERM_CMD % "client|kill"
    assert rc.call("SELECT", "0") == "OK"
    assert err_text(rc.call("SELECT", "1")) == NOPERM_CMD % "select"
    assert err_text(rc.call("ACL", "WHOAMI")) == NOPERM_CMD % "acl|whoami"
    # AUTH, HELLO and QUIT are always allowed; an unknown command is unknown.
    assert rc.call("AUTH", "u", "pw") == "OK"
    assert err_text(rc.call("NOSUCHCMD")).startswith("ERR unknown command 'NOSUCHCMD'")
    admin.execute_command("ACL", "SETUSER", "u", "+set")
    assert rc.call("SET", "k", "v") == "OK"


KEY_CASES = [
    # (command, allowed) for a user with ~foo* (read+write), %R~r* and %W~w*.
    (["GET", "foo1"], True),
    (["GET", "bar"], False),
    (["SET", "bar", "1"], False),
    (["GET", "w1"], False),
    (["SET", "w1", "x"], True),
    (["SET", "r1", "x"], False),
    (["GET", "r1"], True),
    (["INCR", "w1"], False),
    (["LPUSH", "w2", "a"], True),
    (["APPEND", "w3", "a"], True),
    (["HSET", "w4", "a", "b"], True),
    (["SET", "w1", "x", "GET"], False),
    (["LMOVE", "r1", "w1", "LEFT", "LEFT"], False),
    (["LMOVE", "w1", "w2", "LEFT", "LEFT"], False),
    (["LMOVE", "foo1", "w2", "LEFT", "LEFT"], True),
    (["COPY", "r1", "w5"], True),
    (["COPY", "w1", "w6"], False),
    (["SUNIONSTORE", "w7", "r1", "r2"], True),
    (["SUNIONSTORE", "r7", "r1", "r2"], False),
    (["MGET", "foo1", "r1"], True),
    (["MGET", "foo1", "w1"], False),
    (["EXISTS", "r1"], True),
    # Existence, type and size need any matching pattern (no access in Redis's key specs).
    (["EXISTS", "w1"], True),
    (["TYPE", "w1"], True),
    (["STRLEN", "w1"], True),
    (["EXISTS", "bar"], False),
    (["SETBIT", "w9", "1", "1"], False),
    (["SETBIT", "foo9", "1", "1"], True),
    (["PFMERGE", "w8", "r1"], False),
    (["PFMERGE", "foo8", "r1"], True),
    (["PFMERGE", "foo8", "w1"], False),
]


@pytest.mark.parametrize("args,allowed", KEY_CASES)
def test_key_permissions(server, admin, args, allowed):
    admin.execute_command("ACL", "SETUSER", "kk", "on", ">pw", "~foo*", "%R~r*", "%W~w*", "+@all")
    rc = conn(server, "kk")
    reply = rc.call(*args)
    if allowed:
        assert not isinstance(reply, RespError), reply
    else:
        assert err_text(reply) == NOPERM_KEY


def test_channel_permissions(server, admin):
    admin.execute_command("ACL", "SETUSER", "c", "on", ">pw", "resetchannels", "&news.*", "&exact", "+@all")
    rc = conn(server, "c")
    assert rc.call("PUBLISH", "news.a", "m") == 0
    assert err_text(rc.call("PUBLISH", "other", "m")) == NOPERM_CHAN
    # Shard channels are channels, not keys (the user has no key patterns).
    assert rc.call("SPUBLISH", "news.a", "m") == 0
    assert err_text(rc.call("SPUBLISH", "other", "m")) == NOPERM_CHAN
    assert err_text(rc.call("SSUBSCRIBE", "other")) == NOPERM_CHAN
    assert err_text(rc.call("SUBSCRIBE", "news.a", "other")) == NOPERM_CHAN
    # PSUBSCRIBE needs the pattern itself to be allowed literally.
    assert err_text(rc.call("PSUBSCRIBE", "news.a*")) == NOPERM_CHAN
    assert rc.call("PSUBSCRIBE", "news.*") == [b"psubscribe", b"news.*", 1]
    rc2 = conn(server, "c")
    assert rc2.call("SUBSCRIBE", "exact", "news.b") == [b"subscribe", b"exact", 1]
    assert rc2.read() == [b"subscribe", b"news.b", 2]
    assert admin.execute_command("ACL", "DRYRUN", "c", "PUBLISH", "x", "y") == \
        "This user has no permissions to access the 'x' channel"


def test_revoked_channels_close_subscribers(server, admin):
    admin.execute_command("ACL", "SETUSER", "s", "on", "nopass", "+@all", "~*", "resetchannels", "&news.*")
    sub = conn(server, "s")
    assert sub.call("SUBSCRIBE", "news.a") == [b"subscribe", b"news.a", 1]
    keep = conn(server, "s")  # no subscriptions: stays
    admin.execute_command("ACL", "SETUSER", "s", "resetchannels", "&other")
    with pytest.raises((ConnectionError, OSError)):
        sub.call("PING")
    assert keep.call("PING") == "PONG"


def test_selectors(server, admin):
    admin.execute_command("ACL", "SETUSER", "sel", "on", ">pw", "-@all", "resetkeys", "(+@write ~write::*)",
                          "(+@read ~read::*)")
    rc = conn(server, "sel")
    assert err_text(rc.call("PING")) == NOPERM_CMD % "ping"
    assert rc.call("SET", "write::foo", "bar") == "OK"
    assert rc.call("GET", "read::foo") is None
    # The denial reported is the one that got furthest: a key.
    assert err_text(rc.call("GET", "write::foo")) == NOPERM_KEY
    assert err_text(rc.call("SET", "read::foo", "bar")) == NOPERM_KEY
    assert admin.execute_command("ACL", "DRYRUN", "sel", "SET", "read::foo", "x") == \
        "This user has no permissions to access the 'read::foo' key"


def test_dryrun(server, admin):
    admin.execute_command("ACL", "SETUSER", "u1", "on", ">pw", "~foo*", "&ch*", "+@read", "+publish")
    dry = lambda *a: admin.execute_command("ACL", "DRYRUN", *a)  # noqa: E731
    assert dry("u1", "GET", "foo") == "OK"
    assert dry("u1", "GET", "bar") == "This user has no permissions to access the 'bar' key"
    assert dry("u1", "DEL", "foo") == "This user has no permissions to run the 'del' command"
    assert dry("u1", "CONFIG", "GET", "x") == "This user has no permissions to run the 'config|get' command"
    assert dry("u1", "PUBLISH", "x", "y") == "This user has no permissions to access the 'x' channel"
    rc = RespConn(server)
    assert err_text(rc.call("ACL", "DRYRUN", "nouser", "GET", "foo")) == "ERR User 'nouser' not found"
    assert err_text(rc.call("ACL", "DRYRUN", "u1", "nocmd")) == "ERR Command 'nocmd' not found"
    assert err_text(rc.call("ACL", "DRYRUN", "u1", "GET")) == "ERR wrong number of arguments for 'get' command"
    assert admin.execute_command("ACL", "LOG") == []  # a dry run logs nothing


def test_multi_denial_aborts_exec(server, admin):
    admin.execute_command("ACL", "SETUSER", "m", "on", ">pw", "~foo*", "+@read", "+multi", "+exec")
    rc = conn(server, "m")
    assert rc.call("MULTI") == "OK"
    assert err_text(rc.call("GET", "bar")) == NOPERM_KEY
    assert err_text(rc.call("DEL", "foo")) == NOPERM_CMD % "del"
    assert rc.call("GET", "foo") == "QUEUED"
    assert err_text(rc.call("EXEC")) == "EXECABORT Transaction discarded because of previous errors."
    contexts = [(e["reason"], e["context"], e["object"]) for e in log_entries(server)]
    assert contexts == [(b"command", b"multi", b"del"), (b"key", b"multi", b"bar")]


def test_exec_rechecks_changed_rules(server, admin):
    admin.execute_command("ACL", "SETUSER", "m", "on", ">pw", "+@all", "~*", "&*")
    rc = conn(server, "m")
    assert rc.call("MULTI") == "OK"
    for args in (("SET", "a", "1"), ("GET", "b"), ("PUBLISH", "ch", "x"), ("GET", "a")):
        assert rc.call(*args) == "QUEUED"
    admin.execute_command("ACL", "SETUSER", "m", "-set", "resetkeys", "~a", "resetchannels")
    res = rc.call("EXEC")
    prefix = ("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. "
              "This command is no longer allowed for the following reason: ")
    assert [str(x) for x in res[:3]] == [
        prefix + "no permission to execute the command or subcommand",
        prefix + "no permission to touch the specified keys",
        prefix + "no permission to access one of the channels used as arguments",
    ]
    assert res[3] is None


def test_script_denials(server, admin):
    admin.execute_command("ACL", "SETUSER", "sc", "on", ">pw", "~foo*", "&ch*", "+@read", "+eval", "+publish")
    rc = conn(server, "sc")
    e = err_text(rc.call("EVAL", "return redis.call('get','bar')", "0"))
    assert e.startswith("ERR The user executing the script can't access at least one of the keys mentioned in "
                        "the command arguments script: ")
    e = err_text(rc.call("EVAL", "return redis.call('del','foo')", "0"))
    assert e.startswith("ERR The user executing the script can't run this command or subcommand script: ")
    e = err_text(rc.call("EVAL", "return redis.call('publish','x','y')", "0"))
    assert e.startswith("ERR The user executing the script can't publish to the channel mentioned in the command "
                        "script: ")
    # pcall returns the error as a value, without the script's location.
    assert err_text(rc.call("EVAL", "return redis.pcall('get','bar')", "0")) == \
        "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
    assert rc.call("EVAL", "return redis.call('get','foo1')", "0") is None
    # EVAL's own keys are checked before the script runs.
    assert err_text(rc.call("EVAL", "return 1", "1", "bar")) == NOPERM_KEY
    # redis.acl_check_cmd answers for the calling user.
    assert rc.call("EVAL", "return redis.acl_check_cmd('get','foo1')", "0") == 1
    assert rc.call("EVAL", "return redis.acl_check_cmd('del','foo1')", "0") is None
    assert rc.call("EVAL", "return redis.acl_check_cmd('get','bar')", "0") is None
    assert rc.call("EVAL", "return redis.acl_check_cmd('get')", "0") == 1  # no arity check
    assert rc.call("EVAL", "return redis.acl_check_cmd('get','foo1','x')", "0") == 1
    e = err_text(rc.call("EVAL", "return redis.acl_check_cmd('config','nosub')", "0"))
    assert e.startswith("ERR Invalid command passed to redis.acl_check_cmd() script: ")
    lua = [(e["reason"], e["context"], e["object"]) for e in log_entries(server)]
    assert (b"key", b"lua", b"bar") in lua and (b"command", b"lua", b"del") in lua and \
        (b"channel", b"lua", b"x") in lua


def test_rate_limiter_service_user(server, admin):
    """A service user that may only EVALSHA the seed's sliding-window limiter
    on ratelimit:* keys."""
    sha = admin.script_load(seed_script("rate_limiter.lua"))
    admin.execute_command("ACL", "SETUSER", "limiter", "on", ">svc", "resetkeys", "~ratelimit:*", "-@all",
                          "+evalsha", "+zremrangebyscore", "+zcard", "+zadd", "+expire")
    rc = conn(server, "limiter", "svc")
    now = 1000
    results = [rc.call("EVALSHA", sha, "1", "ratelimit:alice", now + i, now + i - 60, 3, 60) for i in range(5)]
    assert results == [1, 1, 1, 0, 0]
    assert err_text(rc.call("EVALSHA", sha, "1", "other:alice", now, now - 60, 3, 60)) == NOPERM_KEY
    assert err_text(rc.call("EVAL", "return 1", "0")) == NOPERM_CMD % "eval"
    assert err_text(rc.call("SCRIPT", "LOAD", "return 1")) == NOPERM_CMD % "script|load"
    assert err_text(rc.call("GET", "ratelimit:alice")) == NOPERM_CMD % "get"
    assert err_text(rc.call("FLUSHALL")) == NOPERM_CMD % "flushall"
    assert admin.zcard("ratelimit:alice") == 3
    # Without the commands the script runs, EVALSHA alone is not enough.
    admin.execute_command("ACL", "SETUSER", "limiter", "-zadd")
    e = err_text(rc.call("EVALSHA", sha, "1", "ratelimit:bob", now, now - 60, 3, 60))
    assert e.startswith("ERR The user executing the script can't run this command or subcommand script: ")


def test_acl_log(server, admin):
    admin.execute_command("ACL", "SETUSER", "lg", "on", ">pw", "~foo*", "+get")
    rc = conn(server, "lg")
    for _ in range(3):
        rc.call("SET", "foo", "x")
    rc.call("GET", "bar")
    assert isinstance(rc.call("AUTH", "lg", "wrong"), RespError)
    entries = log_entries(server)
    assert [(e["count"], e["reason"], e["context"], e["object"], e["username"]) for e in entries] == [
        (1, b"auth", b"toplevel", b"AUTH", b"lg"),
        (1, b"key", b"toplevel", b"bar", b"lg"),
        (3, b"command", b"toplevel", b"set", b"lg"),
    ]
    for e in entries:
        assert b"user=lg" in e["client-info"] and b"id=" in e["client-info"]
        assert 0 <= float(e["age-seconds"]) < 30
    assert len(log_entries(server, 1)) == 1
    assert log_entries(server, 0) == []
    rc2 = RespConn(server)
    assert err_text(rc2.call("ACL", "LOG", "x")) == "ERR value is not an integer or out of range"
    assert admin.execute_command("ACL", "LOG", "RESET") == "OK"
    assert admin.execute_command("ACL", "LOG") == []


def test_acl_log_max_len(server, admin):
    admin.config_set("acllog-max-len", "2")
    try:
        admin.execute_command("ACL", "SETUSER", "lg", "on", ">pw", "-@all")
        rc = conn(server, "lg")
        for args in (("GET", "a"), ("DEL", "a"), ("HGET", "a", "b"), ("SET", "a", "b")):
            assert err_text(rc.call(*args)) == NOPERM_CMD % args[0].lower()
        assert [e["object"] for e in log_entries(server)] == [b"set", b"hget"]
    finally:
        admin.config_set("acllog-max-len", "128")


@keel_only
def test_acl_log_entry_ids_and_timestamps(server, admin):
    """Redis 7.2's fields, which Keel adds to 7.0's entry."""
    admin.execute_command("ACL", "SETUSER", "lg", "on", ">pw", "-@all")
    rc = conn(server, "lg")
    rc.call("GET", "a")
    rc.call("DEL", "a")
    e1, e0 = log_entries(server)
    assert e1["entry-id"] == e0["entry-id"] + 1
    now = int(time.time() * 1000)
    assert abs(e0["timestamp-created"] - now) < 30000 and e0["timestamp-last-updated"] >= e0["timestamp-created"]


# ---- authentication and connections ----


def test_auth_and_hello(server, admin):
    admin.execute_command("ACL", "SETUSER", "v", "on", ">pw", "+@all", "~*")
    admin.execute_command("ACL", "SETUSER", "nc", "on", "nopass", "-@all")
    rc = RespConn(server)
    assert rc.call("AUTH", "nc", "x") == "OK"
    assert err_text(rc.call("PING")) == NOPERM_CMD % "ping"
    assert rc.call("AUTH", "v", "pw") == "OK"
    assert rc.call("ACL", "WHOAMI") == b"v"
    assert err_text(rc.call("AUTH", "v", "bad")) == WRONGPASS
    assert err_text(rc.call("AUTH", "nobody", "x")) == WRONGPASS
    assert rc.call("ACL", "WHOAMI") == b"v"  # a failed AUTH keeps the user
    hello = rc.call("HELLO", "3", "AUTH", "nc", "x")
    assert hello[b"proto"] == 3
    assert rc.call("AUTH", "v", "pw") == "OK"
    assert rc.call("ACL", "WHOAMI") == b"v"
    assert err_text(rc.call("HELLO", "2", "AUTH", "v", "bad")) == WRONGPASS
    info = rc.call("CLIENT", "INFO")
    assert b" user=v " in info
    assert rc.call("RESET") == "RESET"
    assert rc.call("ACL", "WHOAMI") == b"default"
    # A disabled user cannot log in; its open connections stay (Redis 7.0).
    admin.execute_command("ACL", "SETUSER", "v", "off")
    assert err_text(rc.call("AUTH", "v", "pw")) == WRONGPASS
    assert err_text(RespConn(server).call("AUTH", "v", "pw")) == WRONGPASS


@keel_only
def test_hello_reads_its_options_before_authenticating(server, admin):
    """Redis 7.2's order (its HELLO reads every option, then authenticates
    with the last AUTH, so that a module's auth callback can block it);
    Redis 7.0 authenticated inside its option loop."""
    admin.execute_command("ACL", "SETUSER", "v", "on", ">pw", "+@all", "~*")
    admin.execute_command("ACL", "SETUSER", "w", "on", ">pw2", "+@all", "~*")
    rc = RespConn(server)
    # A bad SETNAME (or option) after AUTH: refused before the client
    # authenticates, so it keeps its user.
    reply = rc.call("HELLO", "2", "AUTH", "v", "pw", "SETNAME", "bad name")
    assert err_text(reply) == "ERR Client names cannot contain spaces, newlines or special characters."
    assert err_text(rc.call("HELLO", "2", "AUTH", "v", "pw", "BOGUS")) == "ERR Syntax error in HELLO option 'BOGUS'"
    assert rc.call("ACL", "WHOAMI") == b"default"
    # Of two AUTH options the last counts.
    rc.call("HELLO", "2", "AUTH", "v", "bad", "AUTH", "w", "pw2")
    assert rc.call("ACL", "WHOAMI") == b"w"
    assert err_text(rc.call("HELLO", "2", "AUTH", "v", "pw", "AUTH", "w", "bad")) == WRONGPASS
    assert rc.call("ACL", "WHOAMI") == b"w"
    rc.close()


def test_off_user_keeps_connections_deluser_closes_them(server, admin):
    admin.execute_command("ACL", "SETUSER", "v", "on", ">pw", "+@all", "~*")
    rc = conn(server, "v")
    admin.execute_command("ACL", "SETUSER", "v", "off")
    assert rc.call("PING") == "PONG"
    other = RespConn(server)
    assert admin.execute_command("ACL", "DELUSER", "v") == 1
    with pytest.raises((ConnectionError, OSError)):
        rc.call("PING")
    assert other.call("PING") == "PONG"


def test_client_kill_user_and_list(server, admin):
    admin.execute_command("ACL", "SETUSER", "v", "on", ">pw", "+@all", "~*")
    rc1, rc2 = conn(server, "v"), conn(server, "v")
    users = [line.split(" user=")[1].split(" ")[0] for line in admin.execute_command("CLIENT", "LIST").splitlines()]
    assert users.count("v") == 2
    rc = RespConn(server)
    assert err_text(rc.call("CLIENT", "KILL", "USER", "nosuch")) == "ERR No such user 'nosuch'"
    assert admin.execute_command("CLIENT", "KILL", "USER", "v") == 2
    for c in (rc1, rc2):
        with pytest.raises((ConnectionError, OSError)):
            c.call("PING")


def test_requirepass_is_default_users_password(keel):
    s = keel("--requirepass", "secret")
    c = s.client(decode_responses=True)
    with pytest.raises(redis.AuthenticationError):
        c.ping()
    assert c.execute_command("AUTH", "secret")
    digest = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
    assert c.execute_command("ACL", "LIST") == ["user default on #%s ~* &* +@all" % digest]
    assert c.execute_command("AUTH", "default", "secret")
    with pytest.raises(redis.ResponseError, match="WRONGPASS"):
        c.execute_command("AUTH", "nope")
    c.config_set("requirepass", "")
    assert c.execute_command("ACL", "LIST") == ["user default on nopass ~* &* +@all"]
    rc = RespConn(s)
    assert err_text(rc.call("AUTH", "x")) == ("ERR AUTH <password> called without any password configured for the "
                                              "default user. Are you sure your configuration is correct?")
    assert rc.call("PING") == "PONG"
    c.config_set("requirepass", "again")
    assert err_text(RespConn(s).call("PING")) == "NOAUTH Authentication required."


def test_default_user_with_password_via_setuser(server, admin):
    admin.execute_command("ACL", "SETUSER", "default", "resetpass", ">dpw")
    try:
        rc = RespConn(server)
        assert err_text(rc.call("GET", "x")) == "NOAUTH Authentication required."
        assert rc.call("AUTH", "dpw") == "OK"
        assert rc.call("GET", "x") is None
    finally:
        admin.execute_command("ACL", "SETUSER", "default", "nopass")


# ---- aclfile and user directives ----


def test_aclfile_startup_load_save(keel, tmp_path):
    path = tmp_path / "users.acl"
    path.write_text("user default on nopass ~* &* +@all\nuser alice on >pw ~a* +get\n\n")
    s = keel("--aclfile", str(path))
    c = s.client(decode_responses=True)
    assert c.execute_command("ACL", "LIST") == [
        "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a* resetchannels -@all "
        "+get",
        "user default on nopass ~* &* +@all",
    ]
    alice = RespConn(s)
    assert alice.call("AUTH", "alice", "pw") == "OK"
    # A bad file keeps the users, and names every bad line.
    path.write_text("user default on nopass ~* &* +@all\nuser bob on +nosuch\nfoo bar\n")
    rc = RespConn(s)
    assert err_text(rc.call("ACL", "LOAD")) == (
        "ERR %s:2: Error in applying operation '+nosuch': Unknown command or category name in ACL. "
        "%s:3 should start with user keyword followed by the username. "
        "WARNING: ACL errors detected, no change to the previously active ACL rules was performed" % (path, path))
    path.write_text("user default on nopass ~* &* +@all\nuser bob on\nuser bob off\n")
    assert err_text(rc.call("ACL", "LOAD")) == (
        "ERR WARNING: Duplicate user 'bob' found on line 3. "
        "WARNING: ACL errors detected, no change to the previously active ACL rules was performed")
    assert "alice" in c.execute_command("ACL", "USERS")
    assert alice.call("GET", "a1") is None
    # SAVE writes what LIST shows; LOAD reads it back.
    c.execute_command("ACL", "SETUSER", "zed", "on", ">z", "~z*", "&zc", "+@hash", "(+get ~g*)")
    before = c.execute_command("ACL", "LIST")
    assert c.execute_command("ACL", "SAVE") == "OK"
    assert path.read_text() == "".join(line + "\n" for line in before)
    c.execute_command("ACL", "DELUSER", "zed")
    assert c.execute_command("ACL", "LOAD") == "OK"
    assert c.execute_command("ACL", "LIST") == before
    # Users replaced by LOAD lose their connections.
    with pytest.raises((ConnectionError, OSError)):
        alice.call("PING")
    path.unlink()
    assert err_text(rc.call("ACL", "LOAD")) == (
        "ERR Error loading ACLs, opening file '%s': No such file or directory" % path)


def test_acl_load_save_without_aclfile(server):
    rc = RespConn(server)
    text = ("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL "
            "SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in "
            "order to store users in the Redis configuration.")
    assert err_text(rc.call("ACL", "LOAD")) == text
    assert err_text(rc.call("ACL", "SAVE")) == text


def test_bad_aclfile_fails_startup(tmp_path):
    path = tmp_path / "bad.acl"
    path.write_text("user default on nopass ~* &* +@all\nuser bob on +nosuch\n")
    with pytest.raises(RuntimeError) as e:
        Server("--aclfile", str(path))
    assert ("%s:2: Error in applying operation '+nosuch': Unknown command or category name in ACL" % path) in \
        str(e.value)


def test_user_directives_in_config(keel):
    s = keel(config='user alice on >pw ~a* +get\nuser default on nopass ~* &* +@all -flushall\n')
    c = s.client(decode_responses=True)
    assert c.execute_command("ACL", "LIST") == [
        "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a* resetchannels -@all "
        "+get",
        "user default on nopass sanitize-payload ~* &* +@all -flushall",
    ]
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.flushall()


def test_user_directives_and_aclfile_conflict(tmp_path):
    path = tmp_path / "u.acl"
    path.write_text("user alice on +get\n")
    with pytest.raises(RuntimeError) as e:
        Server("--aclfile", str(path), "--user", "bob", "on")
    assert "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid" \
        in str(e.value)


def test_config_rewrite_writes_users(keel):
    s = keel(config="hz 20\nuser carol on >c ~c* +get\n")
    c = s.client(decode_responses=True)
    c.execute_command("ACL", "SETUSER", "bob", "on", ">x", "~a", "+get")
    assert c.execute_command("CONFIG", "REWRITE") == "OK"
    with open(os.path.join(s.dir, "keel.conf")) as f:
        text = f.read()
    users = [line for line in text.splitlines() if line.startswith("user ")]
    assert users == c.execute_command("ACL", "LIST")
    assert len(users) == 3
    s2 = keel(config=text)
    c2 = s2.client(decode_responses=True)
    assert acl_list_line(c2, "bob") == acl_list_line(c, "bob")
    assert acl_list_line(c2, "carol") == acl_list_line(c, "carol")


@keel_only
def test_aof_replay_ignores_acl_rules(keel):
    """The AOF is replayed for the server itself: a default user that may
    not FLUSHALL or DEL does not stop them replaying (in MULTI too).
    Keel-only: Redis 7.0 re-checks EXEC's commands against the default user
    while loading and drops the DEL (k3 survives a restart)."""
    conf = "appendonly yes\nappendfsync always\nuser default on nopass ~* &* +@all -flushall -del\nuser adm on >a ~* +@all\n"
    s = keel(config=conf)
    c = s.client(username="adm", password="a")
    c.set("k1", "v")
    c.flushall()
    p = c.pipeline(transaction=True)
    p.set("k3", "v")
    p.delete("k3")
    p.set("k2", "v")
    assert p.execute() == [True, 1, True]
    c.close()
    s.stop()
    s2 = keel("--dir", s.dir, config=conf)
    assert s2.client().keys("*") == [b"k2"]


def test_sort_by_and_get_need_full_key_access(server, admin):
    admin.execute_command("ACL", "SETUSER", "so", "on", ">pw", "~l*", "+@all")
    admin.execute_command("ACL", "SETUSER", "all", "on", ">pw", "%R~*", "~l*", "+@all")
    admin.rpush("l1", 3, 1, 2)
    rc = conn(server, "so")
    assert rc.call("SORT", "l1") == [b"1", b"2", b"3"]
    assert rc.call("SORT", "l1", "BY", "nosort") == [b"3", b"1", b"2"]
    by = "ERR BY option of SORT denied due to insufficient ACL permissions."
    get = "ERR GET option of SORT denied due to insufficient ACL permissions."
    assert err_text(rc.call("SORT", "l1", "BY", "w_*")) == by
    assert err_text(rc.call("SORT_RO", "l1", "BY", "w_*")) == by
    assert err_text(rc.call("SORT", "l1", "GET", "#")) == get
    assert err_text(rc.call("SORT", "l1", "BY", "nosort", "GET", "o_*")) == get
    # In a script the caller's user counts.
    assert err_text(rc.call("EVAL", "return redis.pcall('sort', KEYS[1], 'get', '#')", "1", "l1")) == get
    full = conn(server, "all")
    assert full.call("SORT", "l1", "BY", "w_*", "GET", "#") == [b"1", b"2", b"3"]


RULE_POOL = ["+@read", "-@read", "+@write", "-@write", "+@string", "-@string", "+@hash", "-@list", "+@admin",
             "-@dangerous", "+@fast", "-@slow", "+@pubsub", "+@keyspace", "-@keyspace", "+@all", "-@all",
             "allcommands", "nocommands", "+get", "-get", "+set", "-set", "+config", "-config", "+config|get",
             "-config|set", "+client|id", "-client", "+select|0", "+object|encoding", "-object", "+acl|whoami",
             "~a*", "%R~r*", "%W~w*", "%RW~rw*", "resetkeys", "&ch*", "resetchannels", "allchannels",
             "(+get ~s*)", "(+@write %W~x*)", "clearselectors", "on", "off", "nopass", ">pw", "resetpass"]
DRY = [["GET", "a1"], ["GET", "r1"], ["SET", "w1", "v"], ["SET", "a1", "v"], ["CONFIG", "GET", "x"],
       ["CONFIG", "SET", "hz", "10"], ["CLIENT", "ID"], ["CLIENT", "KILL", "ID", "1"], ["SELECT", "0"],
       ["SELECT", "1"], ["OBJECT", "ENCODING", "a1"], ["HSET", "a1", "f", "v"], ["LPUSH", "s1", "x"],
       ["PUBLISH", "ch1", "m"], ["PUBLISH", "zz", "m"], ["DEBUG", "SLEEP", "0"], ["ACL", "WHOAMI"], ["GET", "s1"],
       ["GET", "w1"], ["SET", "r1", "v"], ["INCR", "rw1"], ["INCR", "w1"], ["EXISTS", "w1"], ["SET", "x1", "v"],
       ["LMOVE", "r1", "w1", "LEFT", "LEFT"], ["COPY", "r1", "w2"], ["SUBSCRIBE", "ch1", "zz"], ["PSUBSCRIBE", "ch*"]]


def test_random_rules_round_trip(admin):
    """ACL LIST's description of any rule sequence, applied to a fresh user,
    gives the same description and the same permissions (DRYRUN)."""
    import random
    rnd = random.Random(12345)
    for _ in range(150):
        rules = [rnd.choice(RULE_POOL) for _ in range(rnd.randint(1, 8))]
        if "allkeys" in rules:
            continue
        try:
            admin.execute_command("ACL", "SETUSER", "ra", "reset", *rules)
        except redis.ResponseError as e:
            # Only the documented conflicts may fail.
            assert "Adding a pattern after the * pattern" in str(e), (rules, e)
            continue
        line = acl_list_line(admin, "ra")
        words = line.split()[2:]
        # Quote-free here: no rule in the pool has spaces except selectors, rejoined below.
        args, cur = [], None
        for w in words:
            if cur is not None:
                cur += " " + w
                if w.endswith(")"):
                    args.append(cur)
                    cur = None
            elif w.startswith("(") and not w.endswith(")"):
                cur = w
            else:
                args.append(w)
        admin.execute_command("ACL", "SETUSER", "rb", "reset", *args)
        # Same words (Redis's single-command order is its hash order, not stable).
        assert sorted(acl_list_line(admin, "rb").split()) == sorted(line.replace("user ra ", "user rb ", 1).split())
        for d in DRY:
            assert admin.execute_command("ACL", "DRYRUN", "ra", *d) == \
                admin.execute_command("ACL", "DRYRUN", "rb", *d).replace("rb", "ra"), (rules, d)


def test_random_rules_match_redis(admin, redis_ref):
    """The same random rules on this server and on Debian's redis-server
    allow and refuse the same commands, keys and channels (DRYRUN)."""
    import random
    rnd = random.Random(777)
    ref = redis_ref
    for _ in range(150):
        rules = [rnd.choice(RULE_POOL) for _ in range(rnd.randint(1, 8))]
        outcomes = []
        for c in (admin, ref):
            try:
                c.execute_command("ACL", "SETUSER", "rr", "reset", *rules)
                outcomes.append("OK")
            except redis.ResponseError as e:
                outcomes.append(str(e))
        assert outcomes[0] == outcomes[1], rules
        if outcomes[0] != "OK":
            continue
        for d in DRY:
            mine = admin.execute_command("ACL", "DRYRUN", "rr", *d)
            theirs = ref.execute_command("ACL", "DRYRUN", "rr", *d)
            theirs = theirs.decode() if isinstance(theirs, bytes) else theirs
            assert mine == theirs, (rules, d)
    ref.execute_command("ACL", "DELUSER", "rr")


def test_fcall_runs_as_the_caller(server, admin):
    admin.execute_command("FUNCTION", "FLUSH")
    admin.execute_command("FUNCTION", "LOAD", "#!lua name=acllib\n"
                          "redis.register_function('getk', function(keys, args) return redis.call('get', keys[1]) end)\n"
                          "redis.register_function('delk', function(keys, args) return redis.call('del', keys[1]) end)")
    admin.set("foo1", "v")
    admin.execute_command("ACL", "SETUSER", "fu", "on", ">pw", "~foo*", "+@read", "+fcall")
    rc = conn(server, "fu")
    assert rc.call("FCALL", "getk", "1", "foo1") == b"v"
    assert err_text(rc.call("FCALL", "getk", "1", "bar")) == NOPERM_KEY
    e = err_text(rc.call("FCALL", "delk", "1", "foo1"))
    assert e.startswith("ERR The user executing the script can't run this command or subcommand script: ")
    assert admin.get("foo1") == "v"
    admin.execute_command("FUNCTION", "FLUSH")


def test_literal_prefix_patterns_match_as_globs(admin):
    """Keel matches "literal*" key patterns with a prefix compare instead of
    the glob matcher; the answers are the glob's, edge cases included."""
    admin.execute_command("ACL", "SETUSER", "lp", "on", "nopass", "+get", "~pre*", "~a\\*", "~x?*", "~[ab]c*")
    cases = {"pre": True, "prefix": True, "pr": False, "zpre": False, "PRE": False,
             "a*": True, "a": False, "ab": False, "xy": True, "x": False, "xyz": True,
             "ac": True, "bcd": True, "cc": False, "": False}
    for key, allowed in cases.items():
        got = admin.execute_command("ACL", "DRYRUN", "lp", "GET", key)
        assert (got == b"OK" or got == "OK") == allowed, (key, got)


def test_refused_exec_discards_the_transaction(server, admin):
    admin.execute_command("ACL", "SETUSER", "nx", "on", ">pw", "+multi", "+get", "~*")
    c = RespConn(server)
    try:
        assert c.call("AUTH", "nx", "pw") == "OK"
        assert c.call("MULTI") == "OK"
        assert c.call("GET", "foo") == "QUEUED"
        assert str(c.call("EXEC")) == ("EXECABORT Transaction discarded because of: NOPERM this user has no "
                                       "permissions to run the 'exec' command")
        assert c.call("GET", "foo") is None  # no longer in MULTI
    finally:
        c.sock.close()
        admin.execute_command("ACL", "DELUSER", "nx")


def test_failed_logins_are_logged_under_the_command_sent(server, admin):
    admin.execute_command("ACL", "LOG", "RESET")
    admin.execute_command("ACL", "SETUSER", "lg", "on", ">pw")
    c = RespConn(server)
    try:
        for cmd in (("auth", "lg", "x"), ("HELLO", "2", "AUTH", "lg", "x")):
            assert str(c.call(*cmd)).startswith("WRONGPASS")
    finally:
        c.sock.close()
        admin.execute_command("ACL", "DELUSER", "lg")
    objects = [(e["object"], e["count"]) for e in log_entries(server)]
    assert objects == [(b"HELLO", 1), (b"auth", 1)]


def test_setuser_reports_an_unmatched_selector_first(admin):
    with pytest.raises(redis.ResponseError) as e:
        admin.execute_command("ACL", "SETUSER", "um", "on", "+@bad", "(~foo")
    assert str(e.value) == "Unmatched parenthesis in acl selector starting at '(~foo'."
    with pytest.raises(redis.ResponseError) as e:
        admin.execute_command("ACL", "CAT", "read", "x")
    assert str(e.value) == "unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP."


def test_info_counts_denials_by_reason(server, admin):
    """INFO stats' acl_access_denied_* (Redis 7.2): one per denial, by
    reason, as the ACL LOG records them; CONFIG RESETSTAT zeroes them."""
    def denied():
        s = admin.info("stats")
        return [int(s["acl_access_denied_" + r]) for r in ("auth", "cmd", "key", "channel", "tls_cert")]

    admin.config_resetstat()
    assert denied() == [0, 0, 0, 0, 0]
    admin.execute_command("ACL", "SETUSER", "u", "on", ">pw", "+get", "+publish", "~k*", "&ch*")
    rc = RespConn(server)
    assert err_text(rc.call("AUTH", "u", "nope")) == WRONGPASS
    assert rc.call("AUTH", "u", "pw") == "OK"
    assert err_text(rc.call("SET", "k1", "v")) == NOPERM_CMD % "set"
    assert err_text(rc.call("GET", "other")) == NOPERM_KEY
    assert err_text(rc.call("GET", "other2")) == NOPERM_KEY
    assert err_text(rc.call("PUBLISH", "news", "x")) == NOPERM_CHAN
    rc.sock.close()
    assert denied() == [1, 1, 2, 1, 0]
    admin.config_resetstat()
    assert denied() == [0, 0, 0, 0, 0]
