"""Helpers for test_modules.py: building tests/modules/testmod.c (a Redis
module written against Keel's src/module/module_abi.h) into a temporary
directory, the path of Debian's RediSearch module, and the command line
options that load a module into a server.

build_testmod() compiles the module once per test process (pytest-xdist
workers each build their own copy) with the compiler line the module's
header comment gives; a build failure fails the test that needs it."""
import atexit
import os
import shutil
import subprocess
import tempfile

from conftest import ROOT

TESTMOD_SRC = os.path.join(ROOT, "tests", "modules", "testmod.c")
# Debian's redis-redisearch package (RediSearch 1.2).
REDISEARCH = "/usr/lib/redis/modules/redisearch.so"
NO_REDISEARCH = "needs Debian's redis-redisearch (%s absent)" % REDISEARCH

_built = {}


def build_testmod():
    """The path of a freshly built testmod.so (built once per process)."""
    if "path" not in _built:
        out = tempfile.mkdtemp(prefix="keel-testmod-")
        atexit.register(shutil.rmtree, out, True)
        path = os.path.join(out, "testmod.so")
        cc = os.environ.get("CC", "cc")
        cmd = [cc, "-O2", "-g", "-fPIC", "-shared", "-std=c11", "-Wall", "-I", os.path.join(ROOT, "src"),
               "-o", path, TESTMOD_SRC, "-lpthread"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError("building testmod.so failed:\n%s\n%s" % (" ".join(cmd), p.stdout + p.stderr))
        _built["path"] = path
    return _built["path"]


def loadmodule(path, *args):
    """The command line options that load `path` with module arguments."""
    return ["--loadmodule", path] + list(args)
