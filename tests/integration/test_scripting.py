"""EVAL, EVALSHA, EVAL_RO, SCRIPT: conversions, errors, sandbox, busy scripts."""
import contextlib
import hashlib
import socket
import threading
import time

import pytest
import redis

from conftest import SERVER, err, raw_cmd, resp_exchange, seed_script

LOCK_RELEASE = seed_script("lock_release.lua")

RATE_LIMIT = seed_script("rate_limiter.lua")


def sha(s):
    return hashlib.sha1(s.encode()).hexdigest()


# ---- the seed's scripts, verbatim ----


def test_lock_release_script(r):
    r.set("lock:order", "token-1")
    assert r.eval(LOCK_RELEASE, 1, "lock:order", "wrong") == 0
    assert r.get("lock:order") == b"token-1"
    assert r.eval(LOCK_RELEASE, 1, "lock:order", "token-1") == 1
    assert r.exists("lock:order") == 0
    assert r.eval(LOCK_RELEASE, 1, "lock:order", "token-1") == 0


def has_command(server, name):
    sock = server.raw()
    reply = resp_exchange(sock, raw_cmd("COMMAND", "INFO", name))
    sock.close()
    return reply not in (b"*1\r\n*-1\r\n", b"*1\r\n$-1\r\n", b"*1\r\n_\r\n")


def test_rate_limiter_script(server, r):
    if not has_command(server, "zadd"):
        pytest.skip("COMMAND INFO zadd is nil: sorted sets not in this build yet")
    now = 1_000_000
    results = [r.eval(RATE_LIMIT, 1, "rl:user", now + i, now + i - 60, 3, 60) for i in range(5)]
    assert results == [1, 1, 1, 0, 0]
    assert r.zcard("rl:user") == 3
    assert 0 < r.ttl("rl:user") <= 60
    # Past the window the old entries go and requests pass again.
    later = now + 1000
    assert r.eval(RATE_LIMIT, 1, "rl:user", later, later - 60, 3, 60) == 1
    assert r.zcard("rl:user") == 1


# ---- the cache ----


def test_evalsha_after_script_load(r):
    body = "return ARGV[1] .. KEYS[1]"
    h = r.script_load(body)
    assert h == sha(body)
    assert r.evalsha(h, 1, "k", "v") == b"vk"
    assert r.script_exists(h, "f" * 40, "short") == [True, False, False]
    assert r.execute_command("SCRIPT", "FLUSH") == b"OK"
    with pytest.raises(redis.exceptions.NoScriptError, match="No matching script. Please use EVAL."):
        r.evalsha(h, 0)


def test_eval_caches_the_script(r):
    r.script_flush()
    body = "return 42"
    assert r.eval(body, 0) == 42
    assert r.script_exists(sha(body)) == [True]
    assert r.evalsha(sha(body), 0) == 42
    info = r.info("memory")
    assert info["number_of_cached_scripts"] == 1
    assert info["used_memory_lua"] > 0
    assert info["used_memory_vm_eval"] == info["used_memory_lua"]
    r.script_flush("ASYNC")
    assert r.info("memory")["number_of_cached_scripts"] == 0


def test_evalsha_ignores_case_and_checks_length(r):
    # Redis folds the digest's case (EVALSHA, EVALSHA_RO, SCRIPT EXISTS);
    # clients that print hashes in upper case rely on it.
    h = r.script_load("return 1")
    assert r.evalsha(h.upper(), 0) == 1
    assert r.evalsha_ro(h.upper(), 0) == 1
    assert r.script_exists(h.upper(), h[:20] + h[20:].upper()) == [True, True]
    # Errors name the script by its lowercase digest, whatever was sent.
    r.set("s", "x")
    body = "return redis.call('lpush', KEYS[1], 'a')"
    w = r.script_load(body)
    assert err(r.evalsha, w.upper(), 1, "s") == (
        "WRONGTYPE Operation against a key holding the wrong kind of value script: %s, on @user_script:1." % w)
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha("abc", 0)
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha("G" * 40, 0)


def test_script_subcommand_errors(r):
    assert err(r.execute_command, "SCRIPT", "FLUSH", "BAD") == "SCRIPT FLUSH only support SYNC|ASYNC option"
    assert err(r.execute_command, "SCRIPT", "EXISTS") == "wrong number of arguments for 'script|exists' command"
    assert err(r.execute_command, "SCRIPT", "FOO") == "unknown subcommand 'FOO'. Try SCRIPT HELP."
    assert err(r.execute_command, "SCRIPT", "KILL") == "NOTBUSY No scripts in execution right now."
    assert len(r.execute_command("SCRIPT", "HELP")) > 4
    assert err(r.execute_command, "SCRIPT", "LOAD", "return {").startswith(
        "Error compiling script (new function): user_script:1:")


# ---- numkeys and bad input ----


def test_numkeys_errors(r):
    assert err(r.eval, "return 1", 2, "a") == "Number of keys can't be greater than number of args"
    assert err(r.eval, "return 1", -1) == "Number of keys can't be negative"
    assert err(r.eval, "return 1", "abc") == "value is not an integer or out of range"
    assert err(r.eval, "return 1", "99999999999999999999") == "value is not an integer or out of range"
    assert err(r.eval, "return 1", 2**40) == "Number of keys can't be greater than number of args"
    assert err(r.execute_command, "EVAL", "return 1") == "wrong number of arguments for 'eval' command"


