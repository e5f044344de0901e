"""The cmsgpack library scripts see: exact MessagePack encodings (checked
against the spec and Redis 7.0's output), round trips, unpack_one /
unpack_limit, malformed input, nesting limits and read-only protection."""
import struct

import pytest
import redis

from conftest import err


def pack(r, expr):
    return r.eval("return cmsgpack.pack(%s)" % expr, 0)


# Round trip inside the script: pack, unpack, pack again must be stable,
# and the value must come back equal (numbers compared as %.17g text).
ROUND_TRIP = """
local v = loadstring('return ' .. ARGV[1])()
local s = cmsgpack.pack(v)
local back = cmsgpack.unpack(s)
local function show(x)
    if type(x) == 'number' then return string.format('%.17g', x) end
    return tostring(x)
end
return {s, show(back), type(back), cmsgpack.pack(back) == s and 1 or 0}
"""


def round_trip(r, expr):
    s, shown, typ, same = r.eval(ROUND_TRIP, 0, expr)
    assert same == 1
    return s, shown, typ


# ---- exact encodings ----


def test_spec_examples(r):
    assert pack(r, "1") == b"\x01"
    assert pack(r, "-1") == b"\xff"
    assert pack(r, "'a'") == b"\xa1a"
    assert pack(r, "{1,2}") == b"\x92\x01\x02"
    assert pack(r, "{}") == b"\x90"
    assert pack(r, "{a=1}") == b"\x81\xa1a\x01"
    assert pack(r, "true, false, nil") == b"\xc3\xc2\xc0"
    assert pack(r, "1, {2, {3}}, 'x'") == b"\x01\x92\x02\x91\x03\xa1x"


@pytest.mark.parametrize(
    "value, encoded",
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\xcc\x80"),
        (255, b"\xcc\xff"),
        (256, b"\xcd\x01\x00"),
        (65535, b"\xcd\xff\xff"),
        (65536, b"\xce\x00\x01\x00\x00"),
        (4294967295, b"\xce\xff\xff\xff\xff"),
        (4294967296, b"\xcf\x00\x00\x00\x01\x00\x00\x00\x00"),
        (2**53, b"\xcf\x00\x20\x00\x00\x00\x00\x00\x00"),
        (-32, b"\xe0"),
        (-33, b"\xd0\xdf"),
        (-128, b"\xd0\x80"),
        (-129, b"\xd1\xff\x7f"),
        (-32768, b"\xd1\x80\x00"),
        (-32769, b"\xd2\xff\xff\x7f\xff"),
        (-(2**31), b"\xd2\x80\x00\x00\x00"),
        (-(2**31) - 1, b"\xd3\xff\xff\xff\xff\x7f\xff\xff\xff"),
        (-(2**63), b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00"),
    ],
)
def test_int_size_classes(r, value, encoded):
    assert pack(r, repr(value)) == encoded
    s, shown, typ = round_trip(r, repr(value))
    assert s == encoded
    assert float(shown) == value and typ == b"number"


def test_floats(r):
    # Exact as float32 -> 0xca; otherwise float64 -> 0xcb.
    assert pack(r, "1.5") == b"\xca" + struct.pack(">f", 1.5)
    assert pack(r, "0.1") == b"\xcb" + struct.pack(">d", 0.1)
    assert pack(r, "-2.25") == b"\xca" + struct.pack(">f", -2.25)
    assert pack(r, "1e300") == b"\xcb" + struct.pack(">d", 1e300)
    assert pack(r, "1/0") == b"\xca\x7f\x80\x00\x00"
    assert pack(r, "-1/0") == b"\xca\xff\x80\x00\x00"
    # Out of int64 range: not an int any more (2^63 is exact as float32).
    assert pack(r, "2^63") == b"\xca\x5f\x00\x00\x00"
    assert pack(r, "2^64") == b"\xca\x5f\x80\x00\x00"
    # NaN never equals its float32 image.
    assert pack(r, "0/0")[:1] == b"\xcb"
    for expr, want in (("1.5", b"1.5"), ("0.1", b"0.10000000000000001"), ("-1e-300", b"-1e-300"), ("123456.789", b"123456.789")):
        assert round_trip(r, expr)[1] == want
    assert round_trip(r, "1/0")[1] == b"inf"
    assert r.eval("local x = cmsgpack.unpack(cmsgpack.pack(0/0)) return x ~= x and 1 or 0", 0) == 1
    # Decoding float32/float64 written by someone else.
    assert r.eval("return tostring(cmsgpack.unpack(ARGV[1]))", 0, b"\xca" + struct.pack(">f", 0.5)) == b"0.5"
    assert r.eval("return tostring(cmsgpack.unpack(ARGV[1]))", 0, b"\xcb" + struct.pack(">d", 2.75)) == b"2.75"


