"""Helpers for the module tests: building tests/modules/testmod.c and
testmod_acl.c (Redis modules written against Keel's
src/module/module_abi.h) into a temporary directory, the path of Debian's
RediSearch module, and the command line options that load a module into a
server.

build_module() compiles a module once per test process (pytest-xdist
workers each build their own copy) with the compiler line the module's
header comment gives; a build failure fails the test that needs it."""
import atexit
import os
import shutil
import subprocess
import tempfile
import time

from conftest import ROOT
from resp_client import RespError

TESTMOD_SRC = os.path.join(ROOT, "tests", "modules", "testmod.c")
TESTMOD_ACL_SRC = os.path.join(ROOT, "tests", "modules", "testmod_acl.c")
# Debian's redis-redisearch package (RediSearch 1.2).
REDISEARCH = "/usr/lib/redis/modules/redisearch.so"
NO_REDISEARCH = "needs Debian's redis-redisearch (%s absent)" % REDISEARCH

_built = {}


def build_module(src, name=None):
    """The path of a freshly built module from tests/modules/<src> (built
    once per process, with the compiler line of the module's header
    comment), named name (default: the source's name with .so)."""
    name = name or os.path.splitext(os.path.basename(src))[0] + ".so"
    if name not in _built:
        out = tempfile.mkdtemp(prefix="keel-testmod-")
        atexit.register(shutil.rmtree, out, True)
        path = os.path.join(out, name)
        cc = os.environ.get("CC", "cc")
        cmd = [cc, "-O2", "-g", "-fPIC", "-shared", "-std=c11", "-Wall", "-I", os.path.join(ROOT, "src"),
               "-o", path, src, "-lpthread"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError("building %s failed:\n%s\n%s" % (name, " ".join(cmd), p.stdout + p.stderr))
        _built[name] = path
    return _built[name]


def build_testmod():
    """The path of a freshly built testmod.so (built once per process)."""
    return build_module(TESTMOD_SRC)


def build_testmod_acl(copy=None):
    """The path of testmod_acl.so; with copy, a second file of it named
    copy, which loads as a module of its own (dlopen keeps one instance per
    path)."""
    path = build_module(TESTMOD_ACL_SRC)
    if copy is None:
        return path
    other = os.path.join(os.path.dirname(path), copy)
    if not os.path.exists(other):
        shutil.copy(path, other)  # with its mode: Redis loads only executable files
    return other


def loadmodule(path, *args):
    """The command line options that load `path` with module arguments."""
    return ["--loadmodule", path] + list(args)


def x(conn, *args):
    """One command on a RespConn, its reply."""
    return conn.call(*args)


def err_text(reply):
    assert isinstance(reply, RespError), "expected an error, got %r" % (reply,)
    return str(reply)


def poll(fn, what, timeout=10):
    """fn()'s first true value, polled until timeout seconds passed."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)
