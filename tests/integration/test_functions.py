"""FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL and FCALL/FCALL_RO."""
import time

import pytest
import redis

from conftest import SERVER, err, raw_cmd, resp_exchange

LIB = "#!lua name=mylib\nredis.register_function('echo_key', function(keys, args) return {keys[1], args[1]} end)"
LIB_TABLE = """#!lua name=tlib
redis.register_function{function_name='ro_get', callback=function(keys) return redis.call('get', keys[1]) end,
  flags={'no-writes'}, description='reads a key'}
redis.register_function{function_name='rw_set', callback=function(keys, args)
  return redis.call('set', keys[1], args[1]) end}
"""


def fn(r, *args):
    return r.execute_command("FUNCTION", *args)


@pytest.fixture
def f(r):
    fn(r, "FLUSH")
    yield r
    fn(r, "FLUSH")


def test_load_and_fcall(f):
    assert fn(f, "LOAD", LIB) == b"mylib"
    assert f.fcall("echo_key", 1, "k", "a") == [b"k", b"a"]
    assert err(fn, f, "LOAD", LIB) == "Library 'mylib' already exists"
    assert fn(f, "LOAD", "REPLACE", LIB.replace("{keys[1], args[1]}", "'v2'")) == b"mylib"
    assert f.fcall("echo_key", 0) == b"v2"
    info = f.info("memory")
    assert info["number_of_functions"] == 1 and info["number_of_libraries"] == 1
    assert info["used_memory_vm_functions"] > 0


def test_table_form_and_flags(f):
    assert fn(f, "LOAD", LIB_TABLE) == b"tlib"
    assert f.fcall("rw_set", 1, "k", "v") == b"OK"
    assert f.fcall_ro("ro_get", 1, "k") == b"v"
    assert err(f.fcall_ro, "rw_set", 1, "k", "v") == "Can not execute a script with write flag using *_ro command."
    assert f.get("k") == b"v"


def test_no_writes_function_refuses_writes(f):
    fn(f, "LOAD", "#!lua name=l3\nredis.register_function{function_name='f3', "
       "callback=function() return redis.call('set','x','1') end, flags={'no-writes'}}")
    assert err(f.fcall, "f3", 0) == \
        "Write commands are not allowed from read-only scripts. script: f3, on @user_function:2."


def test_fcall_errors(f):
    fn(f, "LOAD", LIB)
    assert err(f.fcall, "nosuch", 0) == "Function not found"
    assert err(f.fcall, "echo_key", -1) == "Number of keys can't be negative"
    assert err(f.fcall, "echo_key", 5) == "Number of keys can't be greater than number of args"
    assert err(f.fcall, "echo_key", "x") == "Bad number of keys provided"
    fn(f, "LOAD", "#!lua name=l6\nredis.register_function('f6', function() error('boom') end)")
    assert err(f.fcall, "f6", 0) == "user_function:2: boom script: f6, on @user_function:2."
    fn(f, "LOAD", "#!lua name=l5\nredis.register_function('f5', function() return x end)")
    assert err(f.fcall, "f5", 0) == ("user_function:2: Script attempted to access nonexistent global variable 'x' "
                                     "script: f5, on @user_function:2.")