def test_decode_every_int_form(r):
    cases = [
        (b"\x05", 5),
        (b"\xfb", -5),
        (b"\xcc\xc8", 200),
        (b"\xcd\x12\x34", 0x1234),
        (b"\xce\x12\x34\x56\x78", 0x12345678),
        (b"\xcf\x00\x00\x01\x02\x03\x04\x05\x06", 0x010203040506),
        (b"\xd0\x85", -123),
        (b"\xd1\xfe\x0c", -500),
        (b"\xd2\xff\xfe\x79\x60", -100000),
        (b"\xd3\xff\xff\xff\xfe\x00\x00\x00\x00", -(2**33)),
    ]
    for data, want in cases:
        assert r.eval("return string.format('%.17g', cmsgpack.unpack(ARGV[1]))", 0, data) == str(want).encode()
    # uint64 is unsigned per the spec (Redis 7.0 reads it as signed).
    assert r.eval("return string.format('%.17g', cmsgpack.unpack(ARGV[1]))", 0, b"\xcf" + b"\xff" * 8) == (
        b"1.8446744073709552e+19"
    )


@pytest.mark.parametrize(
    "length, header",
    [
        (0, b"\xa0"),
        (31, b"\xbf"),
        (32, b"\xd9\x20"),
        (255, b"\xd9\xff"),
        (256, b"\xda\x01\x00"),
        (65535, b"\xda\xff\xff"),
        (65536, b"\xdb\x00\x01\x00\x00"),
    ],
)
def test_string_size_classes(r, length, header):
    data = bytes(i % 256 for i in range(length))
    s = r.eval("return cmsgpack.pack(ARGV[1])", 0, data)
    assert s == header + data
    assert r.eval("return cmsgpack.unpack(cmsgpack.pack(ARGV[1]))", 0, data) == data


def test_binary_strings(r):
    data = b"\x00\xff\r\n\xc1binary\x00"
    assert r.eval("return cmsgpack.pack(ARGV[1])", 0, data) == b"\xac" + data
    assert r.eval("return cmsgpack.unpack(cmsgpack.pack(ARGV[1]))", 0, data) == data
    # bin 8/16/32 (spec) decode as strings too.
    assert r.eval("return cmsgpack.unpack(ARGV[1])", 0, b"\xc4\x02a\x00") == b"a\x00"
    assert r.eval("return cmsgpack.unpack(ARGV[1])", 0, b"\xc5\x00\x01z") == b"z"
    assert r.eval("return cmsgpack.unpack(ARGV[1])", 0, b"\xc6\x00\x00\x00\x01z") == b"z"


def test_tables(r):
    # Holes or non 1..n keys make a map.
    assert pack(r, "{[2]=1}") == b"\x81\x02\x01"
    assert pack(r, "{1,nil,3}") == b"\x82\x01\x01\x03\x03"
    assert pack(r, "{[0]=1}") == b"\x81\x00\x01"
    assert pack(r, "{[1.5]=1}") == b"\x81\xca\x3f\xc0\x00\x00\x01"
    assert pack(r, "{[true]=1}") == b"\x81\xc3\x01"
    assert pack(r, "{1,2,x=3}") == b"\x83\x01\x01\x02\x02\xa1x\x03"
    assert pack(r, "{a={b={}}}") == b"\x81\xa1a\x81\xa1b\x90"
    # 16 items switch to array16 / map16, 65536 to array32.
    assert r.eval("local t = {} for i=1,16 do t[i]=i end return cmsgpack.pack(t):sub(1,4)", 0) == b"\xdc\x00\x10\x01"
    assert r.eval("local t = {} for i=1,16 do t['k'..i]=i end return cmsgpack.pack(t):sub(1,3)", 0) == b"\xde\x00\x10"
    assert r.eval("local t = {} for i=1,65536 do t[i]=0 end return cmsgpack.pack(t):sub(1,6)", 0) == (
        b"\xdd\x00\x01\x00\x00\x00"
    )
    # Functions and other unencodable values become nil; metatables are ignored.
    assert pack(r, "function() end") == b"\xc0"
    assert pack(r, "coroutine.create(function() end)") == b"\xc0"
    assert pack(r, "setmetatable({}, {__index=function() return 1 end})") == b"\x90"


