"""The built-in dashboard (metrics-port, path /) in headless Chromium:
after load traffic, the figures the page renders into its DOM (header
tiles, chart legends, the slow log table) agree with INFO and SLOWLOG
taken at about the same time, and a screenshot of it is a plausible PNG.

Runs Debian's chromium (`chromium --headless=new --dump-dom` with a virtual
time budget, so the page's XHR polls of /json complete before the DOM is
written out); skipped when it is not installed. Keel-only: Redis has no
metrics port."""
import html.parser
import http.client
import json
import os
import re
import shutil
import struct
import subprocess
import threading
import time
import zlib

import pytest
from conftest import SERVER, Server, free_port

pytestmark = [
    pytest.mark.skipif(SERVER.endswith("redis-server"), reason="Keel-only: the metrics port"),
    pytest.mark.skipif(shutil.which("chromium") is None,
                       reason="needs Debian's chromium (apt-get install chromium; scripts/install-deps.sh)"),
]

# A maxmemory that is not a round number, so the page's formatting of it is
# checked too (src/server/dashboard.html: human()).
MAXMEMORY = 64 * 1024 * 1024 + 1234567
KEYS_DB0, TTL_KEYS_DB0, KEYS_DB1 = 300, 100, 20
# One key of each collection type, in db 2 (strings are the keys above).
TYPED_KEYS_DB2 = {"list": 1, "set": 1, "zset": 1, "hash": 1, "stream": 1, "vectorset": 1}
TYPES = ("string", "list", "set", "zset", "hash", "stream", "vectorset")
HITS, MISSES = 200, 100
SHORT_TTL_KEYS = 30
# Background PINGs per second while Chromium looks at the page.
PING_RATE = 200
PERCENTILES = "50 57 99.9"
CHROMIUM_TIMEOUT = 90


# ------------------------------------------------------------------ helpers

def http_get(port, path, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def human(b):
    """The page's human(): bytes in K/M/G (1024), two decimals above bytes."""
    units, i = ["B", "K", "M", "G", "T"], 0
    while b >= 1024 and i < len(units) - 1:
        b /= 1024
        i += 1
    return ("%.2f" % b if i else "%.0f" % b) + units[i]


def unhuman(t):
    m = re.fullmatch(r"([0-9.]+)([BKMGT])", t)
    assert m, t
    return float(m.group(1)) * 1024 ** "BKMGT".index(m.group(2))


def unfmt(t):
    """The page's fmt() read back: 12, 3.50, 1.2k, 4.0M."""
    m = re.fullmatch(r"(-?[0-9.]+)([kM]?)", t)
    assert m, t
    return float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6}[m.group(2)]


def undur(t):
    """The page's duration() read back, in seconds (minute precision above
    an hour)."""
    m = re.fullmatch(r"(\d+)m (\d+)s", t)
    if m:
        return int(m.group(1)) * 60 + int(m.group(2))
    m = re.fullmatch(r"(\d+)h (\d+)m", t)
    assert m, t
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60


class Node:
    def __init__(self, tag, attrs):
        self.tag, self.attrs, self.children = tag, dict(attrs), []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag):
        for c in self.children:
            if isinstance(c, Node):
                if c.tag == tag:
                    yield c
                yield from c.find_all(tag)


class Dom(html.parser.HTMLParser):
    """A minimal tree of Chromium's serialized DOM, with elements by id."""
    VOID = {"meta", "link", "br", "hr", "img", "input", "area", "base", "col", "embed", "source", "wbr"}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [])
        self.stack = [self.root]
        self.ids = {}
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs)
        self.stack[-1].children.append(n)
        if "id" in n.attrs:
            self.ids[n.attrs["id"]] = n
        if tag not in self.VOID:
            self.stack.append(n)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)

    def __getitem__(self, id_):
        return self.ids[id_]


