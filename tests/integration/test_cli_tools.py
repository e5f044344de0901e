"""The tools operators already run: redis-cli's --bigkeys, --memkeys,
--hotkeys, --stat and --latency read Keel as they read Redis (these pass
against redis-server 7.0.15 too)."""
import re
import subprocess

import pytest

CLI = "redis-cli"


def run(server, *args, timeout=30):
    out = subprocess.run([CLI, "-p", str(server.port)] + list(args), capture_output=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout.decode()


def first_lines(server, n, *args):
    """The first n lines of a redis-cli mode that runs until stopped."""
    p = subprocess.Popen(["stdbuf", "-oL", CLI, "-p", str(server.port)] + list(args), stdout=subprocess.PIPE)
    try:
        return [p.stdout.readline().decode() for _ in range(n)]
    finally:
        p.kill()
        p.wait()


@pytest.fixture
def dataset(r):
    r.set("big", "x" * 5000)
    for i in range(50):
        r.set("s%d" % i, i)
    r.rpush("list", *range(300))
    r.hset("hash", mapping={"f%d" % i: i for i in range(7)})
    r.sadd("set", *range(11))
    r.zadd("zset", {"m%d" % i: i for i in range(13)})
    for i in range(4):
        r.xadd("stream", {"a": i})
    return r


def test_bigkeys_finds_the_biggest_of_each_type(server, dataset):
    out = run(server, "--bigkeys")
    assert "Sampled 56 keys in the keyspace!" in out
    for line in ('Biggest string found \'"big"\' has 5000 bytes', 'Biggest   list found \'"list"\' has 300 items',
                 'Biggest   hash found \'"hash"\' has 7 fields', 'Biggest    set found \'"set"\' has 11 members',
                 'Biggest   zset found \'"zset"\' has 13 members',
                 'Biggest stream found \'"stream"\' has 4 entries'):
        assert line in out, out


def test_memkeys_reports_bytes_per_key(server, dataset):
    out = run(server, "--memkeys")
    m = re.search(r"Biggest string found '\"big\"' has (\d+) bytes", out)
    assert m and 5000 <= int(m.group(1)) < 6000, out
    assert re.search(r"Biggest   list found '\"list\"' has \d+ bytes", out)


def test_hotkeys_under_lfu(server, dataset):
    dataset.config_set("maxmemory-policy", "allkeys-lfu")
    try:
        for _ in range(100):
            dataset.get("s7")
        out = run(server, "--hotkeys")
        m = re.search(r'hot key found with counter: (\d+)\s+keyname: "s7"', out)
        assert m and int(m.group(1)) > 1, out
    finally:
        dataset.config_set("maxmemory-policy", "noeviction")


def test_hotkeys_refused_without_lfu(server, dataset):
    out = subprocess.run([CLI, "-p", str(server.port), "--hotkeys"], capture_output=True, timeout=30)
    text = (out.stdout + out.stderr).decode()
    assert "An LFU maxmemory policy is not selected" in text


def test_stat_shows_keys_and_requests(server, dataset):
    lines = first_lines(server, 4, "--stat", "-i", "0.2")
    assert lines[0].startswith("------- data ------")
    assert lines[1].split()[:5] == ["keys", "mem", "clients", "blocked", "requests"]
    fields = lines[2].split()
    assert fields[0] == "56" and int(fields[2]) >= 1


def test_latency_samples(server):
    line = first_lines(server, 1, "--latency", "-i", "0.2")[0].split()
    # min, max, avg (ms) and the number of samples
    assert len(line) == 4 and float(line[0]) <= float(line[2]) <= float(line[1]) and int(line[3]) >= 1


def test_info_everything_sections(server):
    text = run(server, "INFO", "everything")
    sections = re.findall(r"^# (\w+)", text, re.M)
    for s in ("Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Commandstats",
              "Errorstats", "Keyspace"):
        assert s in sections
