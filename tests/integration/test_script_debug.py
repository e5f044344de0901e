"""SCRIPT DEBUG and the Lua debugger (LDB) as Redis 7.0 has them: the SCRIPT
DEBUG subcommand, the debugger's wire protocol in SYNC and fork (YES) mode,
each debugger command's output, how a session ends, redis-cli --ldb, and
hostile or vanishing debugging clients. Written against Debian's
redis-server 7.0.15."""

# The protocol as observed (this is the spec the tests pin down):
#
# Enabling. SCRIPT DEBUG YES|SYNC|NO (any case) replies +OK and only flags
# the connection. It is refused with "ERR SCRIPT DEBUG must be called
# outside a pipeline" when the connection has replies not yet written (a
# command before it in the same read, or inside MULTI/EXEC); another word is
# "ERR Use SCRIPT DEBUG YES/SYNC/NO"; a wrong argument count is the usual
# arity error. On a flagged connection EVALSHA/EVALSHA_RO (40-char sha,
# known or not) fail with "ERR Please use EVAL instead of EVALSHA for
# debugging"; other commands, FCALL included, run as usual; EVAL and
# EVAL_RO start a session. SCRIPT DEBUG NO clears the flag.
#
# Session. SYNC: the script runs in the server, which serves no other client
# until the session ends. YES: the server forks; the child runs the session
# on the connection, the parent drops that client at once and keeps serving;
# the child's writes are lost when it exits. (Redis keeps one global
# debugger connection, set by the latest SCRIPT DEBUG YES/SYNC: a session
# talks on it, so each client starts its EVAL before another enables.)
#
# Frames. Each time the script stops the server writes a RESP2 array of
# simple strings, "*N\r\n" then N times "+<text>\r\n" (also to a RESP3
# client): the log lines gathered since the last frame, then
#   "* Stopped at <line>, stop reason = <reason>" and the source line.
# Reasons: "step over" (also at the first line), "break point",
# "redis.breakpoint() called" (at the next line run after the call),
# "timeout reached, infinite loop?" (busy-reply-threshold ms of running
# since the last stop, checked every 100000 Lua instructions).
# CR and LF inside any text are sent as spaces.
# Source lines: prefix + line number left-aligned in 3 columns + " " + text;
# prefix "-> " current line, "  #" breakpoint, "->#" both, "   " neither:
# "-> 1   local a = 1", "   10  x". The source is the EVAL body without its
# trailing CR/LF, split on LF; a line outside it is
# "<out of range source code line>" (e.g. the empty script).
# Log lines: "<redis> cmd arg ..." for each redis.call/pcall while stepping
# (not under continue): the words joined by spaces, at most 10 of them, then
# " ... (<argc-11> more)" (one less than the real count); then
# "<error> <text>" when the call failed (a command's own error keeps its
# "-", e.g. "<error> -WRONGTYPE ..."; "Wrong number of args calling Redis
# command from script", "Unknown Redis command called from script", "This
# Redis command is not allowed from script" have none) and
# "<reply> <human>" when the command ran. redis.debug(a, b) logs
# "<debug> line <n>: <a>, <b>" always (values as print shows them, none ->
# "<debug> line <n>: ").
# Human replies: integer as is; bulk as a quoted escaped string ("v1",
# "a\nb\r"), nil bulk/array "NULL"; status and error lines quoted whole,
# with their sign ("+OK", "-WRONGTYPE ..."); arrays [a,b] (comma, no
# space, [] when empty); RESP3: map {k => v,k2 => v2}, set ~(a,b),
# null (null), double "(double) 1.5", boolean #true/#false.
# Lua values (print, eval, debug): strings quoted and escaped (\n \r \t \"
# \\ \xHH); numbers "%g" (1, 2.5, 1e+20, 1.23457e+11, -0); true/false/nil;
# tables {1; "x"; true} when keys run 1..n, else {["k"]="v"; [2]=1}; {} when
# empty; 10 levels deep "<max recursion level reached! Nested table?>";
# functions etc. "function@0x..." quoted.
#
# Client commands. One RESP array per command: "*n\r\n" (1 <= n <= 1024),
# then n times "$len\r\n<bytes>\r\n" (1 <= len <= 1024). A partial command
# waits for more bytes, but once a command is complete the rest of that read
# is dropped. An inline command, *0, a negative count, an empty argument,
# n or len over 1024, or bad CRLF is "protocol error"; 1 MB buffered with no
# complete command is "max client buffer reached": either raises a Lua
# error in the script, ending the session with
# "-ERR <that> script: <sha>, on @user_script:<line>.".
# Command names are case-insensitive; each answers one frame unless it
# resumes the script:
#   s/step/n/next: run to the next line (entering functions): next stop frame.
#   c/continue: run to a breakpoint/redis.breakpoint()/timeout: next stop frame.
#   l/list [line [ctx]]: lines within ctx (default 5) of line (default, 0,
#     negative or not a number: the current line); [] if none.
#   w/whole: every line.
#   p/print: "<value> <name> = <value>" per local of the current function
#     (only those already declared), else "No local variables in the
#     current context.". p <var>: "<value> <value>" for the innermost local
#     of that name in any frame, else the globals KEYS/ARGV, else
#     "No such variable.". Other argument counts: as without arguments.
#   b/break: "No breakpoints set. Use 'b <line>' to add one." or
#     "<n> breakpoints set:" and the breakpoints' source lines.
#     b <line>...: per argument, in order: N>0 adds it and lists lines
#     N-1..N+1 (any line of the script, even empty; "Wrong line number." if
#     out of range or already set); -N "Breakpoint removed." / "No
#     breakpoint in the specified line."; 0 "All breakpoints removed.";
#     not a number "Invalid argument:'<arg>'".
#   t/trace: "In <fn>:" + current source line, then "From <fn>:" + source
#     line per calling frame of the script; <fn> is the function's name or
#     "top level".
#   e/eval <code...>: arguments joined with spaces, compiled as
#     "return <code>" else as a statement, run in a new frame (the script's
#     locals are not visible) -> "<retval> <value>" or "<error> <msg>"
#     (chunk name "ldb_eval": "ldb_eval:1: ...").
#   r/redis <cmd...>: runs the command through redis.call, logging its
#     <redis>/<error>/<reply> lines as above. "r" alone is unknown.
#   m/maxlen [len]: "<value> replies are truncated at <n> bytes." or
#     "<value> replies are unlimited." (0); len is atoi'ed, 1..60 become 60;
#     default 256. <value>/<retval>/<reply> lines longer than maxlen are cut
#     to maxlen characters (prefix included) + " ...", followed the first
#     time by "<hint> The above reply was trimmed. Use 'maxlen 0' to
#     disable trimming." (not once "maxlen <len>" was used). <redis>,
#     <debug> and <error> lines are not cut.
#   h/help: 30 fixed lines starting "Redis Lua debugger help:".
#   a/abort: a Lua error "script aborted for user request" ends the session.
#   anything else: "<error> Unknown Redis Lua debugger command or wrong
#     number of arguments."
#
# End. When the script returns or fails (runtime error, failed redis.call,
# abort, protocol error) the server writes a last frame with the pending log
# lines and "<endsession>", then the EVAL's own reply in the connection's
# protocol (the script's value converted as usual, or its error
# "-ERR ... script: <sha>, on @user_script:<line>."), then closes the
# connection. EVAL argument and compile errors also come as
# ["<endsession>"] + the error + close. SYNC keeps the writes, even on
# abort; fork mode keeps none. If the debugging client disconnects the
# script runs on without stopping (breakpoints cleared; SYNC writes kept);
# stuck in a loop it is killed at the next timeout ("timeout during Lua
# debugging with client closing connection", not sent anywhere).
#
# redis-cli --ldb / --ldb-sync-mode --eval file keys , args: prints a banner,
# each frame's lines (coloured), the reply as usual, then "(Lua debugging
# session ended -- dataset changes rolled back)" or "(Lua debugging session
# ended)"; "quit" just closes the connection.