def test_nested_round_trip(r):
    script = """
    local v = {1, 'two', {3, {4, {five = 5, six = {true, false}}}}, {k = 'v', n = -7.5}}
    local t = cmsgpack.unpack(cmsgpack.pack(v))
    return {t[1], t[2], t[3][1], t[3][2][1], t[3][2][2].five, tostring(t[3][2][2].six[1]),
            tostring(t[3][2][2].six[2]), t[4].k, tostring(t[4].n), #t, cmsgpack.pack(t) == cmsgpack.pack(v) and 1 or 0}
    """
    assert r.eval(script, 0) == [1, b"two", 3, 4, 5, b"true", b"false", b"v", b"-7.5", 4, 1]
    # map16 / array16 / map32 / array32 headers decode.
    assert r.eval("return #cmsgpack.unpack(ARGV[1])", 0, b"\xdc\x00\x02\x01\x02") == 2
    assert r.eval("return #cmsgpack.unpack(ARGV[1])", 0, b"\xdd\x00\x00\x00\x01\x07") == 1
    assert r.eval("return cmsgpack.unpack(ARGV[1]).a", 0, b"\xde\x00\x01\xa1a\x09") == 9
    assert r.eval("return cmsgpack.unpack(ARGV[1]).a", 0, b"\xdf\x00\x00\x00\x01\xa1a\x09") == 9
    # A nil map value is simply absent.
    assert r.eval("return cmsgpack.unpack(ARGV[1]).a", 0, b"\x81\xa1a\xc0") is None


def test_booleans_and_nil(r):
    assert r.eval("local a, b, c, d = cmsgpack.unpack(cmsgpack.pack(true, false, nil, 1)) "
                  "return {tostring(a), tostring(b), tostring(c), d}", 0) == [b"true", b"false", b"nil", 1]
    assert r.eval("return select('#', cmsgpack.unpack('\\192\\192'))", 0) == 2


def test_unpack_multiple_values(r):
    assert r.eval("return {cmsgpack.unpack(cmsgpack.pack(1, 'b', 3))}", 0) == [1, b"b", 3]
    assert r.eval("return select('#', cmsgpack.unpack(''))", 0) == 0
    # Numbers are coerced to their text, like any Lua string argument.
    assert r.eval("return cmsgpack.unpack(5)", 0) == 0x35


def test_unpack_one_and_limit(r):
    s = "'\\001\\002\\003'"
    assert r.eval("return {cmsgpack.unpack_one(%s)}" % s, 0) == [1, 1]
    assert r.eval("return {cmsgpack.unpack_one(%s, 1)}" % s, 0) == [2, 2]
    assert r.eval("return {cmsgpack.unpack_one(%s, 2)}" % s, 0) == [-1, 3]
    assert r.eval("return {cmsgpack.unpack_one(%s, 3)}" % s, 0) == [-1]
    assert r.eval("return {cmsgpack.unpack_one('')}", 0) == [-1]
    assert r.eval("return {cmsgpack.unpack_limit(%s, 2)}" % s, 0) == [2, 1, 2]
    assert r.eval("return {cmsgpack.unpack_limit(%s, 2, 1)}" % s, 0) == [-1, 2, 3]
    assert r.eval("return {cmsgpack.unpack_limit(%s, 5)}" % s, 0) == [-1, 1, 2, 3]
    assert r.eval("return {cmsgpack.unpack_limit(%s, 0)}" % s, 0) == [1, 2, 3]
    assert r.eval("return {cmsgpack.unpack_limit(%s, 0, 1)}" % s, 0) == [1]
    # Walking a stream value by value.
    walk = """
    local s, off, out = cmsgpack.pack('a', {1, 2}, 300), 0, {}
    while off ~= -1 do
        local v
        off, v = cmsgpack.unpack_one(s, off)
        out[#out + 1] = type(v) == 'table' and #v or v
    end
    return out
    """
    assert r.eval(walk, 0) == [b"a", 2, 300]
    assert "Invalid request to unpack with offset of -1 and limit of 3." in err(
        r.eval, "return cmsgpack.unpack_one(%s, -1)" % s, 0)
    assert "Invalid request to unpack with offset of 0 and limit of 3." in err(
        r.eval, "return cmsgpack.unpack_limit(%s, -1)" % s, 0)
    assert "Start offset 4 greater than input length 3." in err(r.eval, "return cmsgpack.unpack_one(%s, 4)" % s, 0)
    assert "bad argument #2 to 'unpack_limit' (number expected, got no value)" in err(
        r.eval, "return cmsgpack.unpack_limit(%s)" % s, 0)
    assert "Missing bytes in input." in err(r.eval, "return cmsgpack.unpack_limit(ARGV[1], 1)", 0, b"\xcd\x01")


# ---- errors ----