def legend(dom, id_):
    """{label: newest value text} of a chart's legend (value None when the
    entry has none)."""
    out = {}
    for span in dom[id_].find_all("span"):
        b = list(span.find_all("b"))
        label = "".join(c for c in span.children if isinstance(c, str)).strip()
        out[label] = b[0].text().strip() if b else None
    return out


def chromium(tmp, *args):
    """Debian's chromium, headless, on a fresh profile under tmp; returns
    stdout. UTC and en-US so the slow log's times are predictable."""
    profile = os.path.join(tmp, "chromium-profile")
    cmd = [shutil.which("chromium"), "--headless=new", "--no-sandbox", "--disable-gpu",
           "--no-first-run", "--disable-extensions", "--disable-background-networking",
           "--lang=en-US", "--user-data-dir=" + profile] + list(args)
    env = dict(os.environ, TZ="UTC", LANG="en_US.UTF-8", LANGUAGE="en_US")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=CHROMIUM_TIMEOUT)
    assert p.returncode == 0, "chromium failed (%d):\n%s" % (p.returncode, p.stderr.decode()[-3000:])
    return p.stdout.decode()


def raw_info(c, section):
    """INFO as {field: raw string}, unparsed (redis-py would split values)."""
    conn = c.connection_pool.get_connection("INFO")
    try:
        conn.send_command("INFO", section)
        text = conn.read_response().decode()
    finally:
        c.connection_pool.release(conn)
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def keyspace_keys(info):
    """Sum of keys (and of expiring keys) over db lines of raw INFO."""
    keys = expires = 0
    for k, v in info.items():
        if re.fullmatch(r"db\d+", k):
            f = dict(kv.split("=") for kv in v.split(","))
            keys += int(f["keys"])
            expires += int(f["expires"])
    return keys, expires