import hashlib
import os
import re
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import SERVER, child_pids, raw_cmd
from resp_client import RespConn, RespError

# Where Keel deliberately differs from Redis 7.0 the tests say both: Keel
# keeps a command pipelined behind another (Redis drops it), counts the
# words a <redis> line leaves out exactly (Redis one short), and words its
# debugger help its own way.
IS_REDIS = os.path.basename(SERVER).startswith("redis")

CLI = "/usr/bin/redis-cli"

UNKNOWN = "<error> Unknown Redis Lua debugger command or wrong number of arguments."


def sha(s):
    return hashlib.sha1(s.encode()).hexdigest()


class Err(str):
    """An error reply: its text without the leading '-'."""


class Conn(RespConn):
    """A raw RESP connection (resp_client's reader) whose error replies are
    Err strings; every read times out so a hang fails."""

    def __init__(self, server, timeout=5):
        super().__init__(server)
        self.sock.settimeout(timeout)

    def read(self, timeout=5):
        v = super().read(timeout)
        return Err(str(v)) if isinstance(v, RespError) else v

    def raw(self, n):
        """The next n bytes as sent."""
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def at_eof(self):
        """True once the server has closed the connection (and sent nothing more)."""
        if self.buf:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


class Debugger(Conn):
    """A connection with SCRIPT DEBUG <mode> set."""

    def __init__(self, server, mode="SYNC"):
        super().__init__(server)
        assert self.call("SCRIPT", "DEBUG", mode) == "OK"

    def eval(self, script, keys=(), args=()):
        """Starts the session: the first stop's frame."""
        return self.call("EVAL", script, len(keys), *keys, *args)

    def finish(self, *cmd):
        """Sends cmd, which must end the session: the EVAL's final reply,
        after checking the <endsession> frame and the close."""
        frame = self.call(*cmd)
        assert frame[-1] == "<endsession>", frame
        reply = self.read()
        assert self.at_eof()
        return reply


@pytest.fixture
def dbg(server, r):
    """Factory for debugging connections, all closed after the test (so no
    stopped SYNC session outlives it and blocks the shared server)."""
    opened = []

    def start(mode="SYNC"):
        d = Debugger(server, mode)
        opened.append(d)
        return d

    yield start
    for d in opened:
        d.close()


def stop(line, src, reason="step over", prefix="-> "):
    """The two lines that end every stop frame."""
    return ["* Stopped at %d, stop reason = %s" % (line, reason), "%s%-3d %s" % (prefix, line, src)]


# ---- SCRIPT DEBUG itself ----


def test_script_debug_modes_reply_ok(server, r):
    c = Conn(server)
    for mode in ("YES", "SYNC", "NO", "yes", "Sync", "no"):
        assert c.call("SCRIPT", "DEBUG", mode) == "OK"
    # NO last: EVAL runs plainly and the connection stays open.
    assert c.call("EVAL", "return 5", 0) == 5
    assert c.call("PING") == "PONG"
    c.close()


def test_script_debug_argument_errors(server, r):
    c = Conn(server)
    assert c.call("SCRIPT", "DEBUG", "maybe") == "ERR Use SCRIPT DEBUG YES/SYNC/NO"
    assert c.call("SCRIPT", "DEBUG") == "ERR wrong number of arguments for 'script|debug' command"
    assert c.call("SCRIPT", "DEBUG", "YES", "x") == "ERR wrong number of arguments for 'script|debug' command"
    # None of them enabled debugging.
    assert c.call("EVAL", "return 'plain'", 0) == b"plain"
    c.close()


def test_script_debug_inside_multi_is_refused_at_exec(server, r):
    c = Conn(server)
    assert c.call("MULTI") == "OK"
    assert c.call("SCRIPT", "DEBUG", "SYNC") == "QUEUED"
    # Inside EXEC the reply array is already pending, which counts as a pipeline.
    assert c.call("EXEC") == [Err("ERR SCRIPT DEBUG must be called outside a pipeline")]
    assert c.call("EVAL", "return 1", 0) == 1
    assert c.call("PING") == "PONG"
    c.close()


def test_script_debug_after_a_pipelined_command_is_refused(server, r):
    c = Conn(server)
    # Sent in one write: PING's reply is still unsent when SCRIPT DEBUG runs.
    c.sock.sendall(raw_cmd("PING") + raw_cmd("SCRIPT", "DEBUG", "YES"))
    assert c.read() == "PONG"
    assert c.read() == "ERR SCRIPT DEBUG must be called outside a pipeline"
    assert c.call("EVAL", "return 1", 0) == 1
    c.close()