def test_keys_and_argv(r):
    assert r.eval("return {KEYS[1], KEYS[2], ARGV[1], #KEYS, #ARGV}", 2, "k1", "k2", "a1", "a2") == [
        b"k1", b"k2", b"a1", 2, 2]
    assert r.eval("return {#KEYS, #ARGV}", 0) == [0, 0]


def test_syntax_error(r):
    assert err(r.eval, "return {1,2,3", 0) == \
        "Error compiling script (new function): user_script:1: '}' expected near '<eof>'"
    assert err(r.eval, "x = = 1", 0).startswith("Error compiling script (new function): user_script:1:")
    assert r.ping()


def test_runtime_error_has_script_and_line(r):
    body = "local a = 1\nerror('boom')"
    assert err(r.eval, body, 0) == "user_script:2: boom script: %s, on @user_script:2." % sha(body)
    body = "return nosuch.field"
    assert err(r.eval, body, 0) == (
        "user_script:1: Script attempted to access nonexistent global variable 'nosuch' script: %s, "
        "on @user_script:1." % sha(body))


def test_error_objects(r):
    body = "error({err='XYZ bad thing'})"
    assert err(r.eval, body, 0) == "XYZ bad thing script: %s, on @user_script:1." % sha(body)
    assert err(r.eval, "error({})", 0).startswith("unknown error script:")
    assert err(r.eval, "error(123)", 0).startswith("user_script:1: 123 script:")
    assert r.ping()


# ---- Lua -> RESP ----


def test_lua_to_resp_conversions(r):
    assert r.eval("return 3.99", 0) == 3
    assert r.eval("return -3.99", 0) == -3
    assert r.eval("return 'str'", 0) == b"str"
    assert r.eval("return true", 0) == 1
    assert r.eval("return false", 0) is None
    assert r.eval("return nil", 0) is None
    assert r.eval("return {1, 2, {3, 'x', nil, 5}, false, true}", 0) == [1, 2, [3, b"x"], None, 1]
    assert r.eval("return {1.5, 'a'}", 0) == [1, b"a"]
    assert r.eval("return {x=1}", 0) == []
    assert r.eval("return {ok='fine'}", 0) == b"fine"
    assert r.eval("return redis.status_reply('PONG')", 0) == b"PONG"
    assert err(r.eval, "return {err='My Error'}", 0) == "My Error"
    assert err(r.eval, "return redis.error_reply('x')", 0) == "x"  # redis-py strips "ERR "
    assert err(r.eval, "return redis.error_reply('MY code')", 0) == "MY code"
    assert r.eval("return {ok=1}", 0) == []
    assert r.eval("return function() end", 0) is None
    # Out of the integer range, and NaN: what Redis's cast gives on x86-64.
    assert r.eval("return 1e300", 0) == -2**63
    assert r.eval("return 0/0", 0) == -2**63


def test_raw_error_reply_prefixes(server):
    s = server.raw()
    assert resp_exchange(s, raw_cmd("EVAL", "return redis.error_reply('x')", 0)) == b"-ERR x\r\n"
    assert resp_exchange(s, raw_cmd("EVAL", "return redis.error_reply('-MY x')", 0)) == b"-MY x\r\n"
    assert resp_exchange(s, raw_cmd("EVAL", "return redis.error_reply('x').err", 0)) == b"$5\r\nERR x\r\n"
    s.close()


def test_resp3_values_from_lua(server):
    s = server.raw()
    body_double = "return {double=3.5}"
    body_map = "return {map={a=1}}"
    body_set = "return {set={a=true}}"
    body_bool = "redis.setresp(3) return {true, false}"
    # RESP2 shapes
    assert resp_exchange(s, raw_cmd("EVAL", body_double, 0)) == b"$3\r\n3.5\r\n"
    assert resp_exchange(s, raw_cmd("EVAL", body_map, 0)) == b"*2\r\n$1\r\na\r\n:1\r\n"
    assert resp_exchange(s, raw_cmd("EVAL", body_set, 0)) == b"*1\r\n$1\r\na\r\n"
    assert resp_exchange(s, raw_cmd("EVAL", body_bool, 0)) == b"*2\r\n:1\r\n:0\r\n"
    # RESP3 shapes
    resp_exchange(s, raw_cmd("HELLO", 3))
    assert resp_exchange(s, raw_cmd("EVAL", body_double, 0)) == b",3.5\r\n"
    assert resp_exchange(s, raw_cmd("EVAL", body_map, 0)) == b"%1\r\n$1\r\na\r\n:1\r\n"
    assert resp_exchange(s, raw_cmd("EVAL", body_set, 0)) == b"~1\r\n$1\r\na\r\n"
    assert resp_exchange(s, raw_cmd("EVAL", body_bool, 0)) == b"*2\r\n#t\r\n#f\r\n"
    # Without setresp(3) booleans keep the RESP2 rule even for RESP3 clients.
    assert resp_exchange(s, raw_cmd("EVAL", "return {true, false}", 0)) == b"*2\r\n:1\r\n_\r\n"
    s.close()