class Pinger(threading.Thread):
    """PING_RATE PINGs a second in pipelined batches on a fixed schedule
    (catching up after a stall), on its own connection."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.c = server.client()
        self.c.ping()
        self.stop = threading.Event()
        self.error = None

    def run(self):
        batch, step = PING_RATE // 10, 0.1
        nxt = time.monotonic()
        try:
            while not self.stop.is_set():
                p = self.c.pipeline(transaction=False)
                for _ in range(batch):
                    p.ping()
                p.execute()
                nxt += step
                delay = nxt - time.monotonic()
                if delay > 0:
                    self.stop.wait(delay)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def finish(self):
        self.stop.set()
        self.join(30)
        self.c.connection_pool.disconnect()
        assert self.error is None, self.error


# ------------------------------------------------------------------ fixture

@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A server after load traffic, its dashboard's DOM and a screenshot,
    with INFO taken just before and just after Chromium read the page."""
    tmp = str(tmp_path_factory.mktemp("dashboard"))
    mport = free_port()
    s = Server("--metrics-port", str(mport), "--save", "", "--appendonly", "no")
    pinger = None
    try:
        c = s.client()
        c.config_set("latency-tracking-info-percentiles", PERCENTILES)

        # Evictions: a limit just above what is used, filled past it.
        c.config_set("maxmemory-policy", "allkeys-random")
        c.config_set("maxmemory", int(c.info("memory")["used_memory"]) + 2 * 1024 * 1024)
        p = c.pipeline(transaction=False)
        for i in range(4000):
            p.set("fill:%d" % i, "x" * 1024)
        p.execute()
        assert c.info("stats")["evicted_keys"] > 0
        c.config_set("maxmemory", MAXMEMORY)
        c.flushall()

        # Expirations: keys with a 50 ms TTL, left for active expiry.
        for i in range(SHORT_TTL_KEYS):
            c.set("short:%d" % i, "v", px=50)
        deadline = time.time() + 20
        while c.info("stats")["expired_keys"] < SHORT_TTL_KEYS:
            assert time.time() < deadline, "short-TTL keys did not expire"
            time.sleep(0.1)

        # The data: keys in two databases, some with a TTL far away.
        p = c.pipeline(transaction=False)
        for i in range(KEYS_DB0):
            p.set("key:%d" % i, "value-%d" % i, ex=3600 if i < TTL_KEYS_DB0 else None)
        p.execute()
        c1 = s.client(db=1)  # (redis-py 4's close() keeps the connection)
        for i in range(KEYS_DB1):
            c1.set("other:%d" % i, "v" * 100)
        c1.connection_pool.disconnect()
        c2 = s.client(db=2)
        c2.rpush("list", *range(1000))
        c2.sadd("set", *("member-%d" % i for i in range(1000)))
        c2.zadd("zset", {"m%d" % i: i for i in range(1000)})
        c2.hset("hash", mapping={"f%d" % i: "v" * 30 for i in range(1000)})
        for i in range(300):
            c2.xadd("stream", {"n": i})
            c2.execute_command("VADD", "vset", "VALUES", 3, i, 1, -i, "e%d" % i)
        c2.connection_pool.disconnect()
        # Hits and misses (2 to 1).
        p = c.pipeline(transaction=False)
        for i in range(HITS):
            p.get("key:%d" % (i % KEYS_DB0))
        for i in range(MISSES):
            p.get("missing:%d" % i)
        p.execute()

        # One slow command in an otherwise empty slow log.
        c.config_set("slowlog-log-slower-than", 10000)
        c.slowlog_reset()
        slow = s.client()
        slow.client_setname("dash-slow")
        slow.execute_command("DEBUG", "SLEEP", "0.02")

        pinger = Pinger(s)
        pinger.start()
        load_end = time.time()

        # Wait for the page's refresh: a snapshot published after all of
        # this, with ops/s taken while the PINGs run.
        def fresh():
            status, body = http_get(mport, "/json")
            assert status == 200
            doc = json.loads(body)
            m = doc["metrics"]
            # The bytes per type from a keyspace pass that saw every key.
            typed = {x["labels"]["type"]: x["value"] for x in m.get("keel_dataset_keys", [])}
            return (doc["time_ms"] / 1000 > load_end + 1.2 and m.get("keel_ops_per_sec", 0) > 0
                    and any(e["args"][:2] == ["DEBUG", "SLEEP"] for e in doc["slowlog"])
                    and typed == dict(TYPED_KEYS_DB2, string=KEYS_DB0 + KEYS_DB1))

        deadline = time.time() + 30
        while not fresh():
            assert time.time() < deadline, "no snapshot after the load"
            time.sleep(0.2)

        before, t0 = raw_info(c, "everything"), time.time()
        dom_text = chromium(tmp, "--virtual-time-budget=3000", "--dump-dom", "http://127.0.0.1:%d/" % mport)
        after, t1 = raw_info(c, "everything"), time.time()
        status, body = http_get(mport, "/json")
        assert status == 200
        doc_after = json.loads(body)
        slowlog = c.execute_command("SLOWLOG", "GET", "128")
        pinger.finish()
        pinger = None

        shot = os.path.join(tmp, "dashboard.png")
        chromium(tmp, "--virtual-time-budget=3000", "--window-size=1280,900", "--hide-scrollbars",
                 "--screenshot=" + shot, "http://127.0.0.1:%d/" % mport)
        with open(os.path.join(tmp, "dashboard.html"), "w") as f:
            f.write(dom_text)
        slow.connection_pool.disconnect()
        c.connection_pool.disconnect()
        yield {"dom": Dom(dom_text), "before": before, "after": after, "elapsed": t1 - t0,
               "slowlog": slowlog, "shot": shot, "text": dom_text, "json": doc_after}
    finally:
        if pinger is not None:
            pinger.stop.set()
            pinger.join(30)
        s.stop()


def between(page, field, got, rel=0.1, abs_=0.0):
    """got lies within the INFO values before and after Chromium, widened by
    rel (relative) and abs_."""
    a, b = float(page["before"][field]), float(page["after"][field])
    lo, hi = min(a, b), max(a, b)
    assert lo * (1 - rel) - abs_ <= got <= hi * (1 + rel) + abs_, (field, got, a, b)