@pytest.mark.parametrize("mode", ["YES", "SYNC"])
def test_evalsha_refused_while_debugging(server, r, mode):
    body = "return 'cached'"
    h = r.script_load(body)
    c = Conn(server)
    assert c.call("SCRIPT", "DEBUG", mode) == "OK"
    assert c.call("EVALSHA", h, 0) == "ERR Please use EVAL instead of EVALSHA for debugging"
    assert c.call("EVALSHA_RO", h, 0) == "ERR Please use EVAL instead of EVALSHA for debugging"
    # Even a well-formed unknown sha gets the same refusal ...
    assert c.call("EVALSHA", "f" * 40, 0) == "ERR Please use EVAL instead of EVALSHA for debugging"
    # ... but a sha of the wrong length is NOSCRIPT first.
    assert c.call("EVALSHA", "abc", 0) == "NOSCRIPT No matching script. Please use EVAL."
    assert c.call("SCRIPT", "DEBUG", "NO") == "OK"
    assert c.call("EVALSHA", h, 0) == b"cached"
    c.close()


def test_debug_flag_leaves_other_commands_alone(server, r):
    r.execute_command("FUNCTION", "LOAD", "REPLACE",
                      "#!lua name=dbglib\nredis.register_function('seven', function() return 7 end)")
    c = Conn(server)
    assert c.call("SCRIPT", "DEBUG", "SYNC") == "OK"
    assert c.call("SET", "k", "v") == "OK"
    assert c.call("GET", "k") == b"v"
    # Functions are not debugged.
    assert c.call("FCALL", "seven", 0) == 7
    assert c.call("PING") == "PONG"
    c.close()
    r.execute_command("FUNCTION", "DELETE", "dbglib")


def test_debugger_api_outside_a_session(r):
    # redis.breakpoint() is false (nil to the client), redis.debug() a no-op.
    assert r.eval("return redis.breakpoint()", 0) is None
    assert r.eval("redis.debug('x', 1)\nreturn 'a'", 0) == b"a"


def test_script_help_mentions_debug(r):
    lines = [x.decode() for x in r.execute_command("SCRIPT", "HELP")]
    i = lines.index("DEBUG (YES|SYNC|NO)")
    assert lines[i + 1].startswith("    ") and "debug" in lines[i + 1].lower()  # the wording is each server's


# ---- the SYNC session over a socket ----

SCRIPT = """local a = 1
local b = 'two'
local t = {1, 'x', true}
local function f(n)
  redis.debug('in f', n)
  return n * 2
end
local h = {k = 'v'}

redis.call('set', KEYS[1], ARGV[1])
local r = f(a)
redis.breakpoint()
local z = redis.call('get', KEYS[1])
return {a, b, r, z}
"""
LINES = SCRIPT.rstrip("\n").split("\n")


def src(n, prefix="   "):
    return "%s%-3d %s" % (prefix, n, LINES[n - 1])


def test_first_stop_and_stepping(dbg):
    d = dbg()
    assert d.eval(SCRIPT, ["k1"], ["v1"]) == ["* Stopped at 1, stop reason = step over", "-> 1   local a = 1"]
    assert d.call("s") == ["* Stopped at 2, stop reason = step over", "-> 2   local b = 'two'"]
    assert d.call("next") == stop(3, LINES[2])
    # Case-insensitive; "local function" stops at its "end".
    assert d.call("STEP") == stop(7, LINES[6])
    assert d.call("N") == stop(8, LINES[7])
    assert d.call("l", "8", "1") == [src(7), "-> 8   local h = {k = 'v'}", "   9   "]
    # Line 9 is empty: no stop there. The write is logged as it is stepped over.
    assert d.call("step") == stop(10, LINES[9])
    assert d.call("s") == ['<redis> set k1 v1', '<reply> "+OK"'] + stop(11, LINES[10])
    # Stepping enters f; redis.debug() logs with the line number.
    assert d.call("s") == stop(5, LINES[4])
    assert d.call("s") == ['<debug> line 5: "in f", 1'] + stop(6, LINES[5])


def test_end_of_session_sync_keeps_writes(dbg, r):
    d = dbg()
    d.eval(SCRIPT, ["k1"], ["v1"])
    # continue runs to redis.breakpoint(); the write on the way is not logged.
    assert d.call("c") == ['<debug> line 5: "in f", 1'] + stop(13, LINES[12], "redis.breakpoint() called")
    assert d.call("s") == ['<redis> get k1', '<reply> "v1"'] + stop(14, LINES[13])
    # The final frame, then the EVAL reply, then the server closes.
    assert d.call("s") == ["<endsession>"]
    assert d.read() == [1, b"two", 2, b"v1"]
    assert d.at_eof()
    assert r.get("k1") == b"v1"


def test_list_and_whole(dbg):
    d = dbg()
    d.eval(SCRIPT, ["k1"], ["v1"])
    # list: 5 lines of context around the current line.
    assert d.call("l") == [src(1, "-> ")] + [src(n) for n in range(2, 7)]
    assert d.call("list", "8") == [src(n) for n in range(3, 14)]
    assert d.call("l", "8", "1") == [src(7), src(8), "   9   "]
    # line 0 (or negative, or not a number) means the current line.
    assert d.call("l", "0", "0") == ["-> 1   local a = 1"]
    assert d.call("l", "-3", "1") == [src(1, "-> "), src(2)]
    assert d.call("l", "x") == [src(1, "-> ")] + [src(n) for n in range(2, 7)]
    assert d.call("l", "100", "2") == []
    whole = [src(1, "-> ")] + [src(n) for n in range(2, 15)]
    assert d.call("w") == whole
    assert d.call("WHOLE") == whole
    assert whole[9] == "   10  redis.call('set', KEYS[1], ARGV[1])"