def test_big_number_reply_keeps_to_one_line(server):
    """A big number from Lua has CR and LF turned into spaces, as status and
    error replies do, in both protocols."""
    s = server.raw()
    body = "return {big_number='123\\r\\n456'}"
    assert resp_exchange(s, raw_cmd("EVAL", body, 0)) == b"$8\r\n123  456\r\n"
    resp_exchange(s, raw_cmd("HELLO", 3))
    assert resp_exchange(s, raw_cmd("EVAL", body, 0)) == b"(123  456\r\n"
    assert resp_exchange(s, raw_cmd("PING")) == b"+PONG\r\n"
    s.close()


def test_set_repl_checks_its_argument(r):
    for bad in ("12345", "4", "-1"):
        with pytest.raises(redis.ResponseError, match="Invalid replication flags. Use REPL_AOF, REPL_REPLICA, "
                           "REPL_ALL or REPL_NONE."):
            r.eval("redis.set_repl(%s)" % bad, 0)
    # Redis 7.0's words, though it takes one.
    for call in ("redis.set_repl()", "redis.set_repl(1, 2)"):
        with pytest.raises(redis.ResponseError, match=r"redis.set_repl\(\) requires two arguments."):
            r.eval(call, 0)
    assert r.eval("return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_REPLICA, redis.REPL_SLAVE, redis.REPL_ALL}",
                  0) == [0, 1, 2, 2, 3]
    assert r.eval("redis.set_repl(redis.REPL_ALL) return 1", 0) == 1


def test_scripts_on_a_stale_replica(server):
    """replica-serve-stale-data no, link down: a legacy script (no
    shebang) never runs, not even one calling nothing; a shebang script
    runs only with allow-stale, and then only commands flagged stale."""
    r = server.client()
    r.config_set("replica-serve-stale-data", "no")
    r.execute_command("REPLICAOF", "127.0.0.1", 1)
    masterdown = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
    try:
        assert err(r.eval, "return 1", 0) == masterdown
        assert err(r.eval, "return redis.call('get', KEYS[1])", 1, "x") == masterdown
        assert err(r.eval, "#!lua flags=no-writes\nreturn 1", 0) == masterdown
        assert r.eval("#!lua flags=allow-stale,no-writes\nreturn 1", 0) == 1
        assert r.eval("#!lua flags=allow-stale,no-writes\nreturn redis.call('echo', 'hi')", 0) == b"hi"
        body = "#!lua flags=allow-stale,no-writes\nreturn redis.call('get', KEYS[1])"
        assert err(r.eval, body, 1, "x") == (
            "Can not execute the command on a stale replica script: %s, on @user_script:2." % sha(body))
    finally:
        r.execute_command("REPLICAOF", "NO", "ONE")
        r.config_set("replica-serve-stale-data", "yes")


def test_script_start_refusals_in_redis_order(server):
    """A shebang script that may write is refused before it runs: by *_RO
    commands, past maxmemory OOM (first), on a read-only replica READONLY
    (not OOM: a replica's memory is its primary's business)."""
    r = server.client()
    write = "#!lua\nreturn redis.call('set', KEYS[1], 'v')"
    assert err(r.execute_command, "EVAL_RO", write, 1, "k") == (
        "Can not execute a script with write flag using *_ro command.")
    r.config_set("maxmemory", 1)
    try:
        assert err(r.eval, write, 1, "k").startswith("OOM command not allowed")
        assert err(r.execute_command, "EVAL_RO", write, 1, "k").startswith("OOM command not allowed")
        assert r.eval("#!lua flags=no-writes\nreturn 1", 0) == 1
        r.execute_command("REPLICAOF", "127.0.0.1", 1)
        try:
            assert err(r.eval, write, 1, "k") == "You can't write against a read only replica."
            assert err(r.execute_command, "EVAL_RO", write, 1, "k") == (
                "You can't write against a read only replica.")
        finally:
            r.execute_command("REPLICAOF", "NO", "ONE")
    finally:
        r.config_set("maxmemory", 0)


# ---- RESP -> Lua ----


def test_resp_to_lua_conversions(r):
    r.set("n", "10")
    assert r.eval("return type(redis.call('incr', 'n'))", 0) == b"number"
    assert r.eval("return type(redis.call('get', 'n'))", 0) == b"string"
    assert r.eval("return redis.call('get', 'missing') == false", 0) == 1
    assert r.eval("return redis.call('set', 'k', 'v').ok", 0) == b"OK"
    assert r.eval("return redis.call('set', 'k', 'v')", 0) == b"OK"
    assert r.eval("local t = redis.call('mget', 'k', 'nope', 'n') "
                  "return {type(t), t[1], tostring(t[2]), t[3]}", 0) == [b"table", b"v", b"false", b"11"]
    r.set("s", "x")
    assert r.eval("return redis.pcall('incr', 's').err", 0) == b"ERR value is not an integer or out of range"
    # Numbers given to redis.call become strings.
    assert r.eval("redis.call('set', 'f', 1.5) return redis.call('get', 'f')", 0) == b"1.5"
    assert r.eval("redis.call('set', 'i', 7) return redis.call('get', 'i')", 0) == b"7"


def test_resp3_replies_to_lua(r):
    assert r.eval("redis.setresp(3) return redis.call('get', 'missing') == nil", 0) == 1
    assert r.eval("return redis.call('get', 'missing') == nil", 0) is None
    fmt = r.eval("redis.setresp(3) return redis.call('info', 'server').verbatim_string.format", 0)
    assert fmt == b"txt"
    assert r.eval("return type(redis.call('info', 'server'))", 0) == b"string"
    assert err(r.eval, "redis.setresp(4)", 0).startswith("RESP version must be 2 or 3. script:")