@pytest.mark.parametrize(
    "data",
    [
        b"\xcd",  # uint16 without its bytes
        b"\xcf\x00\x00",
        b"\xcb\x3f",
        b"\xa5abc",  # fixstr longer than the input
        b"\xd9\x05ab",
        b"\xdb\xff\xff\xff\xffab",  # str32 declaring 4 GiB
        b"\xc6\x7f\xff\xff\xff",  # bin32 declaring 2 GiB
        b"\x91",  # array missing its element
        b"\x92\x01",
        b"\xdd\xff\xff\xff\xff",  # array32 declaring 4G elements
        b"\xdf\xff\xff\xff\xff\x01",  # map32 declaring 4G pairs
        b"\x82\x01",
        b"\x01\x02\xcc",  # a good value, then a truncated one
    ],
)
def test_truncated_input(r, data):
    assert "Missing bytes in input." in err(r.eval, "return cmsgpack.unpack(ARGV[1])", 0, data)
    assert r.ping()


@pytest.mark.parametrize("data", [b"\xc1", b"\xd4\x01\x02", b"\xc7\x01\x01\x00", b"\x91\xd8"])
def test_bad_format(r, data):
    assert "Bad data format in input." in err(r.eval, "return cmsgpack.unpack(ARGV[1])", 0, data)
    assert r.ping()


def test_other_errors(r):
    assert "bad argument #0 to 'pack' (MessagePack pack needs input.)" in err(r.eval, "return cmsgpack.pack()", 0)
    assert "bad argument #1 to 'unpack' (string expected, got no value)" in err(r.eval, "return cmsgpack.unpack()", 0)
    # A nil map key is Lua's own error, as in Redis.
    assert "table index is nil" in err(r.eval, "return cmsgpack.unpack(ARGV[1])", 0, b"\x81\xc0\x01")
    # Errors are catchable inside the script.
    assert r.eval("return tostring(pcall(cmsgpack.unpack, '\\205'))", 0) == b"false"
    assert r.ping()


def test_deep_input_is_bounded(r):
    # 100000 nested arrays: an error, not a crashed server.
    assert "MessagePack input nested too deeply" in err(r.eval, "return cmsgpack.unpack(ARGV[1])", 0, b"\x91" * 100000)
    # A few hundred levels decode fine.
    assert r.eval("return type(cmsgpack.unpack(ARGV[1]))", 0, b"\x91" * 300 + b"\x01") == b"table"
    assert r.ping()


# ---- nesting limit and self reference ----


def test_self_reference_and_depth(r):
    # Levels 0..15 encode; the 17th table becomes nil.
    assert r.eval("local t = {} t[1] = t return cmsgpack.pack(t)", 0) == b"\x91" * 16 + b"\xc0"
    assert r.eval("local t = {} t.a = t return cmsgpack.pack(t)", 0) == b"\x81\xa1a" * 16 + b"\xc0"
    assert r.eval("local t = {} for i = 1, 20 do t = {t} end return cmsgpack.pack(t)", 0) == b"\x91" * 16 + b"\xc0"
    # A table used as its own key terminates as well.
    out = r.eval("local t = {} t[t] = 1 return cmsgpack.pack(t)", 0)
    assert out == b"\x81" * 16 + b"\xc0\x01" + b"\x01" * 15
    # A table shared in many places (not a cycle) is encoded each time.
    assert r.eval("local x = {1} return cmsgpack.pack({x, x})", 0) == b"\x92\x91\x01\x91\x01"


# ---- sandbox ----


def test_readonly(r):
    for script in (
        "cmsgpack.pack = nil return 1",
        "cmsgpack.pack = function() return 'x' end return 1",
        "cmsgpack.foo = 1 return 1",
        "rawset(cmsgpack, 'pack', nil) return 1",
    ):
        e = err(r.eval, script, 0)
        assert "Attempt to modify a readonly table" in e or "readonly" in e.lower(), e
    assert "Attempt to modify a readonly table" in err(r.eval, "cmsgpack = nil return 1", 0)
    assert pack(r, "1") == b"\x01"
    assert r.eval("return cmsgpack.foo", 0) is None
    assert r.eval("local f = cmsgpack.pack return f(2)", 0) == b"\x02"
    names = r.eval("local t = {} for k in pairs(_G) do t[#t + 1] = k end return t", 0)
    assert b"cmsgpack" in names


def test_available_in_functions(r):
    code = "#!lua name=mp\nredis.register_function('mp', function(keys, args) return cmsgpack.pack({1, args[1]}) end)"
    r.function_load(code, replace=True)
    assert r.fcall("mp", 0, "z") == b"\x92\x01\xa1z"