def test_print(dbg):
    d = dbg()
    d.eval(SCRIPT, ["k1"], ["v1"])
    # At line 1 nothing is declared yet.
    assert d.call("p") == ["No local variables in the current context."]
    assert d.call("p", "KEYS") == ['<value> {"k1"}']
    assert d.call("print", "ARGV") == ['<value> {"v1"}']
    for _ in range(3):
        d.call("s")
    assert d.call("p") == ["<value> a = 1", '<value> b = "two"', '<value> t = {1; "x"; true}']
    assert d.call("p", "a") == ["<value> 1"]
    assert d.call("P", "t") == ['<value> {1; "x"; true}']
    assert d.call("p", "nope") == ["No such variable."]
    # Any other argument count prints everything.
    assert d.call("p", "a", "b") == ["<value> a = 1", '<value> b = "two"', '<value> t = {1; "x"; true}']
    d.call("s")
    d.call("s")
    # A table with non-array keys.
    assert d.call("p", "h") == ['<value> {["k"]="v"}']
    # Inside f only its own locals are listed, but print <var> searches outward.
    d.call("b", "6")
    d.call("c")
    assert d.call("p") == ["<value> n = 1"]
    assert d.call("p", "b") == ['<value> "two"']


def test_print_value_formats(dbg):
    body = ("local t = {}\nt[1] = t\nlocal n = -0.0\nlocal big = 123456789012\n"
            "local q = 'tab\\there\\1\"'\nlocal e = {}\nlocal f = 2.5\nlocal no = false\nlocal x = nil\nreturn 1")
    d = dbg()
    d.eval(body)
    for _ in range(9):
        d.call("n")
    assert d.call("p") == [
        "<value> t = {{{{{{{{{{<max recursion level reached! Nested table?>}}}}}}}}}}",
        "<value> n = -0",
        "<value> big = 1.23457e+11",
        '<value> q = "tab\\there\\x01\\""',
        "<value> e = {}",
        "<value> f = 2.5",
        "<value> no = false",
        "<value> x = nil",
    ]


def test_breakpoints(dbg):
    d = dbg()
    d.eval(SCRIPT, ["k1"], ["v1"])
    assert d.call("b") == ["No breakpoints set. Use 'b <line>' to add one."]
    # Adding one lists the line with one line of context.
    assert d.call("b", "6") == [src(5), src(6, "  #"), src(7)]
    # A line without code is accepted (it never triggers).
    assert d.call("break", "9") == [src(8), "  #9   ", src(10)]
    assert d.call("b", "100") == ["Wrong line number."]
    assert d.call("b", "0") == ["All breakpoints removed."]
    # Several arguments, each handled in turn.
    assert d.call("b", "6", "13", "abc") == [src(5), src(6, "  #"), src(7), src(12), src(13, "  #"), src(14),
                                              "Invalid argument:'abc'"]
    assert d.call("b") == ["2 breakpoints set:", src(6, "  #"), src(13, "  #")]
    assert d.call("b", "-13") == ["Breakpoint removed."]
    assert d.call("b", "-13") == ["No breakpoint in the specified line."]
    # Surprising: setting an existing breakpoint again says the line is wrong.
    assert d.call("b", "6") == ["Wrong line number."]
    # On the current line the prefix is "->#".
    assert d.call("b", "1") == ["->#1   local a = 1", src(2)]
    assert d.call("l", "1", "0") == ["->#1   local a = 1"]
    assert d.call("b", "-1") == ["Breakpoint removed."]
    # The empty line 9 comes before line 6 runs: it never stops there.
    d.call("b", "9")
    # continue stops at the breakpoint, inside f.
    assert d.call("c") == ['<debug> line 5: "in f", 1'] + stop(6, LINES[5], "break point", "->#")
    assert d.call("c") == stop(13, LINES[12], "redis.breakpoint() called")
    assert d.finish("c") == [1, b"two", 2, b"v1"]


def test_trace(dbg):
    d = dbg()
    d.eval(SCRIPT, ["k1"], ["v1"])
    assert d.call("t") == ["In top level:", "-> 1   local a = 1"]
    d.call("b", "6")
    d.call("c")
    assert d.call("trace") == ["In f:", src(6, "->#"), "From top level:", src(11)]


def test_eval_command(dbg):
    d = dbg()
    d.eval("local a = 1\nreturn a")
    assert d.call("e", "1+1") == ["<retval> 2"]
    # Arguments are joined with spaces.
    assert d.call("eval", "1", "+", "1") == ["<retval> 2"]
    assert d.call("e", "{1,2,{a=1}}") == ['<retval> {1; 2; {["a"]=1}}']
    assert d.call("e", "'a\\nb'") == ['<retval> "a\\nb"']
    assert d.call("e", "1.5") == ["<retval> 1.5"]
    assert d.call("e", "1e20") == ["<retval> 1e+20"]
    assert d.call("e", "nil") == ["<retval> nil"]
    assert d.call("e") == ["<retval> nil"]
    # Not an expression: run as a statement.
    assert d.call("e", "local", "q", "=", "5") == ["<retval> nil"]
    assert d.call("e", "redis.call('ping')") == ['<retval> {["ok"]="PONG"}']
    # A different callframe: the script's locals are not visible.
    assert d.call("e", "a") == ["<error> ldb_eval:1: Script attempted to access nonexistent global variable 'a'"]
    assert d.call("e", "error('boom')") == ["<error> ldb_eval:1: boom"]
    assert d.call("e", "(((") == ["<error> ldb_eval:1: unexpected symbol near '<eof>'"]
    assert d.call("e", "x", "=", "5") == ["<error> ldb_eval:1: Attempt to modify a readonly table"]
    # The session is still at line 1.
    assert d.finish("c") == 1