@pytest.mark.parametrize("code,expected", [
    ("return 1", "Missing library metadata"),
    ("#!lua\nreturn 1", "Library name was not given"),
    ("#!lua name=l2\nreturn 1", "No functions registered"),
    ("#!lua name=bad-name\nredis.register_function('f', function() end)",
     "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
    ("#!lua name=l7 foo=bar\nreturn 1", "Invalid metadata value given: foo=bar"),
    ("#!lua name=l7 name=l8\nreturn 1", "Invalid metadata value, name argument was given multiple times"),
    ('#!lua name="l7\nreturn 1', "Invalid library metadata"),
    ('#!lua name="bad\\x00name"\nredis.register_function("f", function() end)',
     "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
    ("#!js name=l7\nreturn 1", "Engine 'js' not found"),
    ("#!lua name=l7\nreturn {", "Error compiling function: user_function:2: unexpected symbol near '<eof>'"),
    ("#!lua name=l3\nredis.register_function('f 2', function() return 1 end)",
     "Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and "
     "must be at least one character long"),
    ("#!lua name=l4\nredis.register_function{function_name='f4', callback=function() end, flags={'bad'}}",
     "Error registering functions: ERR unknown flag given"),
    ("#!lua name=l4\nredis.register_function{function_name='f4', callback=function() end, bogus=1}",
     "Error registering functions: ERR unknown argument given to redis.register_function"),
    ("#!lua name=l4\nredis.register_function('f4', 'notfn')",
     "Error registering functions: ERR second argument to redis.register_function must be a function"),
    ("#!lua name=l4\nredis.register_function('f', function() end)\nredis.register_function('f', function() end)",
     "Error registering functions: ERR Function already exists in the library"),
    ("#!lua name=l6\nredis.call('ping')",
     "Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable "
     "'call'"),
    ("#!lua name=l6\nx=1", "Error registering functions: ERR user_function:2: Attempt to modify a readonly table"),
    ("#!lua name=l6\nos.exit(1)",
     "Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable "
     "'os'"),
])
def test_load_errors(f, code, expected):
    assert err(fn, f, "LOAD", code) == expected
    assert fn(f, "LIST") == []
    assert f.ping()


@pytest.mark.parametrize("shebang", ['#!lua name="ql"', "#!lua name='ql'", '#!lua "name=ql"', "#!lua   name=ql  ",
                                     "#!lua name=ql\r", "#!lua\tname=ql", '#!lua name="\\x71l"'])
def test_shebang_words_split_as_redis_splits_them(f, shebang):
    """The shebang line is split with Redis's quoting rules: quotes (and
    escapes inside double quotes) group a word, any blank separates."""
    assert fn(f, "LOAD", shebang + "\nredis.register_function('qf', function() return 7 end)") == b"ql"
    assert f.fcall("qf", 0) == 7


def test_function_name_clash_across_libraries(f):
    fn(f, "LOAD", LIB)
    assert err(fn, f, "LOAD", LIB.replace("mylib", "other")) == "Function echo_key already exists"
    assert [lib[1] for lib in fn(f, "LIST")] == [b"mylib"]


def test_function_names_match_in_any_case(f):
    """As in Redis 7: FCALL finds a function whatever the case, and a name
    differing only in case clashes with another library's."""
    fn(f, "LOAD", LIB)
    assert f.fcall("ECHO_KEY", 1, "k", "a") == [b"k", b"a"]
    assert err(fn, f, "LOAD", LIB.replace("mylib", "other").replace("'echo_key'", "'Echo_Key'")) == \
        "Function Echo_Key already exists"
    assert [lib[1] for lib in fn(f, "LIST")] == [b"mylib"]


@pytest.mark.skipif(SERVER.endswith("redis-server"), reason="Redis 7.0 loads such a library, then crashes deleting it")
def test_names_differing_in_case_clash_within_a_library(f):
    two = "#!lua name=two\nredis.register_function('g', function() return 1 end)\n" \
          "redis.register_function('G', function() return 2 end)"
    assert err(fn, f, "LOAD", two) == "Error registering functions: ERR Function already exists in the library"
    assert fn(f, "LIST") == []


def test_load_names_extra_arguments_as_unknown_options(f):
    assert err(fn, f, "LOAD", "foo", "bar", LIB) == "Unknown option given: foo"
    assert err(fn, f, "LOAD", "REPLACE", "x", LIB) == "Unknown option given: x"
    assert fn(f, "LIST") == []


def test_debug_reload_noflush_and_merge(keel):
    """DEBUG RELOAD NOFLUSH loads the snapshot on top of what is in memory:
    a library (or key) there already fails it, as in Redis; with MERGE the
    file's replace them."""
    s = keel("--enable-debug-command", "yes")
    c = s.client()
    fn(c, "LOAD", LIB)
    c.set("k", "v")
    assert c.execute_command("DEBUG", "RELOAD") == b"OK"
    with pytest.raises(redis.ResponseError, match="Error trying to load the RDB"):
        c.execute_command("DEBUG", "RELOAD", "NOFLUSH")
    c.set("k", "changed")
    c.set("extra", "1")
    assert c.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == b"OK"
    assert c.get("k") == b"v"  # the file's value won
    assert c.get("extra") == b"1"  # what the file lacks stays
    assert [lib[1] for lib in fn(c, "LIST")] == [b"mylib"]
    assert c.fcall("echo_key", 1, "a", "b") == [b"a", b"b"]


def test_load_timeout(f):
    assert err(fn, f, "LOAD", "#!lua name=slow\nwhile true do end") == \
        "Error registering functions: ERR FUNCTION LOAD timeout"
    assert f.ping()


def test_list_shapes(f):
    fn(f, "LOAD", LIB)
    fn(f, "LOAD", LIB_TABLE)
    libs = sorted(fn(f, "LIST"), key=lambda lib: lib[1])  # (Redis lists in hash order)
    assert [lib[1] for lib in libs] == [b"mylib", b"tlib"]
    tlib = libs[1]
    assert tlib[:4] == [b"library_name", b"tlib", b"engine", b"LUA"]
    funcs = {fd[1]: fd for fd in tlib[5]}
    assert funcs[b"ro_get"] == [b"name", b"ro_get", b"description", b"reads a key", b"flags", [b"no-writes"]]
    assert funcs[b"rw_set"] == [b"name", b"rw_set", b"description", None, b"flags", []]
    withcode = fn(f, "LIST", "WITHCODE", "LIBRARYNAME", "my*")
    assert len(withcode) == 1 and withcode[0][6:] == [b"library_code", LIB.encode()]
    assert fn(f, "LIST", "LIBRARYNAME", "nomatch*") == []
    assert err(fn, f, "LIST", "LIBRARYNAME") == "library name argument was not given"
    assert err(fn, f, "LIST", "BAD") == "Unknown argument BAD"
    # Each option once, as in Redis: a repeated one is unknown.
    assert err(fn, f, "LIST", "withcode", "withcode") == "Unknown argument withcode"
    assert err(fn, f, "LIST", "libraryname", "a", "libraryname", "b") == "Unknown argument libraryname"


def test_list_resp3_is_maps(server, f):
    fn(f, "LOAD", LIB_TABLE)
    s = server.raw()
    resp_exchange(s, raw_cmd("HELLO", 3))
    out = resp_exchange(s, raw_cmd("FUNCTION", "LIST", "LIBRARYNAME", "tlib"))
    assert out.startswith(b"*1\r\n%3\r\n$12\r\nlibrary_name\r\n$4\r\ntlib\r\n")
    assert b"~1\r\n+no-writes\r\n" in out
    s.close()


def test_delete_and_flush(f):
    fn(f, "LOAD", LIB)
    fn(f, "LOAD", LIB_TABLE)
    assert err(fn, f, "DELETE", "nosuch") == "Library not found"
    assert fn(f, "DELETE", "mylib") == b"OK"
    assert err(f.fcall, "echo_key", 0) == "Function not found"
    assert f.fcall("rw_set", 1, "k", "v") == b"OK"
    assert err(fn, f, "FLUSH", "BAD") == "FUNCTION FLUSH only supports SYNC|ASYNC option"
    assert fn(f, "FLUSH", "ASYNC") == b"OK"
    assert fn(f, "LIST") == []
    assert err(f.fcall, "rw_set", 0) == "Function not found"


def test_dump_restore(f):
    fn(f, "LOAD", LIB)
    fn(f, "LOAD", LIB_TABLE)
    payload = fn(f, "DUMP")
    fn(f, "FLUSH")
    assert fn(f, "RESTORE", payload) == b"OK"
    assert sorted(lib[1] for lib in fn(f, "LIST")) == [b"mylib", b"tlib"]  # (Redis: hash order)
    assert f.fcall("echo_key", 1, "k", "a") == [b"k", b"a"]
    # APPEND (the default) refuses existing libraries and changes nothing
    # (Redis names the library without the quotes FUNCTION LOAD puts).
    clash = ("Library mylib already exists", "Library tlib already exists")  # the payload's first
    assert err(fn, f, "RESTORE", payload) in clash
    assert err(fn, f, "RESTORE", payload, "APPEND") in clash
    assert fn(f, "RESTORE", payload, "REPLACE") == b"OK"
    fn(f, "DELETE", "tlib")
    fn(f, "LOAD", "#!lua name=extra\nredis.register_function('x', function() return 1 end)")
    assert fn(f, "RESTORE", payload, "FLUSH") == b"OK"
    assert sorted(lib[1] for lib in fn(f, "LIST")) == [b"mylib", b"tlib"]  # (Redis: hash order)
    assert err(fn, f, "RESTORE", "garbage") == "DUMP payload version or checksum are wrong"
    assert err(fn, f, "RESTORE", payload[:-1] + b"X") == "DUMP payload version or checksum are wrong"
    assert err(fn, f, "RESTORE", payload, "BAD") == \
        "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."


def test_stats_and_subcommand_errors(f):
    fn(f, "LOAD", LIB)
    assert fn(f, "STATS") == [b"running_script", None, b"engines",
                              [b"LUA", [b"libraries_count", 1, b"functions_count", 1]]]
    assert err(fn, f, "KILL") == "NOTBUSY No scripts in execution right now."
    assert err(fn, f, "FOO") == "unknown subcommand 'FOO'. Try FUNCTION HELP."
    assert err(fn, f, "DELETE") == "wrong number of arguments for 'function|delete' command"
    assert err(f.execute_command, "FUNCTION") == "wrong number of arguments for 'function' command"
    assert len(fn(f, "HELP")) > 10
    assert err(fn, f, "HELP", "x") == "wrong number of arguments for 'function|help' command"
    assert err(f.eval, "return redis.call('function', 'list')", 0).startswith(
        "This Redis command is not allowed from script")
    assert err(f.eval, "return redis.call('fcall', 'echo_key', 0)", 0).startswith(
        "This Redis command is not allowed from script")


def test_allow_stale_functions_on_a_stale_replica(keel):
    """replica-serve-stale-data no, link down: a function without
    allow-stale gets MASTERDOWN; one with it runs, but only commands that
    may run on a stale replica (INFO yes, GET no), as in Redis."""
    s = keel()
    c = s.client()
    fn(c, "LOAD", "#!lua name=stale\n"
       "redis.register_function{function_name='f1', callback=function() return 'hello' end, flags={'no-writes'}}\n"
       "redis.register_function{function_name='f2', callback=function() return 'hello' end, "
       "flags={'allow-stale', 'no-writes'}}\n"
       "redis.register_function{function_name='f3', callback=function() return redis.call('get', 'x') end, "
       "flags={'allow-stale', 'no-writes'}}\n"
       "redis.register_function{function_name='f4', callback=function() return redis.call('info', 'server') end, "
       "flags={'allow-stale', 'no-writes'}}")
    c.config_set("replica-serve-stale-data", "no")
    c.execute_command("REPLICAOF", "127.0.0.1", 1)
    try:
        assert err(c.fcall, "f1", 0).startswith("MASTERDOWN Link with MASTER is down")
        assert c.fcall("f2", 0) == b"hello"
        assert err(c.fcall, "f3", 0) == "Can not execute the command on a stale replica script: f3, on @user_function:4."
        assert b"redis_version" in c.fcall("f4", 0)
    finally:
        c.execute_command("REPLICAOF", "NO", "ONE")


def test_function_kill(keel):
    s = keel("--busy-reply-threshold", "100")
    c = s.client()
    fn(c, "LOAD", "#!lua name=busy\nredis.register_function('spin', function() while true do end end)")
    a = s.raw()
    a.sendall(raw_cmd("FCALL", "spin", 0))
    time.sleep(0.4)
    b = s.raw()
    busy = b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
    assert resp_exchange(b, raw_cmd("GET", "x")) == busy
    assert resp_exchange(b, raw_cmd("SCRIPT", "KILL")) == busy
    # FUNCTION STATS is allowed while busy (Redis's allow-busy flag) and
    # names what runs; other FUNCTION subcommands are not.
    stats = c.execute_command("FUNCTION", "STATS")
    assert stats[0] == b"running_script"
    assert stats[1][:4] == [b"name", b"spin", b"command", [b"FCALL", b"spin", b"0"]]
    assert resp_exchange(b, raw_cmd("FUNCTION", "LIST")) == busy
    assert resp_exchange(b, raw_cmd("FUNCTION", "KILL")) == b"+OK\r\n"
    a.settimeout(10)
    assert a.recv(1000) == b"-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
    assert c.ping()
    a.close()
    b.close()


@pytest.mark.parametrize("name", ["error", "string", "pairs", "_G", "redis.setresp", "redis.sha1hex",
                                  "redis.error_reply", "redis.pcall"])
def test_load_time_sees_only_the_load_api(f, name):
    # As in Redis: while FUNCTION LOAD runs a library's code, `redis` (with
    # register_function, log, LOG_* and the version) is its only global.
    code = "#!lua name=lt\nlocal v = %s\nredis.register_function('lt', function() return 1 end)" % name
    assert err(fn, f, "LOAD", code) == ("Error registering functions: ERR user_function:2: Script attempted to "
                                        "access nonexistent global variable '%s'" % name.split(".")[-1])


def test_functions_see_every_global_when_called(f):
    fn(f, "LOAD", "#!lua name=lg\nredis.log(redis.LOG_NOTICE, 'loading lg')\n"
       "local v = redis.REDIS_VERSION_NUM\n"
       "local function up(s) return string.upper(s) end\n"
       "redis.register_function('lg', function(keys, args) "
       "return {up(args[1]), redis.sha1hex('a'), type(pairs), v > 0} end)")
    assert f.fcall("lg", 0, "abc") == [b"ABC", b"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8", b"function", 1]


def test_fcall_keys_and_args_are_arguments_not_globals(f):
    fn(f, "LOAD", "#!lua name=ka\nredis.register_function('ka', function(keys, args) "
       "return {#keys, #args, type(KEYS)} end)")
    assert "nonexistent global variable 'KEYS'" in err(f.fcall, "ka", 1, "k", "a", "b")


def test_libraries_are_isolated_from_eval(f):
    fn(f, "LOAD", LIB)
    # The eval VM cannot see the function VM's registrations or redis.register_function.
    assert "nonexistent" not in str(f.eval("return tostring(redis.register_function)", 0))
    assert f.eval("return redis.register_function == nil", 0) == 1
