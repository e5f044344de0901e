"""Geo commands: the documentation's examples (Palermo, Catania...), every
option of GEOADD / GEODIST / GEOHASH / GEOPOS / GEOSEARCH[STORE] and the
deprecated GEORADIUS family, RESP2 and RESP3 reply shapes, error texts,
coordinates at and beyond the valid range, keyspace events, propagation,
both zset encodings, a search in a 1M-member set, and interop with Debian's
redis-server: the same GEOADDs give the same scores, and a geo set moved
from it with DUMP/RESTORE answers every query with the same bytes."""
import os
import random
import time

import pytest

from conftest import WRONGTYPE, err, raw_cmd, resp_exchange

REDIS_BIN = "/usr/bin/redis-server"
KEEL_IS_REDIS = os.environ.get("KEEL_SERVER", "").endswith("redis-server")
keel_only = pytest.mark.skipif(KEEL_IS_REDIS, reason="DEBUG PROPAGATION-LOG is Keel's")

SICILY = ["13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"]
PALERMO = [b"13.36138933897018433", b"38.11555639549629859"]
CATANIA = [b"15.08726745843887329", b"37.50266842333162032"]


def cmd(r, *args):
    """The server's reply untouched by redis-py's per-command parsing."""
    saved = r.response_callbacks
    r.response_callbacks = {}
    try:
        return r.execute_command(*args)
    finally:
        r.response_callbacks = saved


def encoding(r, key):
    e = r.object("encoding", key)
    return e.decode() if isinstance(e, bytes) else e


@pytest.fixture(params=["listpack", "skiplist"])
def z(request, r):
    """A client whose new sorted sets use the given encoding."""
    r.config_set("zset-max-listpack-entries", 128 if request.param == "listpack" else 0)
    r.enc = request.param
    yield r
    r.config_set("zset-max-listpack-entries", 128)


def sicily(r):
    assert cmd(r, "GEOADD", "Sicily", *SICILY) == 2


# ---- the documentation's examples ----

def test_docs_geoadd_geodist(z):
    sicily(z)
    assert encoding(z, "Sicily") == z.enc
    assert cmd(z, "GEODIST", "Sicily", "Palermo", "Catania") == b"166274.1516"
    assert cmd(z, "GEODIST", "Sicily", "Palermo", "Catania", "km") == b"166.2742"
    assert cmd(z, "GEODIST", "Sicily", "Palermo", "Catania", "MI") == b"103.3182"
    assert cmd(z, "GEODIST", "Sicily", "Palermo", "Catania", "ft") == b"545518.8700"
    assert cmd(z, "GEODIST", "Sicily", "Palermo", "Palermo") == b"0.0000"
    assert cmd(z, "GEODIST", "Sicily", "Foo", "Bar") is None
    assert cmd(z, "GEODIST", "Sicily", "Palermo", "Bar") is None
    assert cmd(z, "ZSCORE", "Sicily", "Palermo") == b"3479099956230698"
    assert cmd(z, "ZSCORE", "Sicily", "Catania") == b"3479447370796909"


def test_docs_georadius(z):
    sicily(z)
    assert cmd(z, "GEORADIUS", "Sicily", 15, 37, 200, "km", "WITHDIST") == [[b"Palermo", b"190.4424"],
                                                                            [b"Catania", b"56.4413"]]
    assert cmd(z, "GEORADIUS", "Sicily", 15, 37, 200, "km", "WITHCOORD") == [[b"Palermo", PALERMO],
                                                                             [b"Catania", CATANIA]]
    assert cmd(z, "GEORADIUS", "Sicily", 15, 37, 200, "km", "WITHDIST", "WITHCOORD") == [
        [b"Palermo", b"190.4424", PALERMO], [b"Catania", b"56.4413", CATANIA]]
    assert cmd(z, "GEORADIUS_RO", "Sicily", 15, 37, 200, "km", "ASC") == [b"Catania", b"Palermo"]
    assert cmd(z, "GEOADD", "Sicily", 13.583333, 37.316667, "Agrigento") == 1
    assert cmd(z, "GEORADIUSBYMEMBER", "Sicily", "Agrigento", 100, "km") == [b"Agrigento", b"Palermo"]
    assert cmd(z, "GEORADIUSBYMEMBER_RO", "Sicily", "Agrigento", 100, "km", "DESC") == [b"Palermo", b"Agrigento"]


def test_docs_geohash_geopos(z):
    sicily(z)
    assert cmd(z, "GEOHASH", "Sicily", "Palermo", "Catania") == [b"sqc8b49rny0", b"sqdtr74hyu0"]
    assert cmd(z, "GEOPOS", "Sicily", "Palermo", "Catania", "NonExisting") == [PALERMO, CATANIA, None]
    assert cmd(z, "GEOHASH", "Sicily", "nope") == [None]
    assert cmd(z, "GEOHASH", "Sicily") == []
    assert cmd(z, "GEOPOS", "Sicily") == []