def test_redis_command(dbg, r):
    d = dbg()
    d.eval("return 1")
    assert d.call("r", "set", "x", "1") == ["<redis> set x 1", '<reply> "+OK"']
    assert d.call("redis", "get", "x") == ["<redis> get x", '<reply> "1"']
    assert d.call("R", "get", "nokey") == ["<redis> get nokey", "<reply> NULL"]
    assert d.call("r", "hset", "h", "a", "1", "b", "2") == ["<redis> hset h a 1 b 2", "<reply> 2"]
    assert d.call("r", "hgetall", "h") == ["<redis> hgetall h", '<reply> ["a","1","b","2"]']
    assert d.call("r", "lrange", "nolist", "0", "-1") == ["<redis> lrange nolist 0 -1", "<reply> []"]
    assert d.call("r", "ping") == ["<redis> ping", '<reply> "+PONG"']
    # Errors: the error line, and for a command's own error its reply too.
    assert d.call("r", "lpush", "x", "a") == [
        "<redis> lpush x a",
        "<error> -WRONGTYPE Operation against a key holding the wrong kind of value",
        '<reply> "-WRONGTYPE Operation against a key holding the wrong kind of value"']
    assert d.call("r", "incr", "x", "y") == ["<redis> incr x y",
                                             "<error> Wrong number of args calling Redis command from script"]
    assert d.call("r", "nosuchcmd") == ["<redis> nosuchcmd", "<error> Unknown Redis command called from script"]
    assert d.call("r", "eval", "return 1", "0") == ["<redis> eval return 1 0",
                                                    "<error> This Redis command is not allowed from script"]
    # Without a command it is not the redis command at all.
    assert d.call("r") == [UNKNOWN]
    # CR/LF in a log line go out as spaces; the reply shows them escaped.
    assert d.call("r", "set", "nl", "a\nb\r") == ["<redis> set nl a b ", '<reply> "+OK"']
    assert d.call("r", "get", "nl") == ["<redis> get nl", '<reply> "a\\nb\\r"']
    # At most 10 words of the command, then how many more (Redis says one fewer).
    assert d.call("r", "mset", *"a 1 b 2 c 3 d 4 e 5 f 6 g 7".split()) == [
        "<redis> mset a 1 b 2 c 3 d 4 e ... (%d more)" % (4 if IS_REDIS else 5), '<reply> "+OK"']
    assert d.finish("c") == 1
    assert r.mget("x", "g") == [b"1", b"7"]


def test_redis_replies_in_resp3(dbg):
    body = """redis.setresp(3)
redis.call('hset','h','f','v')
redis.call('sadd','st','m')
redis.call('zadd','z','1.5','m')
redis.call('hgetall','h')
redis.call('smembers','st')
redis.call('zscore','z','m')
redis.call('get','nokey')
redis.call('zrange','z',0,-1,'withscores')
return 1"""
    lines = body.split("\n")
    d = dbg()
    d.eval(body)
    d.call("s")
    for _ in range(3):
        d.call("s")
    assert d.call("s")[:2] == ["<redis> hgetall h", '<reply> {"f" => "v"}']
    assert d.call("s")[:2] == ["<redis> smembers st", '<reply> ~("m")']
    assert d.call("s")[:2] == ["<redis> zscore z m", "<reply> (double) 1.5"]
    assert d.call("s")[:2] == ["<redis> get nokey", "<reply> (null)"]
    assert d.call("s") == ["<redis> zrange z 0 -1 withscores", '<reply> [["m",(double) 1.5]]'] + stop(10, lines[9])
    assert d.finish("s") == 1


def test_maxlen_trims_replies_and_values(dbg):
    d = dbg()
    d.eval("local s = string.rep('x', 300)\nreturn #s")
    d.call("s")
    # Trimmed to 256 characters of the whole line, then " ..."; a hint the first time only.
    assert d.call("p") == ['<value> s = "' + "x" * 243 + " ...",
                           "<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming."]
    assert d.call("p") == ['<value> s = "' + "x" * 243 + " ..."]
    assert d.call("e", "string.rep('x', 300)") == ['<retval> "' + "x" * 246 + " ..."]
    assert d.call("m") == ["<value> replies are truncated at 256 bytes."]
    # Below 60 means 60.
    assert d.call("maxlen", "10") == ["<value> replies are truncated at 60 bytes."]
    d.call("r", "set", "big", "y" * 100)
    assert d.call("r", "get", "big") == ["<redis> get big", '<reply> "' + "y" * 51 + " ..."]
    assert d.call("m", "0") == ["<value> replies are unlimited."]
    assert d.call("r", "get", "big") == ["<redis> get big", '<reply> "' + "y" * 100 + '"']
    assert d.call("m", "100") == ["<value> replies are truncated at 100 bytes."]
    # Not a number is 0; with two arguments it only reports.
    assert d.call("m", "abc") == ["<value> replies are unlimited."]
    assert d.call("m", "100", "200") == ["<value> replies are unlimited."]
    # The command line itself is never trimmed.
    d.call("m", "60")
    assert d.call("r", "set", "big", "z" * 100)[0] == "<redis> set big " + "z" * 100
    assert d.finish("c") == 300


def test_maxlen_hint_not_sent_after_maxlen_used(dbg):
    d = dbg()
    d.eval("local s = string.rep('x', 300)\nreturn #s")
    d.call("s")
    d.call("m", "256")
    assert d.call("p") == ['<value> s = "' + "x" * 243 + " ..."]


def test_help(dbg):
    d = dbg()
    d.eval("return 1")
    lines = d.call("h")
    assert lines == d.call("HELP")
    assert lines[0] == "Redis Lua debugger help:"
    # Every command in its "[s]hort" form, each server in its own words.
    for form in ("[h]elp", "[s]tep", "[n]ext", "[c]ontinue", "[l]ist", "[w]hole", "[p]rint", "[b]reak <line>",
                 "[b]reak -<line>", "[b]reak 0", "[t]race", "[e]val <code>", "[r]edis <cmd>", "[m]axlen",
                 "[a]bort", "redis.debug(", "redis.breakpoint()"):
        assert any(line.startswith(form) for line in lines), form
    # Still at the first line: help ran nothing.
    assert d.call("l", "0", "0") == ["-> 1   return 1"]
    assert d.finish("c") == 1


def test_unknown_commands(dbg):
    d = dbg()
    d.eval("return 1")
    assert d.call("xyz") == [UNKNOWN]
    # Redis commands are not debugger commands (EVAL is "e" with code "return 5 0").
    assert d.call("PING") == [UNKNOWN]
    assert d.call("SCRIPT", "DEBUG", "NO") == [UNKNOWN]
    assert d.call("EVAL", "return 5", "0") == ["<error> ldb_eval:1: '<eof>' expected near '0'"]
    assert d.finish("c") == 1


def test_abort_sync_keeps_writes(dbg, r):
    body = "redis.call('set', 'ab', '1')\nredis.call('set', 'ab2', '2')\nreturn 1"
    d = dbg()
    d.eval(body)
    d.call("s")
    assert d.finish("a") == "ERR script aborted for user request script: %s, on @user_script:2." % sha(body)
    # Written before the abort: kept; after it: never run.
    assert r.get("ab") == b"1"
    assert r.exists("ab2") == 0