# ---- redis.call vs redis.pcall ----


def test_call_raises_pcall_returns(r):
    r.set("s", "x")
    body = "redis.call('incr', 's') return 'not reached'"
    assert err(r.eval, body, 0) == \
        "value is not an integer or out of range script: %s, on @user_script:1." % sha(body)
    assert r.eval("local e = redis.pcall('incr', 's') return {'caught', e.err}", 0) == [
        b"caught", b"ERR value is not an integer or out of range"]
    # A Lua pcall around redis.call catches the raised error table.
    assert r.eval("local ok, e = pcall(redis.call, 'incr', 's') return {tostring(ok), e.err}", 0) == [
        b"false", b"ERR value is not an integer or out of range"]
    body = "return redis.call('nosuch')"
    assert err(r.eval, body, 0) == \
        "Unknown Redis command called from script script: %s, on @user_script:1." % sha(body)
    assert r.eval("return redis.pcall('nosuch').err", 0) == b"ERR Unknown Redis command called from script"
    assert err(r.eval, "return redis.call('get')", 0).startswith(
        "Wrong number of args calling Redis command from script script:")
    assert err(r.eval, "return redis.call()", 0).startswith(
        "Please specify at least one argument for this redis lib call script:")
    for arg in ("{}", "true", "KEYS"):
        assert err(r.eval, "return redis.call('set', 'a', %s)" % arg, 0).startswith(
            "Lua redis lib command arguments must be strings or integers script:")


def test_noscript_commands_refused(r):
    for call in ("redis.call('config', 'get', 'maxmemory')", "redis.call('eval', 'return 1', '0')",
                 "redis.call('script', 'flush')", "redis.call('function', 'flush')"):
        assert err(r.eval, "return " + call, 0).startswith("This Redis command is not allowed from script")
    assert r.eval("return redis.pcall('config', 'get', 'x').err", 0) == \
        b"ERR This Redis command is not allowed from script"


def test_debug_set_disable_deny_scripts(keel):
    """Redis's test hook: with it on, scripts may call commands flagged
    noscript (CLIENT ID here); Keel still refuses a script from a script."""
    r = keel("--enable-debug-command", "yes").client()
    body = "return redis.call('client', 'id')"
    assert err(r.eval, body, 0).startswith("This Redis command is not allowed from script")
    assert r.execute_command("DEBUG", "SET-DISABLE-DENY-SCRIPTS", 1) == b"OK"
    assert isinstance(r.eval(body, 0), int)  # the script's own client
    if "redis-server" not in SERVER:
        assert err(r.eval, "return redis.call('eval', 'return 1', '0')", 0).startswith(
            "This Redis command is not allowed from script")
    assert r.execute_command("DEBUG", "SET-DISABLE-DENY-SCRIPTS", 0) == b"OK"
    assert err(r.eval, body, 0).startswith("This Redis command is not allowed from script")


def test_eval_ro_refuses_writes(r):
    r.set("a", "1")
    body = "return redis.call('set', 'a', 'b')"
    assert err(r.eval_ro, body, 0) == \
        "Write commands are not allowed from read-only scripts. script: %s, on @user_script:1." % sha(body)
    assert r.get("a") == b"1"
    assert r.eval_ro("return redis.call('get', 'a')", 0) == b"1"
    h = r.script_load("return redis.call('get', KEYS[1])")
    assert r.evalsha_ro(h, 1, "a") == b"1"
    h = r.script_load(body)
    assert err(r.evalsha_ro, h, 0).startswith("Write commands are not allowed from read-only scripts.")
    # may_replicate commands count as writes (a read-only script may run on
    # a replica), as in Redis.
    for body in ("return redis.call('publish', 'ch', 'm')", "return redis.call('pfcount', 'h')"):
        assert err(r.eval_ro, body, 0).startswith("Write commands are not allowed from read-only scripts.")
    assert r.eval("return redis.call('publish', 'ch', 'm')", 0) == 0


def test_shebang_flags(r):
    assert r.eval("#!lua\nreturn 1", 0) == 1
    body = "#!lua flags=no-writes\nreturn redis.call('set','a','b')"
    assert err(r.eval, body, 0) == \
        "Write commands are not allowed from read-only scripts. script: %s, on @user_script:2." % sha(body)
    assert r.eval("#!lua flags=no-writes,allow-oom\nreturn 2", 0) == 2
    assert err(r.eval, "#!lua name=x\nreturn 1", 0) == "Unknown lua shebang option: name=x"
    assert err(r.eval, "#!lua flags=foo\nreturn 1", 0) == "Unexpected flag in script shebang: foo"
    assert err(r.eval, "#!luax\nreturn 1", 0) == "Unexpected engine in script shebang: #!luax"
    assert err(r.eval_ro, "#!lua\nreturn 1", 0) == \
        "Can not execute a script with write flag using *_ro command."
    assert r.eval_ro("#!lua flags=no-writes\nreturn 3", 0) == 3
    assert err(r.eval, "#!lua\nreturn {", 0).startswith(
        "Error compiling script (new function): user_script:2:")


def test_select_inside_script_does_not_leak(r):
    r.set("k", "db0")
    assert r.eval("redis.call('select', 1) redis.call('set', 'k', 'db1') return redis.call('get', 'k')", 0) \
        == b"db1"
    assert r.get("k") == b"db0"
    r.execute_command("SELECT", 1)
    assert r.get("k") == b"db1"
    r.execute_command("SELECT", 0)


