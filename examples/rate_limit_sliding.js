// The article's sliding-window limiter, and the same script with unique
// members.
//
// The script records each request in a sorted set with the time as both
// score and member. Requests that arrive within the same millisecond (the
// resolution of Date.now()) carry the same member, so ZADD stores them
// once and ZCARD counts them once: a burst inside one millisecond passes
// untouched. Reproduced by sending them with one timestamp, as concurrent
// requests in one ms do. The fix gives each request its own member (a
// per-key sequence from INCR); the score stays the time. CL.THROTTLE
// (rate_limit_throttle.js) needs neither the set nor the script.
'use strict';

const fs = require('fs');
const path = require('path');
const { connect, check, run } = require('./lib/common');

// tests/seed/rate_limiter.lua is the article's script verbatim.
const NAIVE = fs.readFileSync(path.join(__dirname, '..', 'tests', 'seed', 'rate_limiter.lua'), 'utf8');

const FIXED = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window_start = tonumber(ARGV[2])
local max_requests = tonumber(ARGV[3])
local window_size = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', window_start)
if redis.call('ZCARD', key) < max_requests then
  local seq = redis.call('INCR', key .. ':seq')
  redis.call('ZADD', key, now, now .. '-' .. seq)
  redis.call('EXPIRE', key, window_size)
  redis.call('EXPIRE', key .. ':seq', window_size)
  return 1
end
return 0`;

async function burst(client, script, key, n, limit) {
    const now = Date.now() / 1000; // one millisecond for all of them
    const windowSize = 60;
    let admitted = 0;
    await Promise.all(
        Array.from({ length: n }, async () => {
            const r = await client.eval(script, { keys: [key], arguments: [String(now), String(now - windowSize), String(limit), String(windowSize)] });
            admitted += r;
        })
    );
    return admitted;
}

run(async () => {
    const client = await connect();
    const limit = 10;
    const n = 25;
    const naive = await burst(client, NAIVE, 'rl:naive', n, limit);
    console.log(`naive (now as member): ${n} requests in one ms, limit ${limit} -> ${naive} admitted`);
    check(naive === n, 'every request in the millisecond passed');
    const fixed = await burst(client, FIXED, 'rl:fixed', n, limit);
    console.log(`fixed (unique members): ${n} requests in one ms, limit ${limit} -> ${fixed} admitted`);
    check(fixed === limit, 'exactly the limit');
    await client.del(['rl:naive', 'rl:fixed', 'rl:fixed:seq']);
    await client.quit();
});