def test_runtime_error_ends_session(dbg):
    body = "redis.call('set','a','1')\nlocal x = nil\nreturn x.y"
    d = dbg()
    d.eval(body)
    d.call("s")
    assert d.call("s") == stop(3, "return x.y")
    assert d.finish("s") == ("ERR user_script:3: attempt to index local 'x' (a nil value) script: %s, "
                             "on @user_script:3." % sha(body))


def test_redis_error_ends_session(dbg):
    body = "redis.call('set','a','1')\nredis.call('lpush','a','x')\nreturn 1"
    d = dbg()
    d.eval(body)
    d.call("s")
    # The last frame carries the failing command's log lines.
    assert d.call("s") == [
        "<redis> lpush a x",
        "<error> -WRONGTYPE Operation against a key holding the wrong kind of value",
        '<reply> "-WRONGTYPE Operation against a key holding the wrong kind of value"',
        "<endsession>"]
    assert d.read() == ("WRONGTYPE Operation against a key holding the wrong kind of value script: %s, "
                        "on @user_script:2." % sha(body))
    assert d.at_eof()


def test_pcall_error_and_debug_lines(dbg, r):
    body = ("local ok = redis.pcall('lpush','a','x')\nredis.debug(ok.err)\nredis.debug()\n"
            "redis.debug(nil, false, 1.5, 'q\"\\n', {a=1}, {1,2})\nreturn redis.error_reply('my err')")
    r.set("a", "1")
    d = dbg()
    d.eval(body)
    assert d.call("s")[:3] == [
        "<redis> lpush a x",
        "<error> -WRONGTYPE Operation against a key holding the wrong kind of value",
        '<reply> "-WRONGTYPE Operation against a key holding the wrong kind of value"']
    assert d.call("s")[0] == '<debug> line 2: "WRONGTYPE Operation against a key holding the wrong kind of value"'
    # No arguments: the prefix alone, with its trailing space.
    assert d.call("s")[0] == "<debug> line 3: "
    assert d.call("s")[0] == '<debug> line 4: nil, false, 1.5, "q\\"\\n", {["a"]=1}, {1; 2}'
    assert d.finish("s") == "my err"


@pytest.mark.parametrize("body,reply", [
    ("return redis.status_reply('FINE')", "FINE"),
    ("return {err='x\\ny'}", Err("x y")),
    ("return", None),
    ("return {1,{2,'x'},false,true,3.7,nil,5}", [1, [2, b"x"], None, 1, 3]),
    ("return redis.breakpoint()", 1),
])
def test_final_reply_encodings(dbg, body, reply):
    d = dbg()
    d.eval(body)
    assert d.finish("c") == reply


def test_final_reply_in_resp3(server, r):
    c = Conn(server)
    c.call("HELLO", "3")
    assert c.call("SCRIPT", "DEBUG", "SYNC") == "OK"
    # The frames stay RESP2 arrays of simple strings; the final reply is RESP3.
    c.send("EVAL", "return {1, false}", 0)
    first = b"*2\r\n+* Stopped at 1, stop reason = step over\r\n+-> 1   return {1, false}\r\n"
    assert c.raw(len(first)) == first
    c.send("c")
    final = b"*1\r\n+<endsession>\r\n*2\r\n:1\r\n_\r\n"
    assert c.raw(len(final)) == final
    assert c.at_eof()
    c.close()


@pytest.mark.parametrize("args,reply", [
    (("return (", 0), "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"),
    (("return 1", "x"), "ERR value is not an integer or out of range"),
    (("return 1", 3), "ERR Number of keys can't be greater than number of args"),
    (("return 1", -1), "ERR Number of keys can't be negative"),
])
def test_eval_errors_end_the_session_at_once(dbg, args, reply):
    d = dbg()
    d.send("EVAL", *args)
    assert d.read() == ["<endsession>"]
    assert d.read() == reply
    assert d.at_eof()


def test_empty_script(dbg):
    d = dbg()
    assert d.eval("") == ["* Stopped at 1, stop reason = step over", "-> 1   <out of range source code line>"]
    assert d.call("w") == []
    assert d.finish("c") is None


def test_eval_ro_is_debugged_too(dbg):
    d = dbg()
    d.send("EVAL_RO", "return 1", 0)
    assert d.read() == stop(1, "return 1")
    assert d.finish("c") == 1


def test_sync_session_blocks_other_clients(dbg, server):
    d = dbg()
    d.eval("redis.call('set','sa','1')\nreturn 'A'")
    other = Conn(server)
    other.send("GET", "sa")
    other.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        other.sock.recv(100)
    d.call("s")
    other.sock.settimeout(5)
    assert d.finish("c") == b"A"
    assert other.read() == b"1"
    other.close()


def test_commands_in_one_write(dbg):
    d = dbg()
    d.eval("local a = 1\nlocal b = 2\nlocal c = 3\nreturn a")
    d.sock.sendall(raw_cmd("s") + raw_cmd("s"))
    assert d.read() == stop(2, "local b = 2")
    if IS_REDIS:
        # Redis drops the rest of a read once it has a command: the second "s" is lost.
        assert d.call("s") == stop(3, "local c = 3")
    else:
        # Keel keeps it: it runs next.
        assert d.read() == stop(3, "local c = 3")
        assert d.call("s") == stop(4, "return a")


def test_partial_command_is_completed_by_later_reads(dbg):
    d = dbg()
    d.eval("local a = 1\nreturn a")
    d.sock.sendall(b"*1\r\n$1\r\n")
    time.sleep(0.05)
    d.sock.sendall(b"s\r\n")
    assert d.read() == stop(2, "return a")


def test_timeout_stop_reason(keel):
    s = keel("--busy-reply-threshold", "100")
    body = "local i = 0\nwhile true do\n  i = i + 1\nend"
    d = Debugger(s)
    try:
        d.eval(body)
        assert d.call("c") == stop(3, "  i = i + 1", "timeout reached, infinite loop?")
        # The clock restarts at each stop: continuing stops again.
        assert d.call("c") == stop(3, "  i = i + 1", "timeout reached, infinite loop?")
        (line,) = d.call("p")
        assert re.fullmatch(r"<value> i = [0-9.e+]+", line) and line != "<value> i = 0", line
        assert d.finish("a") == "ERR script aborted for user request script: %s, on @user_script:3." % sha(body)
    finally:
        d.close()