# ---- the redis library ----


def test_redis_helpers(r):
    assert r.eval("return redis.sha1hex('')", 0) == b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert err(r.eval, "return redis.sha1hex()", 0).startswith("wrong number of arguments script:")
    assert r.eval("return redis.log(redis.LOG_WARNING, 'from', 'script')", 0) is None
    assert r.eval("return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}", 0) == [
        0, 1, 2, 3]
    assert err(r.eval, "redis.log(10, 'x')", 0).startswith("Invalid debug level. script:")
    assert err(r.eval, "redis.log()", 0).startswith("redis.log() requires two arguments or more. script:")
    assert r.eval("return redis.REDIS_VERSION", 0).count(b".") == 2
    assert r.eval("return redis.setresp(2)", 0) is None
    assert r.eval("return redis.replicate_commands()", 0) == 1


def test_log_reaches_server_log(server, r):
    r.eval("redis.log(redis.LOG_WARNING, 'lua-log-marker', 42)", 0)
    time.sleep(0.1)
    assert "lua-log-marker 42" in server.log_text()


def test_cjson_bit_struct(r):
    assert r.eval("return cjson.encode({1, 2, {a=1}})", 0) == b'[1,2,{"a":1}]'
    assert r.eval("return cjson.decode('[1,2,{\"a\":1.5}]')[3].a * 2", 0) == 3
    assert r.eval("return cjson.decode('{\"k\":\"v\"}').k", 0) == b"v"
    assert r.eval("return {bit.band(7, 3), bit.bor(1, 2), bit.bxor(3, 1), bit.lshift(1, 4)}", 0) == [3, 3, 2, 16]
    assert r.eval("return bit.tohex(255)", 0) == b"000000ff"
    assert r.eval("return struct.pack('>I2', 258)", 0) == b"\x01\x02"
    assert r.eval("return {struct.unpack('>I2', 'ab')}", 0) == [24930, 3]
    assert r.eval("return {struct.unpack('<i4c3', struct.pack('<i4c3', -5, 'xyz'))}", 0) == [-5, b"xyz", 8]
    assert r.eval("return struct.size('>I2bd')", 0) == 11


def test_struct_bad_option_errors_and_evalsha_short_sha(r):
    """Found by the random-command test (texts as Redis 7 replies them)."""
    for fn, call in (("pack", "struct.pack('n', 1)"), ("unpack", "struct.unpack('n', 'abc')")):
        with pytest.raises(redis.ResponseError) as e:
            r.eval("return " + call, 0)
        assert "bad argument #1 to '%s' (invalid format option 'n')" % fn in str(e.value)
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return struct.unpack('s', 'abc')", 0)
    assert "user_script:1: unfinished string in data script:" in str(e.value)
    # struct.size skips what it does not know
    assert r.eval("return struct.size('n')", 0) == 0
    # a SHA1 of the wrong length cannot match: NOSCRIPT before numkeys
    for cmd in ("EVALSHA", "EVALSHA_RO"):
        with pytest.raises(redis.ResponseError, match="^No matching script. Please use EVAL.$"):
            r.execute_command(cmd, "abc", "x")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.execute_command("EVALSHA", "0" * 40, "x")


# ---- sandbox ----


@pytest.mark.parametrize("body,expected", [
    ("return os.execute('true')", "nonexistent global variable 'os'"),
    ("return io.open('/etc/passwd')", "nonexistent global variable 'io'"),
    ("return package.loadlib('libc.so.6', 'system')", "nonexistent global variable 'package'"),
    ("return require('os')", "nonexistent global variable 'require'"),
    ("return debug.getinfo(1)", "nonexistent global variable 'debug'"),
    ("return dofile('/etc/passwd')", "nonexistent global variable 'dofile'"),
    ("return loadfile('/etc/passwd')", "nonexistent global variable 'loadfile'"),
    ("return getfenv(0)", "nonexistent global variable 'getfenv'"),
    ("return setfenv(1, {})", "nonexistent global variable 'setfenv'"),
    ("return newproxy(true)", "nonexistent global variable 'newproxy'"),
    ("return print('x')", "nonexistent global variable 'print'"),
    ("x = 1", "user_script:1: Attempt to modify a readonly table"),
    ("_G.x = 1", "user_script:1: Attempt to modify a readonly table"),
    ("rawset(_G, 'x', 1)", "Attempt to modify a readonly table"),
    ("setmetatable(_G, nil)", "Attempt to modify a readonly table"),
    ("string.upper = nil", "user_script:1: Attempt to modify a readonly table"),
    ("redis.call = nil", "user_script:1: Attempt to modify a readonly table"),
    ("cjson.encode = nil", "user_script:1: Attempt to modify a readonly table"),
    ("getmetatable('').__index.upper = nil", "user_script:1: Attempt to modify a readonly table"),
    ("local g = getmetatable(_G) g.__index = {}", "Attempt to modify a readonly table"),
    ("return loadstring(string.dump(function() return 1 end))()", "attempt to call a nil value"),
])
def test_sandbox_escapes_refused(r, body, expected):
    assert expected in err(r.eval, body, 0)
    assert r.ping()
    # Nothing leaked into the next script's world.
    assert r.eval("return string.upper('ok')", 0) == b"OK"
    assert "nonexistent global variable 'x'" in err(r.eval, "return x", 0)