# ------------------------------------------------------------------ tests

def test_page_polled_json(page):
    status = page["dom"]["status"]
    assert status.text().startswith("live "), status.text()
    assert status.attrs.get("class", "") != "bad"


def test_memory_tile_and_legend(page):
    dom = page["dom"]
    used, maxm = dom["t-mem"].text().split(" / ")
    assert int(page["before"]["maxmemory"]) == MAXMEMORY == int(page["after"]["maxmemory"])
    assert maxm == human(MAXMEMORY) == "65.18M"
    between(page, "used_memory", unhuman(used), abs_=256 * 1024)
    lg = legend(dom, "l-mem")
    assert set(lg) == {"used", "rss", "peak", "maxmemory"}
    assert lg["maxmemory"] == human(MAXMEMORY)
    assert lg["used"] == used
    between(page, "used_memory_peak", unhuman(lg["peak"]), rel=0.05)
    # RSS moves most (under ASan its quarantine grows with the PINGs).
    between(page, "used_memory_rss", unhuman(lg["rss"]), rel=0.25, abs_=1024 * 1024)
    frag = float(legend(dom, "l-frag")["rss / used"])
    between(page, "mem_fragmentation_ratio", frag, rel=0.25, abs_=0.05)


def test_hit_ratio(page):
    for info in (page["before"], page["after"]):
        assert int(info["keyspace_hits"]) == HITS and int(info["keyspace_misses"]) == MISSES
    ratio = HITS / (HITS + MISSES)
    assert page["dom"]["t-hit"].text() == "%.1f%%" % (ratio * 100) == "66.7%"
    assert legend(page["dom"], "l-hit") == {"hit ratio": "%.0f%%" % (ratio * 100)}


def test_evicted_and_expired(page):
    lg = legend(page["dom"], "l-evict")
    evicted = int(page["after"]["evicted_keys"])
    assert evicted == int(page["before"]["evicted_keys"]) > 0
    assert int(page["after"]["expired_keys"]) == int(page["before"]["expired_keys"]) == SHORT_TTL_KEYS
    # Nothing is evicted or expires while the page polls: rates of 0.
    assert lg == {"evicted/s": "0 (%d in all)" % evicted, "expired/s": "0 (%d in all)" % SHORT_TTL_KEYS}


def test_keys_clients_role_uptime(page):
    dom = page["dom"]
    for info in (page["before"], page["after"]):
        assert keyspace_keys(info) == (KEYS_DB0 + KEYS_DB1 + len(TYPED_KEYS_DB2), TTL_KEYS_DB0)
        # The test's client, the slow log's client and the PINGer.
        assert int(info["connected_clients"]) == 3
    assert dom["t-keys"].text() == str(KEYS_DB0 + KEYS_DB1 + len(TYPED_KEYS_DB2))
    assert dom["t-clients"].text() == "3"
    assert dom["t-role"].text() == page["after"]["role"] == "master"
    up = undur(dom["t-up"].text())
    assert int(page["before"]["uptime_in_seconds"]) - 3 <= up <= int(page["after"]["uptime_in_seconds"])


def test_ops_per_sec(page):
    """ops/s of the newest snapshot against the rate of commands INFO saw
    while Chromium ran (the PINGer's, nearly all). Loose: a stalled PINGer
    catches up in bursts."""
    ops = unfmt(page["dom"]["t-ops"].text())
    assert legend(page["dom"], "l-ops") == {"ops/s": page["dom"]["t-ops"].text()}
    n = int(page["after"]["total_commands_processed"]) - int(page["before"]["total_commands_processed"])
    rate = n / page["elapsed"]
    assert rate > PING_RATE / 4, rate
    assert rate / 4 <= ops <= rate * 4, (ops, rate)