# ---- fork mode (SCRIPT DEBUG YES) ----


def wait_no_children(pid, timeout=5):
    deadline = time.time() + timeout
    while child_pids(pid, zombies=True):  # gone, reaped by the server too
        assert time.time() < deadline, "debugging child still there"
        time.sleep(0.02)


def test_fork_session_runs_beside_the_server_and_rolls_back(dbg, server, r):
    r.set("k", "orig")
    d = dbg("YES")
    body = "redis.call('set',KEYS[1],'new')\nredis.call('set','k2','v2')\nreturn redis.call('get',KEYS[1])"
    assert d.eval(body, ["k"]) == stop(1, "redis.call('set',KEYS[1],'new')")
    # The server is not blocked while the session is stopped.
    assert r.ping() is True
    assert r.get("k") == b"orig"
    assert d.call("s") == ["<redis> set k new", '<reply> "+OK"'] + stop(2, "redis.call('set','k2','v2')")
    # The child sees its own write; the server does not.
    assert d.call("r", "get", "k") == ["<redis> get k", '<reply> "new"']
    assert r.get("k") == b"orig"
    # The server no longer lists the debugging client.
    assert b"cmd=eval" not in r.execute_command("CLIENT", "LIST")
    d.call("s")
    assert d.finish("s") == b"new"
    assert r.get("k") == b"orig"
    assert r.exists("k2") == 0


def test_two_fork_sessions_at_once(dbg, r):
    # Each client starts its session before the next one sends SCRIPT DEBUG
    # (Redis keeps one global debugger connection, set by SCRIPT DEBUG).
    forks = r.info("stats")["total_forks"]
    a = dbg("YES")
    a.eval("redis.call('set','fa','1')\nreturn 'A'")
    b = dbg("YES")
    b.eval("redis.call('set','fb','1')\nreturn 'B'")
    assert r.info("stats")["total_forks"] == forks + 2  # each session is a fork, counted as one
    assert a.call("s")[:2] == ["<redis> set fa 1", '<reply> "+OK"']
    assert b.call("s")[:2] == ["<redis> set fb 1", '<reply> "+OK"']
    assert a.finish("c") == b"A"
    assert b.finish("c") == b"B"
    assert r.keys("*") == []


def test_fork_abort(dbg, r):
    body = "redis.call('set','fa','1')\nreturn 'A'"
    d = dbg("YES")
    d.eval(body)
    d.call("s")
    assert d.finish("abort") == "ERR script aborted for user request script: %s, on @user_script:2." % sha(body)
    assert r.exists("fa") == 0


def test_fork_client_disconnect(dbg, server, r):
    wait_no_children(server.proc.pid)
    d = dbg("YES")
    d.eval("redis.call('set','fa','1')\nreturn 'A'")
    # The session lives in a child process of the server.
    assert len(child_pids(server.proc.pid)) == 1
    d.close()
    # It runs the script to its end and exits.
    wait_no_children(server.proc.pid)
    assert r.ping() is True
    assert r.exists("fa") == 0
    # A new session works (the child of the old one went away on its own).
    d = dbg("YES")
    assert d.eval("return 'again'") == stop(1, "return 'again'")
    assert d.finish("c") == b"again"