def test_bytecode_refused_everywhere(r):
    assert r.eval("local f, e = loadstring(string.dump(function() return 1 end)) return {tostring(f), e}", 0) == [
        b"nil", b"loading precompiled chunks is not allowed"]
    body = ("local s = string.dump(function() return 1 end) local done = false "
            "local f = load(function() if done then return nil end done = true return s end) "
            "return tostring(f)")
    assert r.eval(body, 0) == b"nil"
    assert err(r.eval, "\x1bLuaQ", 0).startswith("Error compiling script")
    # Source through loadstring still works, and runs sandboxed.
    assert r.eval("return loadstring('return 1 + 1')()", 0) == 2
    assert "nonexistent global variable 'os'" in err(r.eval, "return loadstring('return os')()", 0)


def test_globals_listing_and_readonly_iteration(r):
    names = r.eval("local t = {} for k in pairs(_G) do t[#t + 1] = k end table.sort(t) return t", 0)
    for forbidden in (b"os", b"io", b"debug", b"package", b"require", b"loadfile", b"dofile"):
        assert forbidden not in names
    for wanted in (b"redis", b"cjson", b"bit", b"struct", b"KEYS", b"ARGV", b"string", b"table", b"math"):
        assert wanted in names
    assert r.eval("return rawget(_G, 'redis') ~= nil", 0) == 1
    # Local tables are ordinary.
    assert r.eval("local t = {} rawset(t, 'a', 1) setmetatable(t, {}) return t.a", 0) == 1


# ---- atomicity ----


def test_scripts_are_atomic_under_concurrency(server, r):
    body = """
local v = tonumber(redis.call('get', KEYS[1]) or '0')
local spin = 0
for i = 1, 2000 do spin = spin + i end
redis.call('set', KEYS[1], v + 1)
return v + 1
"""
    r.delete("counter")
    errors = []

    def worker():
        c = server.client()
        try:
            for _ in range(200):
                c.eval(body, 1, "counter")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert r.get("counter") == b"400"


def test_commandstats_count_scripts(r):
    before = r.info("commandstats").get("cmdstat_eval", {}).get("calls", 0)
    set_before = r.info("commandstats").get("cmdstat_set", {}).get("calls", 0)
    r.eval("redis.call('set', 'x', 1) redis.call('set', 'y', 2)", 0)
    stats = r.info("commandstats")
    assert stats["cmdstat_eval"]["calls"] == before + 1
    assert stats["cmdstat_set"]["calls"] == set_before + 2


# ---- memory ----


def test_oom_refuses_first_write_in_script(keel):
    s = keel()
    c = s.client()
    c.set("k", "v")
    c.config_set("maxmemory", "1")
    body = "return redis.call('set', 'k', 'w')"
    assert err(c.eval, body, 0) == \
        "OOM command not allowed when used memory > 'maxmemory'. script: %s, on @user_script:1." % sha(body)
    assert c.eval("return redis.pcall('set', 'k', 'w').err", 0) == \
        b"OOM command not allowed when used memory > 'maxmemory'."
    assert c.eval("return redis.call('get', 'k')", 0) == b"v"
    assert err(c.eval, "#!lua\nreturn redis.call('get','k')", 0) == \
        "OOM command not allowed when used memory > 'maxmemory'."
    assert c.eval("#!lua flags=no-writes\nreturn redis.call('get','k')", 0) == b"v"
    assert c.eval("#!lua flags=allow-oom\nreturn redis.call('set','k','w')", 0) == b"OK"
    c.config_set("maxmemory", "0")
    assert c.eval(body, 0) == b"OK"
    c.close()


# ---- busy scripts ----


def _busy_server(keel):
    s = keel("--busy-reply-threshold", "100")
    return s


def _start(server, *cmd):
    sock = server.raw()
    sock.sendall(raw_cmd(*cmd))
    return sock


def _reply(sock, timeout=10):
    sock.settimeout(timeout)
    return sock.recv(65536)


def test_busy_script_and_script_kill(keel):
    s = _busy_server(keel)
    a = _start(s, "EVAL", "local i = 0 while true do i = i + 1 end", 0)
    time.sleep(0.4)
    b = s.raw()
    busy = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    assert resp_exchange(b, raw_cmd("GET", "x")) == busy
    assert resp_exchange(b, raw_cmd("SCRIPT", "EXISTS", "a")) == busy
    assert resp_exchange(b, raw_cmd("FUNCTION", "KILL")) == busy
    assert resp_exchange(b, raw_cmd("SCRIPT", "KILL")) == b"+OK\r\n"
    body = "local i = 0 while true do i = i + 1 end"
    assert _reply(a) == ("-ERR Script killed by user with SCRIPT KILL... script: %s, on @user_script:1.\r\n"
                         % sha(body)).encode()
    assert resp_exchange(b, raw_cmd("PING")) == b"+PONG\r\n"
    assert resp_exchange(a, raw_cmd("PING")) == b"+PONG\r\n"
    a.close()
    b.close()


def test_killed_script_cannot_swallow_the_kill(keel):
    s = _busy_server(keel)
    a = _start(s, "EVAL", "while true do pcall(function() while true do end end) end", 0)
    time.sleep(0.4)
    b = s.raw()
    assert resp_exchange(b, raw_cmd("SCRIPT", "KILL")) == b"+OK\r\n"
    assert _reply(a).startswith(b"-ERR Script killed by user with SCRIPT KILL...")
    a.close()
    b.close()