def test_docs_geosearch(z):
    sicily(z)
    assert cmd(z, "GEOADD", "Sicily", 12.758489, 38.788135, "edge1", 17.241510, 38.788135, "edge2") == 2
    assert cmd(z, "GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "ASC") == [b"Catania",
                                                                                                 b"Palermo"]
    assert cmd(z, "GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", 400, 400, "km", "ASC", "WITHCOORD",
               "WITHDIST") == [
        [b"Catania", b"56.4413", CATANIA], [b"Palermo", b"190.4424", PALERMO],
        [b"edge2", b"279.7403", [b"17.24151045083999634", b"38.78813451624225195"]],
        [b"edge1", b"279.7405", [b"12.7584877610206604", b"38.78813451624225195"]]]
    assert cmd(z, "GEOSEARCHSTORE", "key1", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", 400, 400, "km", "ASC",
               "COUNT", 3) == 3
    assert cmd(z, "GEOSEARCH", "key1", "FROMLONLAT", 15, 37, "BYBOX", 400, 400, "km", "ASC", "WITHCOORD",
               "WITHDIST", "WITHHASH") == [
        [b"Catania", b"56.4413", 3479447370796909, CATANIA], [b"Palermo", b"190.4424", 3479099956230698, PALERMO],
        [b"edge2", b"279.7403", 3481342659049484, [b"17.24151045083999634", b"38.78813451624225195"]]]
    assert cmd(z, "GEOSEARCHSTORE", "key2", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", 400, 400, "km", "ASC",
               "COUNT", 3, "STOREDIST") == 3
    got = z.zrange("key2", 0, -1, withscores=True)
    assert [m for m, _ in got] == [b"Catania", b"Palermo", b"edge2"]
    assert [round(s, 9) for _, s in got] == [56.44125787, 190.442429848, 279.740341784]


# ---- options ----

def test_geoadd_options(z):
    sicily(z)
    assert cmd(z, "GEOADD", "Sicily", "NX", 13.5, 38, "Palermo", 14, 37, "Messina") == 1
    assert cmd(z, "GEOPOS", "Sicily", "Palermo")[0] == PALERMO
    assert cmd(z, "GEOADD", "Sicily", "XX", 13.5, 38, "Palermo", 14, 37, "Nope") == 0
    assert cmd(z, "ZSCORE", "Sicily", "Nope") is None
    assert cmd(z, "GEOPOS", "Sicily", "Palermo")[0] != PALERMO
    assert cmd(z, "GEOADD", "Sicily", "CH", 13.361389, 38.115556, "Palermo", 14, 37, "Messina", 1, 1, "new") == 2
    assert cmd(z, "GEOADD", "Sicily", "XX", "CH", 13.5, 38, "Palermo") == 1
    assert cmd(z, "GEOADD", "Sicily", "ch", "nx", 13.361389, 38.115556, "Palermo", 2, 2, "new2") == 1
    assert cmd(z, "GEOADD", "Sicily", 1, 1, "new") == 0
    # The same member twice in one call: the last position wins.
    assert cmd(z, "GEOADD", "dup", 1, 1, "m", 2, 2, "m") == 1
    assert cmd(z, "GEOPOS", "dup", "m")[0][0].startswith(b"2.0000")
    # XX on a missing key creates nothing.
    assert cmd(z, "GEOADD", "nokey", "XX", 1, 1, "m") == 0
    assert z.exists("nokey") == 0