# ---- redis-cli --ldb ----

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cli_ldb(server, mode, script, stdin, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run([CLI, "-p", str(server.port), mode, "--eval", f.name] + list(args),
                             input=stdin.encode(), capture_output=True, timeout=15)
    finally:
        os.unlink(f.name)
    return out.returncode, ANSI.sub("", out.stdout.decode()).split("\n")


CLI_SCRIPT = "local a = 1\nredis.call('set', KEYS[1], ARGV[1])\nreturn {a, ARGV[1]}\n"

CLI_BANNER = [
    "Lua debugging session started, please use:",
    "quit    -- End the session.",
    "restart -- Restart the script in debug mode again.",
    "help    -- Show Lua script debugging commands.",
    "",
]


def test_cli_ldb_fork_mode(server, r):
    rc, lines = cli_ldb(server, "--ldb", CLI_SCRIPT, "s\np\nc\n", "k1", ",", "a1")
    assert rc == 0
    assert lines == CLI_BANNER + [
        "* Stopped at 1, stop reason = step over",
        "-> 1   local a = 1",
        "* Stopped at 2, stop reason = step over",
        "-> 2   redis.call('set', KEYS[1], ARGV[1])",
        "<value> a = 1",
        "",
        "1) (integer) 1",
        '2) "a1"',
        "",
        "(Lua debugging session ended -- dataset changes rolled back)",
        "",
        "",
    ]
    assert r.exists("k1") == 0


def test_cli_ldb_sync_mode(server, r):
    rc, lines = cli_ldb(server, "--ldb-sync-mode", CLI_SCRIPT, "s\ns\np\nc\n", "k1", ",", "a1")
    assert rc == 0
    assert lines[len(CLI_BANNER):] == [
        "* Stopped at 1, stop reason = step over",
        "-> 1   local a = 1",
        "* Stopped at 2, stop reason = step over",
        "-> 2   redis.call('set', KEYS[1], ARGV[1])",
        "<redis> set k1 a1",
        '<reply> "+OK"',
        "* Stopped at 3, stop reason = step over",
        "-> 3   return {a, ARGV[1]}",
        "<value> a = 1",
        "",
        "1) (integer) 1",
        '2) "a1"',
        "",
        "(Lua debugging session ended)",
        "",
        "",
    ]
    assert r.get("k1") == b"a1"


def test_cli_ldb_commands_and_script_error(server, r):
    body = "local a = 1\nerror('bad thing')\n"
    rc, lines = cli_ldb(server, "--ldb", body, 'h\nr set x "a b"\ne 1+1\nmaxlen\nc\n')
    assert rc == 0
    assert lines[len(CLI_BANNER) + 2] == "Redis Lua debugger help:"
    assert lines[lines.index("<redis> set x a b"):] == [
        "<redis> set x a b",
        '<reply> "+OK"',
        "<retval> 2",
        "<value> replies are truncated at 256 bytes.",
        "",
        "(error) ERR user_script:2: bad thing script: %s, on @user_script:2." % sha(body),
        "",
        "(Lua debugging session ended -- dataset changes rolled back)",
        "",
        "",
    ]
    assert r.exists("x") == 0


def test_cli_quit_in_sync_mode_lets_the_script_finish(server, r):
    rc, lines = cli_ldb(server, "--ldb-sync-mode", CLI_SCRIPT, "quit\n", "k1", ",", "a1")
    assert rc == 0
    assert lines[len(CLI_BANNER):len(CLI_BANNER) + 2] == stop(1, "local a = 1")
    # The server saw the client go and ran the rest of the script.
    assert r.get("k1") == b"a1"


# ---- hostile or vanishing debugging clients ----


def protocol_error(body, line=1, what="protocol error"):
    return "ERR %s script: %s, on @user_script:%d." % (what, sha(body), line)


BODY = "redis.call('set','w1','1')\nlocal a = 1\nredis.call('set','w2','2')\nreturn a"


@pytest.mark.parametrize("payload", [
    b"*1025\r\n",                          # too many arguments
    b"*2\r\n$1\r\ne\r\n$1025\r\n",          # an argument over 1024 bytes
    b"s\r\n",                               # an inline command
    b"*0\r\n",
    b"*-1\r\n",
    raw_cmd("e", ""),                       # an empty argument
    b"*1\r\n$1\r\nsXX",                     # no CRLF after the argument
], ids=["argc", "arglen", "inline", "zero", "negative", "empty-arg", "bad-crlf"])
def test_malformed_commands_end_the_session(dbg, r, payload):
    d = dbg()
    d.eval(BODY)
    d.sock.sendall(payload)
    assert d.read() == ["<endsession>"]
    assert d.read() == protocol_error(BODY)
    assert d.at_eof()
    assert r.ping() is True
    # The Lua error stopped the script before its first line ran.
    assert r.exists("w1") == 0


def test_limits_are_inclusive(dbg):
    d = dbg()
    d.eval(BODY)
    # 1024 arguments and 1024 bytes are still accepted.
    assert d.call("e", *["x"] * 1023) == ["<error> ldb_eval:1: '=' expected near 'x'"]
    assert d.call("e", "1" * 1024) == ["<retval> inf"]
    # Many arguments to a Redis command: 10 words shown.
    assert d.call("r", "del", *["k%d" % i for i in range(1022)]) == [
        "<redis> del k0 k1 k2 k3 k4 k5 k6 k7 k8 ... (%d more)" % (1012 if IS_REDIS else 1013), "<reply> 0"]
    assert d.call("s")[-2:] == stop(2, "local a = 1")


def test_buffer_limit(dbg, r):
    d = dbg()
    d.eval(BODY)
    # A command header that never ends: over 1 MB the session is aborted.
    try:
        d.sock.sendall(b"*" + b"1" * (1 << 20))
        assert d.read() == ["<endsession>"]
        assert d.read() == protocol_error(BODY, what="max client buffer reached")
    except (ConnectionResetError, BrokenPipeError):
        pass  # closed before reading all we sent: the reply may be lost
    assert d.at_eof()
    assert r.ping() is True
    assert r.exists("w1") == 0


def test_sync_client_disconnect_runs_script_to_the_end(dbg, r):
    d = dbg()
    d.eval(BODY)
    d.call("b", "3")
    d.close()
    # No more stops (breakpoints dropped): the writes after the stop happen too.
    assert r.mget("w1", "w2") == [b"1", b"2"]


def test_sync_client_disconnect_in_a_loop_kills_the_script(keel):
    s = keel("--busy-reply-threshold", "100")
    d = Debugger(s)
    try:
        d.eval("redis.call('set','z','1')\nlocal i = 0\nwhile true do\n  i = i + 1\nend")
        assert d.call("c")[0] == "* Stopped at 4, stop reason = timeout reached, infinite loop?"
    finally:
        d.close()
    c = s.client()
    # Killed at the next timeout ("timeout during Lua debugging with client
    # closing connection"): until then the server answers no one. The write
    # made before stays.
    assert c.ping() is True
    assert c.get("z") == b"1"
    c.close()


# ---- Keel's own guarantees ----

keel_only = pytest.mark.skipif(IS_REDIS, reason="Keel's own behaviour")


@keel_only
def test_fork_child_holds_no_other_connection(dbg, server):
    """The child closes every socket but its client's: another client the
    server closes sees the close at once, not when the session ends."""
    other = Conn(server)
    assert other.call("PING") == "PONG"
    d = dbg("YES")
    assert d.eval("return 1") == stop(1, "return 1")
    other.send("QUIT")
    assert other.read() == "OK"
    assert other.at_eof()
    assert d.finish("c") == 1
    other.close()


@keel_only
def test_shutdown_ends_fork_sessions(keel):
    s = keel()
    d = Debugger(s, "YES")
    try:
        assert d.eval("return 1") == stop(1, "return 1")
        s.client().shutdown(nosave=True)
        s.proc.wait(timeout=10)
        # The child went with the server: the session's connection is closed.
        assert d.at_eof()
    finally:
        d.close()
    # Nothing holds the port: it can be bound again.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", s.port))
        sock.listen()


@keel_only
def test_eval_inside_exec_is_not_debugged(dbg):
    d = dbg()
    assert d.call("MULTI") == "OK"
    assert d.call("EVAL", "return 7", 0) == "QUEUED"
    assert d.call("EXEC") == [7]
    assert d.call("PING") == "PONG"


@keel_only
def test_sync_session_survives_a_client_that_stops_reading(keel):
    """A frame the client does not read holds a SYNC session's server at
    most 5 s: the write gives up and the script runs on without it."""
    s = keel()
    d = Debugger(s)
    try:
        d.eval("for i = 1, 20 do redis.debug(string.rep('x', 1000000)) end\nredis.breakpoint()\n"
               "redis.call('set', 'after', '1')\nreturn 1")
        d.send("c")  # the next frame holds 20 MB of <debug> lines; never read
        c = s.client(socket_timeout=30)
        start = time.time()
        assert c.get("after") == b"1"  # answered once the session let go
        assert time.time() - start < 12
        c.close()
    finally:
        d.close()
