"""The metrics endpoint (metrics-port): /metrics in Prometheus's text
format, /json, the built-in dashboard, the HTTP server's limits, and
Debian's prometheus-redis-exporter scraping Keel's command port.

Keel-only: Redis has no metrics port."""
import http.client
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import time

import pytest
import redis
from conftest import SERVER, Server, free_port

prometheus_parser = pytest.importorskip("prometheus_client.parser")

pytestmark = pytest.mark.skipif(SERVER.endswith("redis-server"), reason="Keel-only: the metrics port")

EXPORTER = "/usr/bin/prometheus-redis-exporter"
# src/server/metrics.h: METRICS_MAX_CONNECTIONS and METRICS_FD_RESERVE.
MAX_CONNECTIONS = 256
MAX_PER_IP = 64
FD_RESERVE = MAX_CONNECTIONS + 16
# src/server/metrics.c: METRICS_TIMEOUT_S.
HTTP_TIMEOUT = 10


def http_get(port, path, method="GET", body=None, timeout=10, source=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def samples(text):
    """{(sample name, frozenset of labels): value} and {family: (type, help)}."""
    out, fams = {}, {}
    for fam in prometheus_parser.text_string_to_metric_families(text):
        fams[fam.name] = (fam.type, fam.documentation)
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out, fams


def scrape(port):
    status, headers, body = http_get(port, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return body.decode()


def value(smp, name, **labels):
    return smp.get((name, frozenset((k, str(v)) for k, v in labels.items())))


def wait_scrapes_recover(ms):
    """After a flood: scrapes succeed again (idle slots expire after the
    connection timeout at worst)."""
    deadline = time.time() + HTTP_TIMEOUT + 10
    while True:
        try:
            assert "keel_" in scrape(ms.mport)
            return
        except (OSError, http.client.HTTPException):
            assert time.time() < deadline, "scrapes did not recover after the flood"


def wait_for(fn, timeout=6):
    """Polls fn until it returns something truthy (snapshots come once a second)."""
    deadline = time.time() + timeout
    while True:
        got = fn()
        if got or time.time() > deadline:
            return got
        time.sleep(0.1)


@pytest.fixture(scope="module")
def ms():
    """A server with the metrics port open."""
    mport = free_port()
    s = Server("--metrics-port", str(mport))
    s.mport = mport
    yield s
    s.stop()


@pytest.fixture
def mr(ms):
    c = ms.client(decode_responses=True)
    c.flushall()
    yield c
    c.close()


def server_fds(s):
    return len(os.listdir("/proc/%d/fd" % s.proc.pid))


def listening_ports(pid):
    """TCP ports the process listens on (from /proc: no extra tools)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


# ------------------------------------------------------------ config

def test_config_get(ms, mr):
    assert mr.config_get("metrics-port") == {"metrics-port": str(ms.mport)}
    assert mr.config_get("metrics-bind") == {"metrics-bind": "127.0.0.1"}


def test_config_set_moves_opens_and_closes_the_endpoint(keel):
    """metrics-port and metrics-bind change at run time: the endpoint
    opens, moves and closes; an address that cannot be opened is refused
    and the endpoint stays where it was."""
    s = keel()
    c = s.client(decode_responses=True)
    first = free_port()
    assert c.config_set("metrics-port", first)
    assert listening_ports(s.proc.pid) == {s.port, first}
    assert "keel_" in scrape(first)
    second = free_port()
    assert c.config_set("metrics-port", second)
    assert listening_ports(s.proc.pid) == {s.port, second}
    assert "keel_" in scrape(second)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        taken = busy.getsockname()[1]
        with pytest.raises(redis.ResponseError, match="Unable to listen on this port"):
            c.config_set("metrics-port", taken)
    assert c.config_get("metrics-port") == {"metrics-port": str(second)}
    assert "keel_" in scrape(second)
    with pytest.raises(redis.ResponseError, match="argument must be between 0 and 65535 inclusive"):
        c.config_set("metrics-port", 70000)
    with pytest.raises(redis.ResponseError, match="Unable to listen on this port"):
        c.config_set("metrics-bind", "192.0.2.1")  # not an address of this host
    assert c.config_get("metrics-bind") == {"metrics-bind": "127.0.0.1"}
    assert c.config_set("metrics-bind", "0.0.0.0")
    assert "keel_" in scrape(second)
    assert c.config_set("metrics-port", 0)
    assert listening_ports(s.proc.pid) == {s.port}
    assert c.ping()


def test_metrics_port_zero_opens_nothing(keel):
    s = keel()
    c = s.client(decode_responses=True)
    assert c.config_get("metrics-port") == {"metrics-port": "0"}
    assert listening_ports(s.proc.pid) == {s.port}


def test_metrics_port_opens_one_more_listener(ms):
    assert listening_ports(ms.proc.pid) == {ms.port, ms.mport}


def test_metrics_port_in_use_fails_start_up():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match="metrics listening socket"):
            Server("--metrics-port", str(port))


# ------------------------------------------------------------ /metrics

def test_families_have_help_type_and_keel_prefix(ms, mr):
    text = scrape(ms.mport)
    _, fams = samples(text)
    assert fams
    for name, (typ, doc) in fams.items():
        assert name.startswith("keel_"), name
        assert doc, name
        assert typ in ("counter", "gauge"), (name, typ)
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            _, _, name, typ = line.split()
            assert (typ == "counter") == name.endswith("_total"), line


def test_figures_match_info_after_a_workload(ms, mr):
    n = 500
    p = mr.pipeline(transaction=False)
    for i in range(n):
        p.set("key:%d" % i, "v" * 10)
    for i in range(100):
        p.get("key:%d" % i)
    for i in range(50):
        p.get("missing:%d" % i)
    p.execute()
    mr.set("ttl-key", "v", ex=1000)
    info = mr.info("everything")
    # Snapshots come from cron once a second; INFO's own calls add
    # commands but never hits, misses or keys.
    smp = wait_for(lambda: (lambda s: s if value(s, "keel_keyspace_hits_total") == info["keyspace_hits"] else None)(
        samples(scrape(ms.mport))[0]))
    assert smp, "no snapshot caught up with the workload"
    assert value(smp, "keel_commands_processed_total") >= n + 150
    assert value(smp, "keel_commands_processed_total") <= info["total_commands_processed"] + 5
    assert value(smp, "keel_keyspace_misses_total") == info["keyspace_misses"]
    assert value(smp, "keel_keyspace_hit_ratio") == pytest.approx(
        info["keyspace_hits"] / (info["keyspace_hits"] + info["keyspace_misses"]))
    assert value(smp, "keel_db_keys", db=0) == mr.dbsize() == n + 1
    assert value(smp, "keel_db_keys_expiring", db=0) == 1
    assert value(smp, "keel_command_calls_total", cmd="set") == info["cmdstat_set"]["calls"]
    assert value(smp, "keel_command_usec_total", cmd="set") == info["cmdstat_set"]["usec"]
    assert value(smp, "keel_command_calls_total", cmd="get") == 150
    assert value(smp, "keel_ops_per_sec") >= 0
    # Memory moves a little between the snapshot and INFO.
    used = value(smp, "keel_memory_used_bytes")
    assert used == pytest.approx(info["used_memory"], rel=0.5)
    assert value(smp, "keel_memory_rss_bytes") > 0
    assert value(smp, "keel_memory_peak_bytes") >= used
    assert value(smp, "keel_memory_max_bytes") == info["maxmemory"]
    assert value(smp, "keel_memory_fragmentation_ratio") > 0
    assert value(smp, "keel_evicted_keys_total") == info["evicted_keys"]
    assert value(smp, "keel_expired_keys_total") == info["expired_keys"]
    assert value(smp, "keel_connected_clients") >= 1
    assert value(smp, "keel_blocked_clients") == 0
    assert value(smp, "keel_replication_role", role="master") == 1
    assert value(smp, "keel_replication_offset_bytes") is not None
    # The snapshot is recent.
    assert abs(value(smp, "keel_metrics_snapshot_timestamp_seconds") - time.time()) < 5


def test_pubsub_and_blocked_clients(ms, mr):
    sub = ms.client()
    ps = sub.pubsub()
    ps.subscribe("chan-a", "chan-b")
    ps.psubscribe("pat-*")
    blocker = ms.client()
    import threading
    t = threading.Thread(target=lambda: blocker.blpop("nothing-here", timeout=4))
    t.start()
    try:
        def seen():
            s = samples(scrape(ms.mport))[0]
            ok = (value(s, "keel_pubsub_channels") == 2 and value(s, "keel_pubsub_patterns") == 1
                  and value(s, "keel_blocked_clients") == 1)
            return s if ok else None
        assert wait_for(seen)
    finally:
        t.join()
        ps.close()
        sub.close()
        blocker.close()


def test_replication_figures_on_both_sides(keel):
    pport, rport = free_port(), free_port()
    primary = keel("--metrics-port", str(pport), "--repl-diskless-sync-delay", "0")
    replica = keel("--metrics-port", str(rport), "--replicaof", "127.0.0.1", str(primary.port))
    pc = primary.client(decode_responses=True)
    for i in range(20):
        pc.set("r:%d" % i, i)

    def primary_sees_replica():
        s = samples(scrape(pport))[0]
        off = value(s, "keel_replica_offset_bytes", replica="127.0.0.1:%d" % replica.port, state="online")
        return s if off is not None and off == value(s, "keel_replication_offset_bytes") else None
    smp = wait_for(primary_sees_replica, timeout=15)
    assert smp, scrape(pport)
    assert value(smp, "keel_connected_replicas") == 1
    assert value(smp, "keel_replication_role", role="master") == 1
    assert value(smp, "keel_replica_lag_seconds", replica="127.0.0.1:%d" % replica.port) >= 0
    # The replica's own snapshot may predate the last writes it applied.
    rs = wait_for(lambda: (lambda s: s if value(s, "keel_db_keys", db=0) == 20 else None)(samples(scrape(rport))[0]))
    assert rs
    assert value(rs, "keel_replication_role", role="slave") == 1
    assert value(rs, "keel_replication_master_link_up") == 1
    assert value(rs, "keel_replication_master_last_io_seconds") >= 0


def test_latency_percentiles_per_command(ms, mr):
    for i in range(50):
        mr.execute_command("INCR", "counter")  # redis-py's incr() sends INCRBY
    def seen():
        s = samples(scrape(ms.mport))[0]
        return s if value(s, "keel_command_latency_usec", cmd="incr", quantile="0.99") is not None else None
    smp = wait_for(seen)
    assert smp
    qs = {dict(k[1])["quantile"] for k in smp if k[0] == "keel_command_latency_usec" and ("cmd", "incr") in k[1]}
    assert qs == {"0.5", "0.99", "0.999"}
    p50 = value(smp, "keel_command_latency_usec", cmd="incr", quantile="0.5")
    p999 = value(smp, "keel_command_latency_usec", cmd="incr", quantile="0.999")
    assert 0 <= p50 <= p999


def test_errors_by_code(ms, mr):
    with pytest.raises(Exception):
        mr.execute_command("NOSUCHCOMMAND")
    def seen():
        s = samples(scrape(ms.mport))[0]
        return s if (value(s, "keel_errors_total", error="ERR") or 0) >= 1 else None
    assert wait_for(seen)


def test_stream_consumer_group_figures(ms, mr):
    for i in range(7):
        mr.xadd("orders", {"n": i})
    mr.xgroup_create("orders", "billing", id="0")
    mr.xgroup_create("orders", "shipping", id="$")
    mr.xreadgroup("billing", "worker-1", {"orders": ">"}, count=3)
    mr.xreadgroup("billing", "worker-2", {"orders": ">"}, count=1)
    mr.execute_command("SELECT", 3)
    mr.xadd("audit", {"x": 1})
    mr.xgroup_create("audit", "readers", id="0")
    mr.execute_command("SELECT", 0)
    groups = {g["name"]: g for g in mr.xinfo_groups("orders")}

    def seen():
        s = samples(scrape(ms.mport))[0]
        return s if value(s, "keel_stream_group_lag", db=0, key="orders", group="billing") is not None else None
    smp = wait_for(seen)
    assert smp
    for name in ("billing", "shipping"):
        labels = dict(db=0, key="orders", group=name)
        assert value(smp, "keel_stream_group_lag", **labels) == groups[name]["lag"]
        assert value(smp, "keel_stream_group_pending", **labels) == groups[name]["pending"]
        assert value(smp, "keel_stream_group_consumers", **labels) == groups[name]["consumers"]
    assert value(smp, "keel_stream_group_lag", db=0, key="orders", group="billing") == 3
    assert value(smp, "keel_stream_group_lag", db=3, key="audit", group="readers") == 1
    assert value(smp, "keel_stream_groups_omitted") == 0
    assert 0 <= value(smp, "keel_stream_groups_pass_seconds") < 5
    mr.execute_command("SELECT", 3)
    mr.flushdb()
    mr.execute_command("SELECT", 0)
    # Known streams are looked up again at every publish: new reads and
    # new groups show within a second or two, and a deleted stream goes.
    mr.xreadgroup("billing", "worker-1", {"orders": ">"}, count=2)
    mr.xgroup_create("orders", "late", id="0")

    def refreshed():
        s = samples(scrape(ms.mport))[0]
        ok = (value(s, "keel_stream_group_lag", db=0, key="orders", group="billing") == 1
              and value(s, "keel_stream_group_lag", db=0, key="orders", group="late") == 7)
        return s if ok else None
    assert wait_for(refreshed)
    mr.delete("orders")
    assert wait_for(lambda: value(samples(scrape(ms.mport))[0], "keel_stream_group_pending",
                                  db=0, key="orders", group="billing") is None)


def test_stream_figures_stay_fresh_while_a_long_pass_runs(keel):
    """With a keyspace big enough that a discovery pass takes many seconds,
    a stream found earlier still has its figures refreshed every second."""
    mport = free_port()
    s = keel("--metrics-port", str(mport))
    c = s.client(decode_responses=True)
    c.xadd("jobs", {"n": 1})
    c.xgroup_create("jobs", "workers", id="0")
    assert wait_for(lambda: value(samples(scrape(mport))[0], "keel_stream_group_lag",
                                  db=0, key="jobs", group="workers") == 1)
    c.execute_command("DEBUG", "POPULATE", 300000)
    for i in range(4):
        c.xadd("jobs", {"n": i})
    assert wait_for(lambda: value(samples(scrape(mport))[0], "keel_stream_group_lag",
                                  db=0, key="jobs", group="workers") == 5)
    # Commands stay prompt while the pass runs beside them.
    t = time.time()
    for i in range(200):
        c.ping()
    assert time.time() - t < 2


TYPES = ("string", "list", "set", "zset", "hash", "stream", "vectorset")


def fill_mixed(c):
    """About 12 MB of every type, in both encodings of each collection;
    returns the keys made of each type."""
    p = c.pipeline(transaction=False)
    for i in range(20000):
        p.set("s:%d" % i, "v" * 100)
    p.set("s:int", 12345)
    p.set("s:raw", "r" * 100000)
    for i in range(200):
        p.rpush("l:%d" % i, *["item%d" % j for j in range(200)])
        p.sadd("set:%d" % i, *["m%d" % j for j in range(200)])
        p.sadd("iset:%d" % i, *range(100))
        p.zadd("z:%d" % i, {"m%d" % j: j for j in range(200)})
        p.zadd("zs:%d" % i, {"m%d" % j: j for j in range(10)})
        p.hset("h:%d" % i, mapping={"f%d" % j: "v" * 20 for j in range(200)})
        p.hset("hs:%d" % i, mapping={"f%d" % j: "v" for j in range(10)})
        for j in range(50):
            p.xadd("x:%d" % (i % 20), {"a": "b" * 30})
            p.execute_command("VADD", "v:%d" % (i % 10), "VALUES", 4, i, j, 1, -1, "e%d-%d" % (i, j))
        if i % 20 == 19:
            p.execute()
    p.execute()
    return {"string": 20002, "list": 200, "set": 400, "zset": 400, "hash": 400, "stream": 20, "vectorset": 10}


def type_figures(smp):
    return ({t: value(smp, "keel_dataset_bytes", type=t) for t in TYPES},
            {t: value(smp, "keel_dataset_keys", type=t) for t in TYPES})


def test_dataset_bytes_per_type_add_up_to_the_dataset(keel):
    """keel_dataset_bytes{type} once a pass has seen every key: each type's
    share is there, they add up to INFO's used_memory_dataset within 10%
    (the rest is the server's own structures), MEMORY STATS and /json give
    the same figures, and after a FLUSHALL the next pass reports zeros."""
    mport = free_port()
    # Two passes count (the first began during the fill), each a slice per
    # cron tick. Under ASan, where every allocation's size is a slow look-up,
    # a pass over this dataset is about 0.45 s of work: at hz 10 it spans
    # three minutes, at hz 100 under twenty seconds.
    s = keel("--metrics-port", str(mport), "--save", "", "--hz", "100")
    c = s.client(decode_responses=True)
    counts = fill_mixed(c)

    def settled():
        smp = samples(scrape(mport))[0]
        return smp if type_figures(smp)[1] == counts else None
    smp = wait_for(settled, timeout=300)
    assert smp, type_figures(samples(scrape(mport))[0])
    size, keys = type_figures(smp)
    info = c.info("memory")
    total = sum(size.values())
    dataset = info["used_memory_dataset"]
    assert dataset > 8 << 20
    assert abs(total - dataset) <= 0.1 * dataset, (size, dataset)
    # Each type's bytes are at least its payload (member bytes) and not
    # wildly more (hash-table nodes cost ~40 bytes a member).
    assert 20000 * 100 + 100000 < size["string"] < 3 * (20000 * 100 + 100000) + 20000 * 64
    for t, payload in (("list", 200 * 200 * 7), ("set", 200 * 200 * 4), ("zset", 200 * 200 * 12),
                       ("hash", 200 * 200 * 23), ("stream", 200 * 50 * 31)):
        assert payload < size[t] < 16 * payload, (t, size[t], payload)
    # 10,000 vector-set elements: a node with its level-0 links (32 slots)
    # and an element each, a few hundred bytes.
    assert 10000 * 100 < size["vectorset"] < 10000 * 2000
    assert value(smp, "keel_dataset_pass_seconds") >= 0
    raw = c.execute_command("MEMORY", "STATS")
    stats = dict(zip(raw[::2], raw[1::2]))
    assert [stats["keel.dataset.bytes.%s" % t] for t in TYPES] == [size[t] for t in TYPES]
    assert stats["dataset.bytes"] > 0 and "keys.count" in stats  # Redis's fields are all still there
    status, _, body = http_get(mport, "/json")
    m = json.loads(body)["metrics"]
    assert {x["labels"]["type"]: x["value"] for x in m["keel_dataset_bytes"]} == size

    c.flushall()
    assert wait_for(lambda: all(v == 0 for v in type_figures(samples(scrape(mport))[0])[0].values()), timeout=60)


def test_dataset_bytes_follow_a_growing_key(keel):
    """A collection that grows in place (no new key) is measured anew by the
    next pass: a hash's bytes grow with its fields."""
    mport = free_port()
    s = keel("--metrics-port", str(mport), "--save", "")
    c = s.client(decode_responses=True)
    c.hset("h", "f", "v")
    first = wait_for(lambda: value(samples(scrape(mport))[0], "keel_dataset_bytes", type="hash"))
    assert first and first < 1024
    for start in range(0, 50000, 5000):
        c.hset("h", mapping={"f%d" % i: "x" * 50 for i in range(start, start + 5000)})
    usage = c.memory_usage("h")
    assert usage > 50000 * 50

    def hash_bytes():
        return value(samples(scrape(mport))[0], "keel_dataset_bytes", type="hash") or 0
    # A pass that began before the last fields went in may report less.
    assert wait_for(lambda: abs(hash_bytes() - usage) < 0.1 * usage), (hash_bytes(), usage)


def test_publish_cost_is_reported(ms):
    smp = samples(scrape(ms.mport))[0]
    cost = value(smp, "keel_metrics_publish_usec")
    assert cost is not None and 0 <= cost < 1000000


# ------------------------------------------------------------ /json

def test_json_has_the_same_figures(ms, mr):
    mr.set("a", "1")
    for _ in range(20):
        status, headers, body = http_get(ms.mport, "/json")
        assert status == 200
        assert headers["Content-Type"] == "application/json"
        doc = json.loads(body)
        smp, _ = samples(scrape(ms.mport))
        if value(smp, "keel_metrics_snapshot_timestamp_seconds") == doc["time_ms"] / 1000:
            break
        time.sleep(0.05)
    else:
        pytest.fail("never got /json and /metrics from the same snapshot")
    m = doc["metrics"]
    n = 0
    for (name, labels), v in smp.items():
        family = name if name in m else None
        assert family, name
        got = m[family]
        if isinstance(got, list):
            match = [x["value"] for x in got if frozenset(x["labels"].items()) == labels]
            assert match == [v], (name, labels)
        else:
            assert not labels and got == v, name
        n += 1
    assert n > 40


def test_json_slowlog_last_ten(ms, mr):
    mr.config_set("slowlog-log-slower-than", 0)
    try:
        mr.execute_command("SLOWLOG", "RESET")
        for i in range(15):
            mr.set("slow:%d" % i, "x")
        raw = ms.client()
        raw.set(b"bin\xff\x00\"\\key", b"\x01\x02")
        raw.close()

        def seen():
            doc = json.loads(http_get(ms.mport, "/json")[2])
            return doc if any("bin" in " ".join(e["args"]) for e in doc["slowlog"]) else None
        doc = wait_for(seen)
        assert doc
    finally:
        mr.config_set("slowlog-log-slower-than", 10000)
    log = doc["slowlog"]
    assert len(log) == 10
    assert [e["id"] for e in log] == sorted((e["id"] for e in log), reverse=True)
    newest = log[0]
    assert newest["args"][0].lower() == "set"
    assert newest["args"][1] == "bin\u00ff\u0000\"\\key"
    assert set(newest) == {"id", "time", "duration_us", "args", "client", "name"}


# ------------------------------------------------------------ dashboard and HTTP

def test_dashboard_is_self_contained_html(ms):
    status, headers, body = http_get(ms.mport, "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    page = body.decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<canvas" in page and "json" in page
    assert "http://" not in page and "https://" not in page
    # No external resources at all: no src= or href= anywhere, no <link>.
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "<link" not in page


def test_unknown_paths_404_and_other_methods_405(ms):
    assert http_get(ms.mport, "/nope")[0] == 404
    assert http_get(ms.mport, "/metrics/extra")[0] == 404
    assert http_get(ms.mport, "/metrics?x=1")[0] == 200
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        status, headers, _ = http_get(ms.mport, "/metrics", method=method, body=b"x" * 100)
        assert status == 405, method
        assert "GET" in headers["Allow"]
    status, _, body = http_get(ms.mport, "/metrics", method="HEAD")
    assert status == 200 and body == b""


def test_malformed_http_leaves_the_server_serving(ms, mr):
    garbage = [
        b"\x00\xff" * 500,
        b"GARBAGE\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /metrics HTTP/1.1\r\nContent-Length: 999999999\r\n\r\nabc",
        b"GET /" + b"%" * 5000 + b" HTTP/1.1\r\n\r\n",
    ]
    for g in garbage:
        with socket.create_connection(("127.0.0.1", ms.mport), timeout=5) as s:
            try:
                s.sendall(g)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except OSError:
                pass  # the server may reset a connection it refuses
    # A half-sent request, abandoned.
    s = socket.create_connection(("127.0.0.1", ms.mport), timeout=5)
    s.sendall(b"GET /metr")
    s.close()
    assert mr.ping()
    mr.set("after", "garbage")
    assert mr.get("after") == "garbage"
    assert "keel_commands_processed_total" in scrape(ms.mport)


def test_idle_connection_flood_is_capped(ms, mr):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    base_fds = server_fds(ms)
    idle = []
    try:
        for _ in range(1000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", ms.mport))
            idle.append(s)
        time.sleep(1)
        # Commands are untouched: answered promptly, from a new connection too.
        t = time.time()
        c = ms.client()
        for i in range(100):
            c.set("during-flood", i)
        assert c.get("during-flood") == b"99"
        c.close()
        assert time.time() - t < 2
        # One address holds at most its share of the connections (the rest
        # are refused at once), so a scraper elsewhere gets in right away.
        assert server_fds(ms) <= base_fds + MAX_PER_IP + 2
        t = time.time()
        status, _, body = http_get(ms.mport, "/metrics", source="127.0.0.2", timeout=5)
        assert status == 200 and b"keel_commands_processed_total" in body
        assert time.time() - t < 2
    finally:
        for s in idle:
            s.close()
    # Once the flood ends (the slots held idle expire after the
    # connection timeout at worst) others scrape again.
    wait_scrapes_recover(ms)
    # Connections the flood left in the accept queue are reaped too.
    assert wait_for(lambda: server_fds(ms) <= base_fds + 4, timeout=HTTP_TIMEOUT + 5)


def test_connection_cap_across_addresses(ms, mr):
    """Idle connections from many addresses fill the global cap and no
    more: the server's descriptors stay bounded and commands run."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    base_fds = server_fds(ms)
    idle = []
    try:
        for i in range(1000):
            s = socket.socket()
            s.bind(("127.0.%d.%d" % (1 + i // 50, 10 + i % 50), 0))
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", ms.mport))
            idle.append(s)
        time.sleep(1)
        assert server_fds(ms) <= base_fds + FD_RESERVE
        assert mr.ping()
        mr.set("k", "v")
        assert mr.get("k") == "v"
    finally:
        for s in idle:
            s.close()
    wait_scrapes_recover(ms)


def test_scrapes_do_not_disturb_commands(ms, mr):
    """Many scrapes in a row while commands run: every command answers and
    every scrape parses."""
    import threading
    stop = []
    errors = []

    def scraper():
        while not stop:
            try:
                samples(scrape(ms.mport))
                json.loads(http_get(ms.mport, "/json")[2])
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

    ts = [threading.Thread(target=scraper) for _ in range(4)]
    for t in ts:
        t.start()
    try:
        for i in range(2000):
            mr.incr("under-scrape")
    finally:
        stop.append(1)
        for t in ts:
            t.join()
    assert mr.get("under-scrape") == "2000"
    assert not errors


def test_shutdown_with_open_http_connections(keel):
    mport = free_port()
    s = keel("--metrics-port", str(mport))
    held = []
    for _ in range(5):
        c = socket.create_connection(("127.0.0.1", mport), timeout=5)
        c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
        held.append(c)
    assert http_get(mport, "/metrics")[0] == 200
    s.stop()  # exit code 0 (and, in the sanitizer build, no leak)
    for c in held:
        c.close()


# ------------------------------------------------------------ prometheus-redis-exporter

@pytest.mark.skipif(not os.path.exists(EXPORTER), reason="prometheus-redis-exporter not installed")
def test_prometheus_redis_exporter_scrapes_keel(ms, mr):
    for i in range(200):
        mr.set("exp:%d" % i, i)
    mr.get("exp:1")
    mr.get("nothing")
    eport = free_port()
    log = open(os.path.join(ms.dir, "exporter.log"), "w+")
    proc = subprocess.Popen([EXPORTER, "-redis.addr", "redis://127.0.0.1:%d" % ms.port,
                             "-web.listen-address", "127.0.0.1:%d" % eport],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        def up():
            try:
                return http_get(eport, "/metrics")
            except OSError:
                return None
        got = wait_for(up, timeout=10)
        assert got and got[0] == 200
        smp, fams = samples(got[2].decode())
        assert value(smp, "redis_up") == 1
        assert value(smp, "redis_memory_used_bytes") > 0
        cmds = value(smp, "redis_commands_processed_total")
        assert cmds is not None and cmds >= 200
        assert value(smp, "redis_commands_total", cmd="set") >= 200
        assert value(smp, "redis_db_keys", db="db0") == mr.dbsize()
        assert value(smp, "redis_keyspace_hits_total") >= 1
        assert value(smp, "redis_keyspace_misses_total") >= 1
        assert value(smp, "redis_connected_clients") >= 1
        # The exporter's own view of the scrape: no error.
        errs = {k: v for k, v in smp.items() if k[0] == "redis_exporter_last_scrape_error"}
        assert errs and all(v == 0 for v in errs.values()), errs
        for k, v in errs.items():
            assert dict(k[1]).get("err", "") == "", errs
        # A second scrape is as clean.
        smp2, _ = samples(http_get(eport, "/metrics")[2].decode())
        assert value(smp2, "redis_up") == 1
        assert value(smp2, "redis_exporter_scrapes_total") >= 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.seek(0)
        text = log.read()
        log.close()
    assert "level=error" not in text, text