def test_pipelined_commands_of_the_caller_wait_for_the_script(keel):
    s = _busy_server(keel)
    a = s.raw()
    a.sendall(raw_cmd("EVAL", "local t = redis.call('time') while true do end", 0) + raw_cmd("SET", "after", "1"))
    time.sleep(0.4)
    b = s.raw()
    assert resp_exchange(b, raw_cmd("SCRIPT", "KILL")) == b"+OK\r\n"
    data = b""
    deadline = time.time() + 5
    while data.count(b"\r\n") < 2 and time.time() < deadline:
        data += _reply(a)
    assert data.startswith(b"-ERR Script killed") and data.endswith(b"+OK\r\n")
    c = s.client()
    assert c.get("after") == b"1"
    a.close()
    b.close()


def test_unkillable_after_write_then_shutdown_nosave(keel):
    s = _busy_server(keel)
    a = _start(s, "EVAL", "redis.call('set', 'k', 'v') while true do end", 0)
    time.sleep(0.4)
    b = s.raw()
    assert resp_exchange(b, raw_cmd("SCRIPT", "KILL")) == (
        b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either "
        b"wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n")
    b.sendall(raw_cmd("SHUTDOWN", "NOSAVE"))
    b.settimeout(10)
    assert b.recv(100) == b""  # no reply: the connection closes
    # Once the shutdown's connection is gone, so are the listeners (Redis's
    # test of this asks for a refused connection).
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", s.port), timeout=5).close()
    s.proc.wait(timeout=10)
    assert s.proc.returncode == 0
    a.close()
    b.close()


def test_script_under_threshold_is_not_busy(r):
    assert r.eval("local x = 0 for i = 1, 100000 do x = x + i end return x", 0) == 5000050000


def test_script_calls_of_container_subcommands(r):
    """Subcommands are checked for scripts as dispatch checks them: an
    unknown name and a wrong arity are refused, a known one runs."""
    assert r.eval("return redis.pcall('command', 'foo').err", 0) == b"ERR Unknown Redis command called from script"
    assert r.eval("return redis.pcall('object', 'encoding').err", 0) == \
        b"ERR Wrong number of args calling Redis command from script"
    assert r.eval("return redis.call('command', 'count')", 0) == r.execute_command("COMMAND COUNT")


NUMBERS = ["0", "-0", "1", "-1", "42", "123456789", "99999999999999", "-99999999999999", "100000000000000",
           "1e15", "1e17 - 1", "1e17", "-(1e17) + 1", "123456789012345678", "1.5", "-2.25", "0.1", "1/3", "2^53",
           "-2^63", "2^63", "1e300", "1e-300", "3.0", "1/0", "-1/0", "0/0", "1e21", "123456.789"]


def test_numbers_become_arguments_as_lua_prints_them(r, redis_ref):
    """A Lua number passed to redis.call becomes the text Redis gives it
    ("%.17g": 0.1 is 0.10000000000000001), integers and fractions, large
    and small, -0 and inf included: Keel writes integers itself and must
    agree with Redis on every one."""
    for n in NUMBERS:
        script = "redis.call('set', KEYS[1], %s); return redis.call('get', KEYS[1])" % n
        assert r.eval(script, 1, "k") == redis_ref.eval(script, 1, "k"), n
    # more numbers than the fast path holds: the rest converted by Lua
    script = "return redis.call('rpush', KEYS[1], 1, 2.5, 3, -4, 5, 6, 7, 8, 9, 10, 1e20, -0)"
    for c in (r, redis_ref):
        c.delete("l")
        c.eval(script, 1, "l")
    assert r.lrange("l", 0, -1) == redis_ref.lrange("l", 0, -1)


def test_command_names_from_scripts_any_case(r, redis_ref):
    """Command names are looked up case-insensitively (through a small
    cache in Keel), unknown and over-long names are errors as in Redis."""
    for name in ("set", "SET", "SeT", "sEt"):
        script = "return redis.call('%s', KEYS[1], ARGV[1])" % name
        assert r.eval(script, 1, "k", name) == redis_ref.eval(script, 1, "k", name)
        assert r.get("k") == name.encode()
    for name in ("nosuchcommand", "x" * 40, "se", "sett", ""):
        script = "return redis.pcall('%s', 'a')" % name
        got = [err(c.eval, script, 0) for c in (r, redis_ref)]
        assert got[0] == got[1] == "Unknown Redis command called from script", name
    # a name reused as another table's string after GC still resolves by content
    script = "local n = string.lower(ARGV[1]); return redis.call(n, KEYS[1])"
    r.set("s", "v")
    r.rpush("l2", "x")
    for _ in range(50):
        assert r.eval(script, 1, "s", "GET") == b"v"
        assert r.eval(script, 1, "l2", "LLEN") == 1