def test_latency_legend_names_info_percentiles(page):
    """The legend names the percentiles INFO latencystats reports (p57, not
    p56.99999999999999)."""
    line = page["after"]["latency_percentiles_usec_ping"]
    names = [kv.split("=")[0] for kv in line.split(",")]
    assert names == ["p50", "p57", "p99.9"]
    assert list(legend(page["dom"], "l-lat")) == names


def test_slowlog_table(page):
    rows = [[td.text() for td in tr.find_all("td")] for tr in page["dom"]["slowlog"].find_all("tr")]
    assert rows and all(len(r) == 5 for r in rows), rows
    entries = {e[0]: e for e in page["slowlog"]}
    sleeps = [r for r in rows if r[3] == "DEBUG SLEEP 0.02"]
    assert len(sleeps) == 1, rows
    for r in rows:
        e = entries[int(r[0])]
        eid, start, usec, args, client, name = e[:6]
        assert r[2] == str(usec)
        assert r[3] == " ".join(a.decode() for a in args)
        assert r[4] == client.decode() + (" (%s)" % name.decode() if name else "")
        # toLocaleTimeString() in en-US, UTC: 6:13:27 PM.
        tm = time.gmtime(start)
        assert r[1].replace("\u202f", " ") == "%d:%02d:%02d %s" % (
            (tm.tm_hour % 12) or 12, tm.tm_min, tm.tm_sec, "AM" if tm.tm_hour < 12 else "PM")
    r = sleeps[0]
    assert int(r[2]) >= 20000
    assert r[4].endswith(" (dash-slow)") and r[4].startswith("127.0.0.1:")
    # Newest first, as SLOWLOG GET.
    assert [int(r[0]) for r in rows] == sorted((int(r[0]) for r in rows), reverse=True)


def test_dataset_by_type(page):
    """The table of bytes per type shows the figures of /json (the dataset
    does not change while Chromium looks, so every pass measures the same):
    keys and bytes per type, shares of their sum, and a bar segment per
    type as wide as its share; the sum is under INFO's dataset."""
    m = page["json"]["metrics"]
    want = {x["labels"]["type"]: x["value"] for x in m["keel_dataset_bytes"]}
    keys = {x["labels"]["type"]: x["value"] for x in m["keel_dataset_keys"]}
    assert set(want) == set(TYPES) and all(want[t] > 0 for t in TYPES), want
    total = sum(want.values())
    rows = list(page["dom"]["types"].find_all("tr"))
    assert [r.attrs.get("data-type") for r in rows] == list(TYPES)
    for r in rows:
        t = r.attrs["data-type"]
        cells = [td.text() for td in r.find_all("td")]
        assert cells[1:] == [t, str(int(keys[t])), human(want[t]), "%.1f%%" % (want[t] / total * 100)], cells
        assert int(r.attrs["data-bytes"]) == want[t]
    segs = list(page["dom"]["types-bar"].find_all("span"))
    assert [sg.attrs["title"] for sg in segs] == list(TYPES)
    for sg in segs:
        width = float(re.search(r"width:\s*([0-9.]+)%", sg.attrs["style"]).group(1))
        assert abs(width - want[sg.attrs["title"]] / total * 100) < 0.01
    assert page["dom"]["types-age"].text().startswith("(" + human(total) + ", pass of ")
    # This dataset is small beside the server's own 0.5 MB, so only "under"
    # (test_metrics.py checks the sum within 10% on 12 MB).
    assert 0 < total < int(page["after"]["used_memory_dataset"])


def test_screenshot_is_a_png(page):
    with open(page["shot"], "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    assert (width, height) == (1280, 900), (width, height)
    assert 20 * 1024 < len(data) < 8 * 1024 * 1024, len(data)
    # Decoded, the picture is not one flat colour (the page has text and
    # charts on a dark background).
    idat, pos = b"", 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    channels = {2: 3, 6: 4}[color]
    assert depth == 8 and len(raw) == height * (1 + width * channels)
    assert len(set(raw[::997])) > 16
