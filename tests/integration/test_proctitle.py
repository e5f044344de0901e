"""The process title (proc-title-template, set-proc-title), as Redis 7.0
shows it in ps and /proc/<pid>/cmdline: "{title} {listen-addr}
{server-mode}" by default, {title} being the program as started. Passes
against Debian's redis-server 7.0.15 (KEEL_SERVER=/usr/bin/redis-server)."""
import pytest
from conftest import SERVER, Server

TEMPLATE = "TEST {title} {listen-addr} {port} {tls-port} {unixsocket} {config-file}"


def title(server):
    """The title: the first NUL-terminated string (the rest is padding)."""
    with open("/proc/%d/cmdline" % server.proc.pid, "rb") as f:
        return f.read().split(b"\0")[0].decode()


@pytest.fixture
def titled():
    s = Server("--save", "", "--bind", "127.0.0.1")
    yield s
    s.stop()


def test_default_title(titled):
    assert title(titled) == "%s 127.0.0.1:%d" % (SERVER, titled.port)


def test_template_set_at_runtime(titled, tmp_path):
    c = titled.client(decode_responses=True)
    assert c.config_set("proc-title-template", TEMPLATE)
    words = title(titled).split(" ")
    assert words == ["TEST", SERVER, "127.0.0.1:%d" % titled.port, str(titled.port), "0", "", "-"]
    assert c.config_get("proc-title-template") == {"proc-title-template": TEMPLATE}
    # A bad template is refused and changes nothing.
    for bad in ("{invalid-var}", "{title", "", "   "):
        with pytest.raises(Exception, match="template format is invalid or contains unknown variables"):
            c.config_set("proc-title-template", bad)
    assert title(titled).split(" ")[0] == "TEST"
    # "{{" is a brace; the ends are trimmed.
    assert c.config_set("proc-title-template", "  {{x {port}  ")
    assert title(titled) == "{x %d" % titled.port


def test_set_proc_title_no_keeps_the_arguments():
    """set-proc-title no leaves the arguments at start-up; a template set
    later still applies (as Redis 7.0)."""
    s = Server("--save", "", "--set-proc-title", "no")
    try:
        args = open("/proc/%d/cmdline" % s.proc.pid, "rb").read().split(b"\0")
        assert args[0].decode() == SERVER and b"--set-proc-title" in args and b"no" in args
        c = s.client()
        assert c.config_get("set-proc-title") == {"set-proc-title": "no"}
        assert c.config_set("proc-title-template", "{title} {port}")
        assert title(s) == "%s %d" % (SERVER, s.port)
    finally:
        s.stop()


def test_info_executable_is_the_program(titled):
    """argv moved out of the way of the title is still read: INFO gives the
    program's absolute path as started (SERVER is absolute here)."""
    assert titled.client(decode_responses=True).info("server")["executable"] == SERVER