def test_search_options(z):
    sicily(z)
    cmd(z, "GEOADD", "Sicily", 13.583333, 37.316667, "Agrigento", 12.758489, 38.788135, "edge1")
    base = ["GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 300, "km"]
    assert sorted(cmd(z, *base)) == [b"Agrigento", b"Catania", b"Palermo", b"edge1"]
    assert cmd(z, *base, "ASC") == [b"Catania", b"Agrigento", b"Palermo", b"edge1"]
    assert cmd(z, *base, "DESC") == [b"edge1", b"Palermo", b"Agrigento", b"Catania"]
    assert cmd(z, *base, "COUNT", 2) == [b"Catania", b"Agrigento"]
    assert cmd(z, *base, "COUNT", 2, "DESC") == [b"edge1", b"Palermo"]
    assert cmd(z, *base, "COUNT", 100) == [b"Catania", b"Agrigento", b"Palermo", b"edge1"]
    any2 = cmd(z, *base, "COUNT", 2, "ANY")
    assert len(any2) == 2 and set(any2) <= {b"Agrigento", b"Catania", b"Palermo", b"edge1"}
    assert cmd(z, *base, "COUNT", 4, "ANY", "ASC") == [b"Catania", b"Agrigento", b"Palermo", b"edge1"]
    assert cmd(z, *base, "WITHHASH", "COUNT", 1) == [[b"Catania", 3479447370796909]]
    assert cmd(z, *base, "withcoord", "withhash", "withdist", "count", 1) == [
        [b"Catania", b"56.4413", 3479447370796909, CATANIA]]
    # FROMMEMBER is the member's decoded position; the member itself is at 0.
    assert cmd(z, "GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", 100, "km", "WITHDIST", "ASC") == [
        [b"Palermo", b"0.0000"], [b"Agrigento", b"90.9778"], [b"edge1", b"91.4007"]]
    assert cmd(z, "GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", 200, 200, "km", "ASC") == [
        b"Palermo", b"Agrigento", b"edge1"]
    assert cmd(z, "GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", 200, 100, "km", "ASC") == [b"Palermo"]
    assert cmd(z, "GEOSEARCH", "Sicily", "BYRADIUS", 0.1, "mi", "FROMLONLAT", 0, 0) == []
    assert cmd(z, "GEOSEARCH", "Sicily", "FROMLONLAT", 13.361389, 38.115556, "BYRADIUS", 0, "m") == []
    assert cmd(z, "GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", 0, "m") == [b"Palermo"]
    # A radius spanning the earth.
    assert sorted(cmd(z, "GEOSEARCH", "Sicily", "FROMLONLAT", -150, -40, "BYRADIUS", 20000, "km")) == [
        b"Agrigento", b"Catania", b"Palermo", b"edge1"]
    assert cmd(z, "GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 200000, "ft", "COUNT", 1,
               "WITHDIST") == [[b"Catania", b"185174.7305"]]
    assert cmd(z, "GEOSEARCH", "nokey", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km") == []
    # Equal distances keep the order found (cells, then score, then
    # member), whichever way the sort goes.
    cmd(z, "GEOADD", "t", 1, 1, "b", 1, 1, "a", 1, 1, "c", 1.001, 1, "d")
    assert cmd(z, "GEOSEARCH", "t", "FROMLONLAT", 1, 1, "BYRADIUS", 1, "km", "ASC") == [b"a", b"b", b"c", b"d"]
    assert cmd(z, "GEOSEARCH", "t", "FROMLONLAT", 1, 1, "BYRADIUS", 1, "km", "DESC") == [b"d", b"a", b"b", b"c"]
    assert cmd(z, "GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", 200, "km") == []


def test_store_options(z, events):
    sicily(z)
    events()
    assert cmd(z, "GEORADIUS", "Sicily", 15, 37, 200, "km", "STORE", "d1") == 2
    assert z.zrange("d1", 0, -1, withscores=True) == [(b"Palermo", 3479099956230698.0),
                                                       (b"Catania", 3479447370796909.0)]
    assert cmd(z, "GEORADIUS", "Sicily", 15, 37, 200, "km", "STOREDIST", "d2", "COUNT", 1) == 1
    assert [(m, round(s, 4)) for m, s in z.zrange("d2", 0, -1, withscores=True)] == [(b"Catania", 56.4413)]
    assert cmd(z, "GEORADIUSBYMEMBER", "Sicily", "Palermo", 10, "km", "STORE", "d3") == 1
    assert z.zrange("d3", 0, -1) == [b"Palermo"]
    assert cmd(z, "GEOSEARCHSTORE", "d4", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "STOREDIST") == 2
    assert [(m, round(s, 3)) for m, s in z.zrange("d4", 0, -1, withscores=True)] == [(b"Catania", 56.441),
                                                                                      (b"Palermo", 190.442)]
    ev = events()
    assert ("__keyspace@0__:d1", "georadiusstore") in ev
    assert ("__keyspace@0__:d3", "georadiusstore") in ev
    assert ("__keyevent@0__:geosearchstore", "d4") in ev
    # Storing over the source, over another type, and with TTLs dropped.
    z.set("s", "x", ex=100)
    assert cmd(z, "GEOSEARCHSTORE", "s", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km") == 2
    assert z.type("s") == b"zset" and z.ttl("s") == -1
    assert cmd(z, "GEOSEARCHSTORE", "Sicily", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", 1, "km") == 1
    assert z.zrange("Sicily", 0, -1) == [b"Palermo"]
    events()
    # No result: the destination is deleted ("del" event), 0 is replied.
    assert cmd(z, "GEOSEARCHSTORE", "d4", "Sicily", "FROMLONLAT", 0, 0, "BYRADIUS", 1, "km") == 0
    assert z.exists("d4") == 0
    assert cmd(z, "GEORADIUS", "nokey", 0, 0, 1, "km", "STORE", "d1") == 0
    assert z.exists("d1") == 0
    assert cmd(z, "GEORADIUSBYMEMBER", "nokey", "m", 1, "km", "STOREDIST", "d2") == 0
    assert z.exists("d2") == 0
    assert cmd(z, "GEOSEARCHSTORE", "d3", "nokey", "FROMMEMBER", "m", "BYRADIUS", 1, "km") == 0
    assert z.exists("d3") == 0
    assert cmd(z, "GEOSEARCHSTORE", "d3", "nokey", "FROMMEMBER", "m", "BYRADIUS", 1, "km") == 0
    ev = events()
    assert sorted(k for k, v in ev if v == "del") == ["__keyspace@0__:d1", "__keyspace@0__:d2",
                                                       "__keyspace@0__:d3", "__keyspace@0__:d4"]
    # Plain GEORADIUS without STORE writes nothing and sends no event.
    cmd(z, "GEORADIUS", "Sicily", 15, 37, 200, "km")
    assert events() == []


def test_geoadd_event(r, events):
    events()
    cmd(r, "GEOADD", "k", *SICILY)
    cmd(r, "GEOADD", "k", "NX", *SICILY)  # no change, no event
    assert events() == [("__keyspace@0__:k", "zadd"), ("__keyevent@0__:zadd", "k")]


@keel_only
def test_propagation(r, plog):
    cmd(r, "GEOADD", "k", *SICILY)
    cmd(r, "GEOADD", "k", "NX", "CH", *SICILY)  # no change: nothing propagated
    cmd(r, "GEOADD", "k", "xx", "ch", 13.5, 38, "Palermo")
    cmd(r, "GEOSEARCHSTORE", "d", "k", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km")
    cmd(r, "GEORADIUS", "k", 15, 37, 200, "km", "STORE", "d2")
    cmd(r, "GEORADIUS", "k", 15, 37, 200, "km")  # a read: not propagated
    cmd(r, "GEOSEARCH", "k", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km")
    assert plog() == [
        ["0", "zadd", "k", "3479099956230698", "Palermo", "3479447370796909", "Catania"],
        ["0", "zadd", "k", "xx", "ch", "3479097324432493", "Palermo"],
        ["0", "GEOSEARCHSTORE", "d", "k", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"],
        ["0", "GEORADIUS", "k", "15", "37", "200", "km", "STORE", "d2"]]
    assert cmd(r, "ZSCORE", "k", "Palermo") == b"3479097324432493"


# ---- coordinates at and beyond the edges ----

def test_coordinate_range(r):
    assert cmd(r, "GEOADD", "k", 180, 85.05112878, "ne", -180, -85.05112878, "sw", 0, 0, "origin") == 3
    assert cmd(r, "ZSCORE", "k", "ne") == b"13510798882111488"
    assert cmd(r, "ZSCORE", "k", "sw") == b"0"
    assert cmd(r, "ZSCORE", "k", "origin") == b"3377699720527872"
    assert cmd(r, "GEOPOS", "k", "ne", "sw", "origin") == [
        [b"180", b"85.0511287799999991"], [b"-179.99999731779098511", b"-85.05112751263942528"],
        [b"0.00000268220901489", b"0.00000126736058093"]]
    assert cmd(r, "GEOHASH", "k", "ne", "sw", "origin") == [b"bp05b5048p0", b"00bh0hbj200", b"s0000000000"]
    for lon, lat, text in [(-180.0000001, 0, "-180.000000,0.000000"), (0, 85.05112879, "0.000000,85.051129"),
                           (0, -85.0511288, "0.000000,-85.051129"), (200, 100, "200.000000,100.000000"),
                           ("inf", 1, "inf,1.000000"), (1, "-inf", "1.000000,-inf")]:
        assert err(cmd, r, "GEOADD", "k", lon, lat, "x") == "invalid longitude,latitude pair " + text
        assert err(cmd, r, "GEOSEARCH", "k", "FROMLONLAT", lon, lat, "BYRADIUS", 1, "km") == \
            "invalid longitude,latitude pair " + text
        assert err(cmd, r, "GEORADIUS", "k", lon, lat, 1, "km") == "invalid longitude,latitude pair " + text
    # Nothing is added when one pair of several is bad.
    assert err(cmd, r, "GEOADD", "k2", 1, 1, "a", 200, 1, "b") == "invalid longitude,latitude pair 200.000000,1.000000"
    assert r.exists("k2") == 0
    # Searches near the poles and across the antimeridian.
    cmd(r, "GEOADD", "p", 179.9, 0, "east", -179.9, 0, "west", 10, 84.9, "north", -170, 84.9, "north2")
    assert cmd(r, "GEOSEARCH", "p", "FROMLONLAT", 179.95, 0, "BYRADIUS", 50, "km") == [b"east", b"west"]
    assert cmd(r, "GEOSEARCH", "p", "FROMLONLAT", -180, 0, "BYRADIUS", 50, "km") == [b"west", b"east"]
    # Redis's quirk: from longitude 180 exactly, the cells scanned do not
    # wrap around to the west side.
    assert cmd(r, "GEOSEARCH", "p", "FROMLONLAT", 180, 0, "BYRADIUS", 50, "km") == [b"east"]
    assert cmd(r, "GEOSEARCH", "p", "FROMLONLAT", 0, 85, "BYRADIUS", 1000, "km") == [b"north"]
    assert cmd(r, "GEOSEARCH", "p", "FROMLONLAT", 0, 85, "BYRADIUS", 1500, "km", "ASC") == [b"north", b"north2"]
    # Scores no GEOADD wrote still decode (clamped), as Redis reads them.
    cmd(r, "ZADD", "w", -1, "neg", "1e30", "big", 123, "small")
    assert cmd(r, "GEOPOS", "w", "neg") == [[b"180", b"85.0511287799999991"]]
    assert cmd(r, "GEOHASH", "w", "neg") == [b"bp05b5048p0"]
    assert cmd(r, "GEOPOS", "w", "big") == [[b"-179.99999731779098511", b"-85.05112751263942528"]]
    assert cmd(r, "GEODIST", "w", "neg", "big") == cmd(r, "GEODIST", "w", "neg", "big", "m")


# ---- RESP3 ----

def test_resp3_shapes(server, r):
    sicily(r)
    s = server.raw()
    resp_exchange(s, raw_cmd("HELLO", "3"))
    assert resp_exchange(s, raw_cmd("GEOPOS", "Sicily", "Palermo", "nope")) == \
        b"*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n"
    assert resp_exchange(s, raw_cmd("GEODIST", "Sicily", "Palermo", "Catania", "km")) == b"$8\r\n166.2742\r\n"
    assert resp_exchange(s, raw_cmd("GEODIST", "Sicily", "Palermo", "nope")) == b"_\r\n"
    assert resp_exchange(s, raw_cmd("GEOHASH", "Sicily", "Palermo", "nope")) == b"*2\r\n$11\r\nsqc8b49rny0\r\n_\r\n"
    assert resp_exchange(s, raw_cmd("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "ASC",
                                    "WITHCOORD", "WITHDIST", "WITHHASH")) == (
        b"*2\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n,15.08726745843887329\r\n"
        b",37.50266842333162032\r\n*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n*2\r\n"
        b",13.36138933897018433\r\n,38.11555639549629859\r\n")
    assert resp_exchange(s, raw_cmd("GEOSEARCH", "Sicily", "FROMLONLAT", 0, 0, "BYRADIUS", 1, "km")) == b"*0\r\n"
    cmd(r, "GEOADD", "Sicily", 180, 0, "edge")
    assert resp_exchange(s, raw_cmd("GEOPOS", "Sicily", "edge")) == \
        b"*1\r\n*2\r\n,180\r\n,0.00000126736058093\r\n"
    s.close()
    # RESP2: a missing position is a null array.
    s = server.raw()
    assert resp_exchange(s, raw_cmd("GEOPOS", "Sicily", "nope")) == b"*1\r\n*-1\r\n"
    assert resp_exchange(s, raw_cmd("GEOHASH", "Sicily", "nope")) == b"*1\r\n$-1\r\n"
    s.close()


# ---- errors ----

def test_errors(r):
    sicily(r)
    unit = "unsupported unit provided. please use M, KM, FT, MI"
    assert err(cmd, r, "GEODIST", "Sicily", "Palermo", "Catania", "foo") == unit
    assert err(cmd, r, "GEODIST", "Sicily", "Palermo", "Catania", "km", "x") == "syntax error"
    assert err(cmd, r, "GEOADD", "k", "xx", "nx", 0, 0, "x") == "syntax error"
    assert err(cmd, r, "GEOADD", "k", "ch", 0, 0, "x", 1) == "syntax error"
    assert err(cmd, r, "GEOADD", "k", "gt", 0, 0, "x") == "syntax error"
    assert err(cmd, r, "GEOADD", "k", "nx", "ch", "ch", "xx") == "syntax error"
    assert err(cmd, r, "GEOADD", "k", 0, "nan", "x") == "value is not a valid float"
    assert err(cmd, r, "GEOADD", "k", "abc", 0, "x") == "value is not a valid float"
    assert err(cmd, r, "GEOADD", "k", 0, 0) == "wrong number of arguments for 'geoadd' command"
    s = ["GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37]
    assert err(cmd, r, "GEOSEARCH", "Sicily", "FROMMEMBER", "nope", "BYRADIUS", 10, "km") == \
        "could not decode requested zset member"
    assert err(cmd, r, "GEORADIUSBYMEMBER", "Sicily", "nope", 10, "km") == "could not decode requested zset member"
    assert err(cmd, r, *s, "BYRADIUS", 1, "km", "COUNT", 0) == "COUNT must be > 0"
    assert err(cmd, r, *s, "BYRADIUS", 1, "km", "COUNT", -3) == "COUNT must be > 0"
    assert err(cmd, r, *s, "BYRADIUS", 1, "km", "COUNT", "abc") == "value is not an integer or out of range"
    assert err(cmd, r, *s, "BYRADIUS", 1, "km", "ANY") == "the ANY argument requires COUNT argument"
    assert err(cmd, r, *s, "BYRADIUS", 1, "km", "WITHDIST", "COUNT") == "syntax error"
    assert err(cmd, r, *s, "BYRADIUS", -1, "km") == "radius cannot be negative"
    assert err(cmd, r, *s, "BYRADIUS", "abc", "km") == "need numeric radius"
    assert err(cmd, r, *s, "BYRADIUS", 1, "parsec") == unit
    assert err(cmd, r, *s, "BYBOX", "abc", 1, "km") == "need numeric width"
    assert err(cmd, r, *s, "BYBOX", 1, "abc", "km") == "need numeric height"
    assert err(cmd, r, *s, "BYBOX", -1, 1, "km") == "height or width cannot be negative"
    assert err(cmd, r, *s, "BYBOX", 1, -1, "km") == "height or width cannot be negative"
    assert err(cmd, r, *s, "BYBOX", 1, 1, "parsec") == unit
    assert err(cmd, r, *s, "BYBOX", 1, 1, "km", "BYRADIUS", 1, "km") == "syntax error"
    assert err(cmd, r, *s, "BYRADIUS", 1, "km", "FROMMEMBER", "Palermo") == "syntax error"
    assert err(cmd, r, *s, "BYRADIUS", 1, "km", "STORE", "x") == "syntax error"
    assert err(cmd, r, *s, "BYRADIUS", 1, "km", "STOREDIST") == "syntax error"
    assert err(cmd, r, *s, "BYRADIUS", 1, "km", "bogus") == "syntax error"
    assert err(cmd, r, "GEOSEARCH", "Sicily", "BYRADIUS", 1, "km", "ASC", "WITHDIST") == \
        "exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH"
    assert err(cmd, r, "geosearch", "Sicily", "FROMLONLAT", 1, 1, "ASC", "WITHDIST") == \
        "exactly one of BYRADIUS and BYBOX can be specified for geosearch"
    assert err(cmd, r, "GeoSearchStore", "d", "Sicily", "FROMLONLAT", 0, 0, "COUNT", 1, "ANY") == \
        "exactly one of BYRADIUS and BYBOX can be specified for GeoSearchStore"
    assert err(cmd, r, "GEOSEARCH", "Sicily", "FROMLONLAT", 1, 1) == "wrong number of arguments for 'geosearch' command"
    assert err(cmd, r, "GEOSEARCHSTORE", "d", "Sicily", *s[2:], "BYRADIUS", 200, "km", "WITHDIST") == \
        "GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    assert err(cmd, r, "GEORADIUS", "Sicily", 15, 37, 200, "km", "WITHHASH", "STORE", "x") == \
        "STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    assert err(cmd, r, "GEORADIUSBYMEMBER", "Sicily", "Palermo", 200, "km", "STOREDIST", "x", "WITHCOORD") == \
        "STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    assert err(cmd, r, "GEORADIUS_RO", "Sicily", 0, 0, 1, "km", "STORE", "x") == "syntax error"
    assert err(cmd, r, "GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", 1, "km", "STOREDIST", "x") == "syntax error"
    assert err(cmd, r, "GEORADIUS", "Sicily", 0, 0, 1, "km", "FROMLONLAT", 0, 0) == "syntax error"
    assert err(cmd, r, "GEORADIUS", "Sicily", 0, 0, 1, "km", "ANY") == "the ANY argument requires COUNT argument"
    assert err(cmd, r, "GEORADIUS", "Sicily", 0, 0, "x", "km") == "need numeric radius"
    assert err(cmd, r, "GEORADIUS", "nokey", 0, 0, 1, "lightyears") == unit
    assert err(cmd, r, "GEORADIUS", "Sicily", 0, 0, 1) == "wrong number of arguments for 'georadius' command"
    # Without a set GEORADIUSBYMEMBER neither looks for the member nor reads
    # the radius; the options still choose the reply.
    assert cmd(r, "GEORADIUSBYMEMBER", "nokey", "m", "abc", "xx") == []
    assert err(cmd, r, "GEORADIUSBYMEMBER", "nokey", "m", "abc", "xx", "bogus") == "syntax error"
    # Wrong types.
    r.set("str", "x")
    for args in [("GEOADD", "str", 0, 0, "x"), ("GEOPOS", "str", "a"), ("GEOHASH", "str", "a"),
                 ("GEODIST", "str", "a", "b"), ("GEOSEARCH", "str", "FROMLONLAT", 0, 0, "BYRADIUS", 1, "km"),
                 ("GEOSEARCHSTORE", "d", "str", "FROMLONLAT", 0, 0, "BYRADIUS", 1, "km"),
                 ("GEORADIUS", "str", 0, 0, 1, "km"), ("GEORADIUSBYMEMBER_RO", "str", "m", 1, "km")]:
        assert err(cmd, r, *args) == WRONGTYPE
    # WRONGTYPE comes before argument errors in searches, after them in GEOADD.
    assert err(cmd, r, "GEOSEARCH", "str", "FROMLONLAT", 0, 0, "BYRADIUS", -1, "km") == WRONGTYPE
    assert err(cmd, r, "GEOADD", "str", 200, 0, "x") == "invalid longitude,latitude pair 200.000000,0.000000"


# ---- search results match a brute-force scan ----

def test_search_matches_brute_force(z):
    """Every member inside the shape is found (members within a meter of the
    edge aside: the test's distance and the server's may differ there)."""
    rnd = random.Random(7)
    pts = {}
    args = []
    for i in range(100 if z.enc == "listpack" else 600):
        lon, lat = rnd.uniform(10, 12), rnd.uniform(44, 46)
        pts["p%d" % i] = (lon, lat)
        args += [lon, lat, "p%d" % i]
    cmd(z, "GEOADD", "g", *args)
    assert encoding(z, "g") == z.enc
    names = list(pts)
    pos = dict(zip(names, cmd(z, "GEOPOS", "g", *names)))
    for _ in range(40):
        clon, clat = rnd.uniform(10, 12), rnd.uniform(44, 46)
        radius = rnd.uniform(1, 100)
        got = cmd(z, "GEOSEARCH", "g", "FROMLONLAT", clon, clat, "BYRADIUS", radius, "km", "WITHDIST", "ASC")
        dists = [float(d) for _, d in got]
        assert dists == sorted(dists) and all(d <= radius for d in dists)
        found = {m.decode() for m, _ in got}
        for n in names:
            lon, lat = float(pos[n][0]), float(pos[n][1])
            d = haversine(clon, clat, lon, lat) / 1000
            if d < radius - 0.001:
                assert n in found
            elif d > radius + 0.001:
                assert n not in found


def haversine(lon1, lat1, lon2, lat2):
    from math import asin, cos, radians, sin, sqrt
    u = sin((radians(lat2) - radians(lat1)) / 2)
    v = sin((radians(lon2) - radians(lon1)) / 2)
    return 2 * 6372797.560856 * asin(sqrt(u * u + cos(radians(lat1)) * cos(radians(lat2)) * v * v))


def test_big_set_search_is_fast(server, r):
    """A small radius in a 1M-member set reads only the few cells around."""
    rnd = random.Random(3)
    n = 1000000
    # Raw RESP, 200 GEOADDs of 5000 points: redis-py's encoding would
    # take longer than the server.
    s = server.raw()
    s.settimeout(60)
    chunk = 5000
    for b in range(0, n, chunk):
        parts = [b"*%d\r\n$6\r\nGEOADD\r\n$3\r\nbig\r\n" % (2 + 3 * chunk)]
        for i in range(b, b + chunk):
            lon, lat, m = b"%.6f" % rnd.uniform(-180, 180), b"%.6f" % rnd.uniform(-85, 85), b"%d" % i
            parts.append(b"$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(lon), lon, len(lat), lat, len(m), m))
        s.sendall(b"".join(parts))
    got = b""
    while got.count(b"\r\n") < n // chunk:
        got += s.recv(65536)
    s.close()
    assert got.startswith(b":")
    assert r.zcard("big") == n
    t = time.time()
    for i in range(200):
        res = cmd(r, "GEOSEARCH", "big", "FROMLONLAT", rnd.uniform(-180, 180), rnd.uniform(-80, 80), "BYRADIUS",
                  50, "km", "WITHDIST")
        assert all(float(d) <= 50 for _, d in res)
    assert time.time() - t < 5
    assert cmd(r, "GEOSEARCH", "big", "FROMLONLAT", 0, 0, "BYRADIUS", 20000, "km", "COUNT", 3, "ANY") != []
    r.delete("big")


# ---- interop with Debian's redis-server ----


def random_points(rnd, n):
    """Clusters of points, some on the range's edges and corners."""
    out = []
    for c in range(n // 100):
        clon, clat = rnd.uniform(-180, 180), rnd.uniform(-85, 85)
        spread = rnd.choice([0.001, 0.1, 2, 30])
        for i in range(100):
            lon = min(180, max(-180, clon + rnd.uniform(-spread, spread)))
            lat = min(85.05112878, max(-85.05112878, clat + rnd.uniform(-spread, spread)))
            out += [repr(lon), repr(lat), "c%d:%d" % (c, i)]
    out += [180, 85.05112878, "ne", -180, -85.05112878, "sw", 180, -85.05112878, "se", 0, 0, "zero",
            "1e-300", "-1e-300", "tiny", -179.99999, 85, "nw"]
    return out


def test_interop_same_scores(r, redis_ref):
    rnd = random.Random(11)
    pts = random_points(rnd, 2000)
    for c in (r, redis_ref):
        c.delete("g")
        for i in range(0, len(pts), 300):
            cmd(c, "GEOADD", "g", *pts[i:i + 300])
        cmd(c, "GEOADD", "g", "CH", 1, 2, "c0:0", 3, 4, "new")
    assert r.zrange("g", 0, -1, withscores=True) == redis_ref.zrange("g", 0, -1, withscores=True)
    members = pts[2::3]
    assert r.zmscore("g", members) == redis_ref.zmscore("g", members)
    for m in members[:300]:
        assert int(r.zscore("g", m)) == int(redis_ref.zscore("g", m))


def queries(rnd, members, n):
    for _ in range(n):
        if rnd.random() < 0.5:
            a = ["GEOSEARCH", "g", "FROMMEMBER", rnd.choice(members)]
        else:
            a = ["GEOSEARCH", "g", "FROMLONLAT", repr(rnd.uniform(-180, 180)), repr(rnd.uniform(-85, 85))]
        unit = rnd.choice(["m", "km", "ft", "mi"])
        size = 10 ** rnd.uniform(0, 7.3) / {"m": 1, "km": 1000, "ft": 0.3048, "mi": 1609.34}[unit]
        if rnd.random() < 0.5:
            a += ["BYRADIUS", repr(size), unit]
        else:
            a += ["BYBOX", repr(size * rnd.uniform(0.3, 2)), repr(size * rnd.uniform(0.3, 2)), unit]
        a.append(rnd.choice(["ASC", "DESC", "ASC", ""]))
        if rnd.random() < 0.3:
            # COUNT n ANY (or with an order); ties in distance under COUNT
            # alone may come in another order (see below).
            a += ["COUNT", str(rnd.randint(1, 50)), "ANY"]
        a += ["WITHDIST", "WITHHASH", "WITHCOORD"]
        yield [x for x in a if x]


def test_interop_dump_restore(r, redis_ref):
    """A geo set written by redis-server, moved into Keel with DUMP/RESTORE,
    answers every query with exactly redis-server's reply."""
    rnd = random.Random(5)
    pts = random_points(rnd, 1500)
    redis_ref.delete("g")
    for i in range(0, len(pts), 300):
        cmd(redis_ref, "GEOADD", "g", *pts[i:i + 300])
    small = ["s%d" % i for i in range(50)]
    cmd(redis_ref, "GEOADD", "small", *[x for i, m in enumerate(small) for x in (10 + i * 0.01, 40, m)])
    for key in ("g", "small"):
        r.delete(key)
        r.restore(key, 0, redis_ref.dump(key))
    assert encoding(r, "small") == "listpack"
    members = pts[2::3]
    for key, names in (("g", members), ("small", small)):
        assert cmd(r, "GEOPOS", key, *names, "nope") == cmd(redis_ref, "GEOPOS", key, *names, "nope")
        assert cmd(r, "GEOHASH", key, *names, "nope") == cmd(redis_ref, "GEOHASH", key, *names, "nope")
    for _ in range(300):
        a, b, u = rnd.choice(members), rnd.choice(members), rnd.choice(["m", "km", "ft", "mi"])
        assert cmd(r, "GEODIST", "g", a, b, u) == cmd(redis_ref, "GEODIST", "g", a, b, u)
    for q in queries(rnd, members, 1500):
        assert cmd(r, *q) == cmd(redis_ref, *q), q
    q = ["GEOSEARCH", "small", "FROMLONLAT", 10.2, 40, "BYBOX", 30, 10, "km", "DESC", "WITHDIST"]
    assert cmd(r, *q) == cmd(redis_ref, *q)
    # Store, then compare what was stored.
    for c in (r, redis_ref):
        cmd(c, "GEOSEARCHSTORE", "st", "g", "FROMMEMBER", members[7], "BYRADIUS", 3000, "km", "STOREDIST")
        cmd(c, "GEORADIUS", "g", 0, 0, 5000, "km", "STORE", "st2")
    assert r.zrange("st", 0, -1, withscores=True) == redis_ref.zrange("st", 0, -1, withscores=True)
    assert r.zrange("st2", 0, -1, withscores=True) == redis_ref.zrange("st2", 0, -1, withscores=True)
    # And back: Keel's set restores into redis-server unchanged.
    redis_ref.restore("back", 0, r.dump("g"), replace=True)
    assert redis_ref.zrange("back", 0, -1, withscores=True) == redis_ref.zrange("g", 0, -1, withscores=True)