def test_each_call_gets_fresh_keys_and_argv(r):
    """Whatever a script did to KEYS and ARGV, the next call sees only its
    own arguments (Keel refills the last call's tables when it can)."""
    grow = "KEYS[3] = 'x'; ARGV.extra = 1; table.insert(ARGV, 'more'); return {#KEYS, #ARGV}"
    assert r.eval(grow, 2, "a", "b", "v") == [3, 2]
    show = "return {#KEYS, #ARGV, KEYS[1], ARGV[1], tostring(KEYS[3]), tostring(ARGV.extra), tostring(ARGV[2])}"
    assert r.eval(show, 1, "k", "v") == [1, 1, b"k", b"v", b"nil", b"nil", b"nil"]
    # A metatable left on ARGV must not answer for the next call.
    r.eval("setmetatable(ARGV, {__index = function() return 'meta' end}) return ARGV[9]", 0, "v")
    assert r.eval("return tostring(ARGV[9])", 0, "v") == b"nil"
    # Holes punched, values replaced, the tables emptied.
    assert r.eval("KEYS[1] = nil; ARGV[2] = 'changed'; return 1", 2, "a", "b", "x", "y") == 1
    assert r.eval("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}", 2, "a", "b", "x", "y") == [b"a", b"b", b"x", b"y"]
    assert r.eval("return {#KEYS, #ARGV}", 0) == [0, 0]
    # A long call, then a short one.
    many = ["v%d" % i for i in range(200)]
    assert r.eval("return #ARGV", 0, *many) == 200
    assert r.eval("return {#ARGV, ARGV[1], tostring(ARGV[2])}", 0, "only") == [1, b"only", b"nil"]
    assert r.eval("return #ARGV", 0, *many[:20]) == 20
    # The same table object is not handed to two live places at once.
    assert r.eval("local k = KEYS; return tostring(k == KEYS) .. tostring(rawequal(KEYS, ARGV))", 1, "a",
                  "b") == b"truefalse"


def _script_counters(r):
    stats = r.info("commandstats")
    errs = r.info("errorstats")

    def cmd(name):
        c = stats.get("cmdstat_" + name, {})
        return (c.get("calls", 0), c.get("rejected_calls", 0), c.get("failed_calls", 0))

    # (redis-py leaves errorstats values as "count=N")
    counts = {k: int(v["count"] if isinstance(v, dict) else str(v).split("=")[1]) for k, v in errs.items()}
    return cmd, counts, r.info("stats")["total_error_replies"]


@pytest.mark.parametrize("body, want_eval_failed, want_inner, want_errs", [
    # redis.call's error raised: counted once (by LPUSH), EVAL failed too
    ("return redis.call('lpush', KEYS[1], 'x')", 1, ("lpush", (1, 0, 1)), {"errorstat_WRONGTYPE": 1}),
    # redis.pcall's error returned as the script's reply: the same
    ("return redis.pcall('lpush', KEYS[1], 'x')", 1, ("lpush", (1, 0, 1)), {"errorstat_WRONGTYPE": 1}),
    # caught and not returned: only LPUSH failed
    ("redis.pcall('lpush', KEYS[1], 'x') return 1", 0, ("lpush", (1, 0, 1)), {"errorstat_WRONGTYPE": 1}),
    # refused before running: a rejected GET, counted once
    ("return redis.call('get')", 1, ("get", (0, 1, 0)), {"errorstat_ERR": 1}),
    ("redis.pcall('get') return 1", 0, ("get", (0, 1, 0)), {"errorstat_ERR": 1}),
    # the script's own error: counted by EVAL
    ("return redis.error_reply('MY own')", 1, ("get", (0, 0, 0)), {"errorstat_MY": 1}),
], ids=["call", "pcall-returned", "pcall-caught", "refused", "refused-caught", "own-error"])
def test_script_error_statistics(r, body, want_eval_failed, want_inner, want_errs):
    """Redis 7.0's counting: an error a command inside the script replied
    (or a refusal before it ran) is counted once, where it arose; the
    script's command fails when its own reply is an error."""
    r.set("s", "x")
    r.config_resetstat()
    with pytest.raises(redis.ResponseError) if want_eval_failed else contextlib.nullcontext():
        r.eval(body, 1, "s")
    cmd, errs, total = _script_counters(r)
    assert cmd("eval") == (1, 0, want_eval_failed)
    assert cmd(want_inner[0]) == want_inner[1]
    assert errs == want_errs
    assert total == sum(want_errs.values())


def test_exec_is_not_failed_by_its_commands_errors(r):
    r.set("s", "x")
    r.config_resetstat()
    p = r.pipeline(transaction=True)
    p.lpush("s", "x").get("s")
    res = p.execute(raise_on_error=False)
    assert isinstance(res[0], redis.ResponseError) and res[1] == b"x"
    cmd, errs, total = _script_counters(r)
    assert cmd("exec") == (1, 0, 0)
    assert cmd("lpush") == (1, 0, 1)
    assert errs == {"errorstat_WRONGTYPE": 1} and total == 1


def test_call_with_thousands_of_unpacked_arguments(r):
    """unpack of 7999 values fills Lua's C stack nearly to its limit; the
    reply still gets its stack slots (Redis's "massive arguments" test)."""
    r.delete("massive")
    script = "local a = {} for i=1,7999 do a[i] = 1 end return redis.call('lpush', KEYS[1], unpack(a))"
    assert r.eval(script, 1, "massive") == 7999
    script = "local a = {} for i=1,7999 do a[i] = 'x' end redis.pcall('rpush', KEYS[1], unpack(a)) " \
             "return #redis.call('lrange', KEYS[1], 0, -1)"
    assert r.eval(script, 1, "massive") == 15998
    r.delete("massive")
