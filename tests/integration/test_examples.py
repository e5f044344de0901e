"""The pattern examples (examples/, `make examples`): every example runs
against a fresh server and prints what examples/expected/ says; each one
shows the seed article's naive version failing where it has a flaw, then
the fixed version. Keel-only (they use DELIFEQ and CL.THROTTLE); skipped
without node, which all but the C example need."""
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, SERVER

SAN = SERVER.endswith("-san")
BIN_DIR = os.path.join(ROOT, "build", "san" if SAN else "rel", "examples")


@pytest.mark.skipif(SERVER.endswith("redis-server"), reason="Keel-only: the examples use DELIFEQ and CL.THROTTLE")
@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
def test_every_example_prints_what_it_should():
    res = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "run.py"), "--server", SERVER, "--bin-dir",
                          BIN_DIR], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert " 0 failed" in res.stdout
