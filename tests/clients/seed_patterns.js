// The seed article's patterns ("Redis Patterns in Production"), run through
// node-redis 4.5 (Debian's node-redis, the client the article uses) against
// a server on 127.0.0.1:<port>.
//
// Usage: NODE_PATH=/usr/share/nodejs node seed_patterns.js <port>
//
// Each section translates the article's TypeScript to JavaScript with the
// same node-redis calls and option objects, and asserts the results. Where
// the article writes node-redis 3 names (client.setex, client.zadd,
// client.zrevrange with { WITHSCORES: true }), which node-redis 4 does not
// have, we use the v4 spelling (setEx, zAdd, zRangeWithScores with REV) and
// also run the v3 spelling once through legacyMode. The streams section
// runs last (it needs X* commands): it first shows what the article's
// stream calls as written do in node-redis 4.5, then runs the same flow
// through the v4 methods. Exits non-zero on the first failure.
'use strict';

const assert = require('assert');
const redis = require('redis');

const port = Number(process.argv[2]);
if (!port) {
    console.error('usage: seed_patterns.js <port>');
    process.exit(2);
}
const url = `redis://127.0.0.1:${port}`;

// section() and the stand-in for the article's `db.query`.
const { section, db } = require('./seed_common');

async function connectHandshake() {
    section('connect: options node-redis sends at connect (SELECT, CLIENT SETNAME), HELLO, CLIENT SETINFO');
    // database and name make node-redis send SELECT and CLIENT SETNAME
    // before any user command, pipelined with the first one.
    const c = redis.createClient({ url, database: 3, name: 'seed-patterns' });
    c.on('error', (err) => console.error('client error', err));
    await c.connect();
    assert.strictEqual(await c.ping(), 'PONG');
    assert.strictEqual(await c.clientGetName(), 'seed-patterns');
    const info = await c.clientInfo();
    assert.strictEqual(info.name, 'seed-patterns');
    assert.strictEqual(info.db, 3);
    assert.ok(info.id > 0 && info.addr.startsWith('127.0.0.1:'), JSON.stringify(info));
    assert.strictEqual(info.laddr, `127.0.0.1:${port}`);
    assert.strictEqual(await c.clientId(), info.id);
    // Newer clients (node-redis 4.6.8+, redis-py 5) announce themselves with
    // CLIENT SETINFO (Redis 7.2+, which Keel reports being) and negotiate
    // with HELLO; both must work in RESP2.
    const version = /\r\nredis_version:(\d+)\.(\d+)/.exec(await c.info('server'));
    const hasSetinfo = Number(version[1]) * 100 + Number(version[2]) >= 702;
    if (hasSetinfo) {
        assert.strictEqual(await c.sendCommand(['CLIENT', 'SETINFO', 'LIB-NAME', 'node-redis']), 'OK');
        assert.strictEqual(await c.sendCommand(['CLIENT', 'SETINFO', 'LIB-VER', '4.5.1']), 'OK');
    }
    const hello = await c.sendCommand(['HELLO', '2']);
    const fields = {};
    for (let i = 0; i < hello.length; i += 2) {
        fields[hello[i]] = hello[i + 1];
    }
    assert.strictEqual(fields.proto, 2);
    assert.strictEqual(fields.id, info.id);
    assert.ok(typeof fields.version === 'string' && fields.version.length > 0);
    const list = await c.sendCommand(['CLIENT', 'LIST', 'ID', String(info.id)]);
    if (hasSetinfo) {
        assert.match(list, /lib-name=node-redis/);
        assert.match(list, /lib-ver=4\.5\.1/);
    }
    assert.match(list, / db=3 /);
    // SELECT through the client API and back; keys live per database.
    await c.set('handshake:key', 'db3');
    await c.select(0);
    assert.strictEqual(await c.get('handshake:key'), null);
    await c.select(3);
    assert.strictEqual(await c.get('handshake:key'), 'db3');
    await c.del('handshake:key');
    await c.quit();
}

async function cachePatterns(client) {
    section('cache-aside / write-through / write-behind');
    // CACHE-ASIDE
    async function getUserCacheAside(userId) {
        const cached = await client.get(`user:${userId}`);
        if (cached) return JSON.parse(cached);
        const user = db.getUser(userId);
        await client.setEx(`user:${userId}`, 3600, JSON.stringify(user));
        return user;
    }
    // WRITE-THROUGH
    async function updateUserWriteThrough(userId, updates) {
        const user = db.updateUser(userId, updates);
        await client.setEx(`user:${userId}`, 3600, JSON.stringify(user));
        return user;
    }
    // WRITE-THROUGH, asynchronous cache update (not awaited)
    function updateUserWriteThroughAsync(userId, updates) {
        const user = db.updateUser(userId, updates);
        const pending = client.setEx(`user:${userId}`, 3600, JSON.stringify(user)).catch(console.error);
        return { user, pending };
    }
    // WRITE-BEHIND
    async function logEventWriteBehind(event) {
        const eventId = Date.now();
        await client.lPush('events:queue', JSON.stringify(event));
        await client.incr('events:counter');
        return { id: eventId };
    }
    // The background flush job, run once by hand instead of setInterval.
    const flushed = [];
    async function flushEvents() {
        const events = await client.lRange('events:queue', 0, 999);
        if (events.length === 0) return 0;
        flushed.push(...events.map((e) => JSON.stringify(JSON.parse(e))));
        await client.lTrim('events:queue', events.length, -1);
        return events.length;
    }

    db.reads = 0;
    const first = await getUserCacheAside('42');
    assert.deepStrictEqual(first, { id: '42', name: 'Ada', plan: 'free' });
    assert.strictEqual(db.reads, 1);
    const second = await getUserCacheAside('42');
    assert.deepStrictEqual(second, first);
    assert.strictEqual(db.reads, 1, 'second read must be a cache hit');
    const ttl = await client.ttl('user:42');
    assert.ok(ttl > 3590 && ttl <= 3600, `ttl ${ttl}`);

    const updated = await updateUserWriteThrough('42', { plan: 'pro' });
    assert.strictEqual(updated.plan, 'pro');
    assert.deepStrictEqual(JSON.parse(await client.get('user:42')), updated);
    assert.ok((await client.pTTL('user:42')) > 3590000);

    const { user, pending } = updateUserWriteThroughAsync('42', { name: 'Ada L.' });
    // A command sent after the un-awaited one sees its effect: one connection
    // keeps order.
    assert.deepStrictEqual(JSON.parse(await client.get('user:42')), user);
    await pending;

    // Expiry really happens: a short TTL through the { PX } option.
    await client.set('user:short', 'x', { PX: 50 });
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.strictEqual(await client.get('user:short'), null);
    assert.strictEqual(await client.exists('user:short'), 0);

    for (let i = 0; i < 1205; i++) {
        await logEventWriteBehind({ type: 'click', n: i });
    }
    assert.strictEqual(await client.get('events:counter'), '1205');
    assert.strictEqual(await client.lLen('events:queue'), 1205);
    // LPUSH puts the newest first; LRANGE 0 999 takes the newest 1000 and
    // LTRIM 1000 -1 keeps the 205 oldest.
    assert.strictEqual(await flushEvents(), 1000);
    assert.strictEqual(JSON.parse(flushed[0]).n, 1204);
    assert.strictEqual(await client.lLen('events:queue'), 205);
    assert.strictEqual(await flushEvents(), 205);
    assert.strictEqual(JSON.parse(flushed[1204]).n, 0);
    assert.strictEqual(await flushEvents(), 0);
    // An emptied list is deleted.
    assert.strictEqual(await client.exists('events:queue'), 0);
    assert.strictEqual(flushed.length, 1205);
}

async function lockPatterns(client) {
    section('locks: naive, SET NX EX, token + Lua release, multi-lock');
    async function naiveLock(key) {
        const existing = await client.get(key);
        if (existing) throw new Error('Already locked');
        await client.set(key, '1', { EX: 30 });
    }
    async function basicLock(key) {
        const acquired = await client.set(key, '1', { NX: true, EX: 30 });
        if (!acquired) throw new Error('Lock not acquired');
    }
    async function acquireLockWithToken(key, ttl = 30) {
        const token = Math.random().toString(36).substr(2, 9);
        const acquired = await client.set(key, token, { NX: true, EX: ttl });
        if (!acquired) throw new Error('Lock not acquired');
        return token;
    }
    async function releaseLockWithToken(key, token) {
        const script = `
if redis.call('get', KEYS[1]) == ARGV[1] then
return redis.call('del', KEYS[1])
else
return 0
end
`;
        const result = await client.eval(script, { keys: [key], arguments: [token] });
        if (result === 0) throw new Error('Token mismatch');
    }
    async function acquireMultipleLocks(keys) {
        const sortedKeys = [...keys].sort();
        const tokens = {};
        for (const key of sortedKeys) {
            tokens[key] = await acquireLockWithToken(key, 30);
        }
        return tokens;
    }
    async function releaseMultipleLocks(tokens) {
        for (const [key, token] of Object.entries(tokens)) {
            await releaseLockWithToken(key, token);
        }
    }

    await naiveLock('lock:naive');
    await assert.rejects(naiveLock('lock:naive'), /Already locked/);
    const naiveTtl = await client.ttl('lock:naive');
    assert.ok(naiveTtl > 0 && naiveTtl <= 30);

    await basicLock('lock:basic');
    await assert.rejects(basicLock('lock:basic'), /Lock not acquired/);
    // SET NX on a held key replies nil, which node-redis maps to null.
    assert.strictEqual(await client.set('lock:basic', '2', { NX: true, EX: 30 }), null);
    assert.strictEqual(await client.get('lock:basic'), '1');

    // criticalSection(): acquire, work, release in finally.
    let balance = 1000;
    const token = await acquireLockWithToken('resource:critical');
    assert.match(token, /^[0-9a-z]{1,9}$/);
    try {
        await assert.rejects(acquireLockWithToken('resource:critical'), /Lock not acquired/);
        balance -= 100;
    } finally {
        await releaseLockWithToken('resource:critical', token);
    }
    assert.strictEqual(balance, 900);
    assert.strictEqual(await client.exists('resource:critical'), 0);

    // A wrong token must not unlock (the reason for the Lua release).
    const held = await acquireLockWithToken('resource:critical', 5);
    await assert.rejects(releaseLockWithToken('resource:critical', 'not-' + held), /Token mismatch/);
    assert.strictEqual(await client.get('resource:critical'), held);
    const lockTtl = await client.ttl('resource:critical');
    assert.ok(lockTtl > 0 && lockTtl <= 5, `ttl ${lockTtl}`);
    await releaseLockWithToken('resource:critical', held);

    // The same Lua release replies integers 1/0 straight through EVAL.
    await client.set('lock:raw', 'tok', { NX: true, PX: 30000 });
    const pttl = await client.pTTL('lock:raw');
    assert.ok(pttl > 29000 && pttl <= 30000, `pttl ${pttl}`);
    const release = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
    assert.strictEqual(await client.eval(release, { keys: ['lock:raw'], arguments: ['other'] }), 0);
    assert.strictEqual(await client.eval(release, { keys: ['lock:raw'], arguments: ['tok'] }), 1);
    assert.strictEqual(await client.eval(release, { keys: ['lock:raw'], arguments: ['tok'] }), 0);

    // MULTI-LOCK in sorted order.
    const tokens = await acquireMultipleLocks(['lock:b', 'lock:c', 'lock:a']);
    assert.deepStrictEqual(Object.keys(tokens), ['lock:a', 'lock:b', 'lock:c']);
    await assert.rejects(acquireMultipleLocks(['lock:c', 'lock:z']), /Lock not acquired/);
    // The failed attempt took lock:z? No: sorted order tries lock:c first and stops.
    assert.strictEqual(await client.exists('lock:z'), 0);
    await releaseMultipleLocks(tokens);
    assert.strictEqual(await client.exists(['lock:a', 'lock:b', 'lock:c']), 0);

    // node-redis's own script helper: EVALSHA first, EVAL on NOSCRIPT.
    const scripted = redis.createClient({
        url,
        scripts: {
            releaseLock: redis.defineScript({
                NUMBER_OF_KEYS: 1,
                SCRIPT: release,
                transformArguments(key, token) {
                    return [key, token];
                },
                transformReply(reply) {
                    return reply;
                },
            }),
        },
    });
    await scripted.connect();
    await scripted.scriptFlush();
    await scripted.set('lock:sha', 't1');
    assert.strictEqual(await scripted.releaseLock('lock:sha', 't1'), 1); // NOSCRIPT -> EVAL
    await scripted.set('lock:sha', 't2');
    assert.strictEqual(await scripted.releaseLock('lock:sha', 't2'), 1); // EVALSHA hit
    assert.deepStrictEqual(await scripted.scriptExists(redis.defineScript({ NUMBER_OF_KEYS: 1, SCRIPT: release }).SHA1), [true]);
    await scripted.quit();
}

async function rateLimiter(client) {
    section('sliding-window rate limiter (Lua over a sorted set)');
    const script = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window_start = tonumber(ARGV[2])
local max_requests = tonumber(ARGV[3])
local window_size = tonumber(ARGV[4])
-- Remove old entries outside window
redis.call('zremrangebyscore', key, '-inf', window_start)
-- Count current requests in window
local current = redis.call('zcard', key)
if current < max_requests then
-- Add new request with timestamp as score
redis.call('zadd', key, now, now)
redis.call('expire', key, window_size)
return 1
else
return 0
end
`;
    class RateLimiter {
        constructor(windowSize = 60, maxRequests = 100) {
            this.windowSize = windowSize;
            this.maxRequests = maxRequests;
        }
        // The article passes numbers in `arguments`; node-redis 4.5's encoder
        // accepts only strings and Buffers (TypeError 'Invalid argument
        // type', checked below), so the numbers are turned into strings.
        async isAllowed(key, now = Date.now() / 1000) {
            const windowStart = now - this.windowSize;
            const result = await client.eval(script, {
                keys: [key],
                arguments: [now, windowStart, this.maxRequests, this.windowSize].map(String),
            });
            return result === 1;
        }
        async getRemainingRequests(key, now = Date.now() / 1000) {
            const windowStart = now - this.windowSize;
            await client.zRemRangeByScore(key, '-inf', windowStart);
            const current = await client.zCard(key);
            return Math.max(0, this.maxRequests - current);
        }
        async resetQuota(key) {
            await client.del(key);
        }
    }

    // The article's call as written, with numbers, fails inside the client
    // before anything is sent, whatever the server.
    await assert.rejects(
        client.eval(script, { keys: ['user:numbers'], arguments: [1, 2, 3, 4] }),
        (err) => err instanceof TypeError && /Invalid argument type/.test(err.message)
    );
    assert.strictEqual(await client.ping(), 'PONG');

    const limiter = new RateLimiter(60, 100); // 100 req/min
    const key = 'user:7';
    assert.strictEqual(await limiter.getRemainingRequests(key), 100);
    // Requests in the same millisecond share a member (the timestamp), so
    // the article's limiter counts them once: a flaw of the pattern, not of
    // the server. Distinct timestamps make the count exact.
    const nowBase = Date.now() / 1000 - 1;
    assert.strictEqual(await limiter.isAllowed('user:same-ms', nowBase), true);
    assert.strictEqual(await limiter.isAllowed('user:same-ms', nowBase), true);
    assert.strictEqual(await client.zCard('user:same-ms'), 1);
    let allowed = 0;
    for (let i = 0; i < 105; i++) {
        if (await limiter.isAllowed(key, nowBase + i * 0.001)) allowed++;
    }
    assert.strictEqual(allowed, 100);
    assert.strictEqual(await limiter.getRemainingRequests(key), 0);
    assert.strictEqual(await client.zCard(key), 100);
    const ttl = await client.ttl(key);
    assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}`);
    // Members are the fractional timestamps, stored as the same string.
    const [oldest] = await client.zRangeWithScores(key, 0, 0);
    assert.strictEqual(Number(oldest.value), oldest.score);

    // The window slides: with a tiny window, old entries fall out.
    const small = new RateLimiter(2, 3);
    const t0 = 1700000000.25;
    assert.strictEqual(await small.isAllowed('user:8', t0), true);
    assert.strictEqual(await small.isAllowed('user:8', t0 + 0.5), true);
    assert.strictEqual(await small.isAllowed('user:8', t0 + 1.0), true);
    assert.strictEqual(await small.isAllowed('user:8', t0 + 1.5), false);
    assert.strictEqual(await small.getRemainingRequests('user:8', t0 + 1.5), 0);
    // At t0+2.25 the window starts at t0+0.25 (inclusive bound in
    // ZREMRANGEBYSCORE): t0 is removed, one slot opens.
    assert.strictEqual(await small.getRemainingRequests('user:8', t0 + 2.25), 1);
    assert.strictEqual(await small.isAllowed('user:8', t0 + 2.25), true);
    assert.strictEqual(await small.isAllowed('user:8', t0 + 2.3), false);
    assert.deepStrictEqual(await client.zRange('user:8', 0, -1), [
        String(t0 + 0.5),
        String(t0 + 1.0),
        String(t0 + 2.25),
    ]);

    await limiter.resetQuota(key);
    assert.strictEqual(await client.exists(key), 0);
    assert.strictEqual(await limiter.getRemainingRequests(key), 100);
}

async function pubsub(client) {
    section('pub/sub: subscribe + pSubscribe(notifications:users:*) on a duplicated client');
    const publisher = client;
    const subscriber = client.duplicate();
    await subscriber.connect();

    const messages = [];
    const pmessages = [];
    const listener = (message, channel) => messages.push([channel, message]);
    await subscriber.subscribe(['notifications:users:123', 'notifications:system', 'events:orders'], listener);
    await subscriber.pSubscribe('notifications:users:*', (message, channel) =>
        pmessages.push(['notifications:users:*', channel, message])
    );
    assert.deepStrictEqual((await publisher.pubSubChannels()).sort(), [
        'events:orders',
        'notifications:system',
        'notifications:users:123',
    ]);
    assert.strictEqual(await publisher.pubSubNumPat(), 1);
    assert.deepStrictEqual({ ...(await publisher.pubSubNumSub(['notifications:system', 'nobody'])) }, {
        'notifications:system': 1,
        nobody: 0,
    });

    async function notifyUser(userId, message) {
        return publisher.publish(`notifications:users:${userId}`, JSON.stringify(message));
    }
    async function broadcastNotification(message) {
        return publisher.publish('notifications:system', JSON.stringify(message));
    }
    async function notifyOrderStatusChange(orderId, status) {
        const message = { type: 'ORDER_STATUS_CHANGED', orderId, status, timestamp: new Date().toISOString() };
        const order = { user_id: '123' };
        return Promise.all([
            publisher.publish(`notifications:users:${order.user_id}`, JSON.stringify(message)),
            publisher.publish('notifications:system', JSON.stringify(message)),
        ]);
    }

    // PUBLISH returns the number of receivers: the channel subscription and
    // the pattern both count for notifications:users:123.
    assert.strictEqual(await notifyUser('123', { hello: 1 }), 2);
    assert.strictEqual(await notifyUser('999', { hello: 2 }), 1); // pattern only
    assert.strictEqual(await broadcastNotification({ maintenance: true }), 1);
    assert.deepStrictEqual(await notifyOrderStatusChange('o-1', 'SHIPPED'), [2, 1]);
    assert.strictEqual(await publisher.publish('events:orders', 'created'), 1);
    assert.strictEqual(await publisher.publish('nobody:listens', 'x'), 0);

    const deadline = Date.now() + 5000;
    while ((messages.length < 5 || pmessages.length < 3) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepStrictEqual(
        messages.map(([ch]) => ch),
        ['notifications:users:123', 'notifications:system', 'notifications:users:123', 'notifications:system', 'events:orders']
    );
    assert.deepStrictEqual(JSON.parse(messages[0][1]), { hello: 1 });
    assert.strictEqual(JSON.parse(messages[2][1]).status, 'SHIPPED');
    assert.deepStrictEqual(
        pmessages.map(([p, ch]) => [p, ch]),
        [
            ['notifications:users:*', 'notifications:users:123'],
            ['notifications:users:*', 'notifications:users:999'],
            ['notifications:users:*', 'notifications:users:123'],
        ]
    );

    // Binary-safe payloads and a listener receiving Buffers.
    const buffers = [];
    await subscriber.subscribe('bin', (message) => buffers.push(message), true);
    const payload = Buffer.from([0, 1, 2, 255, 13, 10]);
    assert.strictEqual(await publisher.publish('bin', payload), 1);
    while (buffers.length < 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(Buffer.isBuffer(buffers[0]) && buffers[0].equals(payload));

    await subscriber.unsubscribe();
    await subscriber.pUnsubscribe();
    assert.strictEqual(await publisher.pubSubNumPat(), 0);
    assert.deepStrictEqual(await publisher.pubSubChannels(), []);
    // Out of subscribed mode the duplicated connection takes normal commands.
    assert.strictEqual(await subscriber.ping(), 'PONG');
    await subscriber.quit();
}

async function leaderboard(client) {
    section('sorted-set leaderboard');
    class Leaderboard {
        constructor(key = 'leaderboard:global') {
            this.key = key;
        }
        async recordScore(userId, score) {
            await client.zAdd(this.key, { score, value: userId });
        }
        async getTopPlayers(limit = 10) {
            const players = await client.zRangeWithScores(this.key, 0, limit - 1, { REV: true });
            return players.map((p, i) => ({ rank: i + 1, userId: p.value, score: p.score }));
        }
        async getUserRank(userId) {
            const rank = await client.zRevRank(this.key, userId);
            if (rank === null) return null;
            const score = await client.zScore(this.key, userId);
            return { rank: rank + 1, score };
        }
        async getPlayersBetweenRanks(start, end) {
            const players = await client.zRangeWithScores(this.key, start - 1, end - 1, { REV: true });
            return players.map((p, i) => ({ rank: start + i, userId: p.value, score: p.score }));
        }
        async incrementScore(userId, delta) {
            const newScore = await client.zIncrBy(this.key, delta, userId);
            return newScore;
        }
        async removePlayer(userId) {
            await client.zRem(this.key, userId);
        }
    }

    const lb = new Leaderboard();
    await lb.recordScore('user:123', 1500);
    await lb.recordScore('user:456', 1200);
    assert.deepStrictEqual(await lb.getTopPlayers(10), [
        { rank: 1, userId: 'user:123', score: 1500 },
        { rank: 2, userId: 'user:456', score: 1200 },
    ]);
    assert.deepStrictEqual(await lb.getUserRank('user:123'), { rank: 1, score: 1500 });
    assert.strictEqual(await lb.getUserRank('user:nobody'), null);
    assert.strictEqual(await lb.incrementScore('user:456', 300), 1500);
    // Equal scores: ties are ordered by member, descending under REV.
    assert.deepStrictEqual(
        (await lb.getTopPlayers(10)).map((p) => p.userId),
        ['user:456', 'user:123']
    );

    // A bigger board: ranks, ranges, removal, and zRange with REV/BYSCORE.
    for (let i = 0; i < 200; i++) {
        await lb.recordScore(`p${i}`, i * 10);
    }
    // ZADD updates in place: recording again moves the player.
    await lb.recordScore('p0', 5000);
    assert.deepStrictEqual(await lb.getUserRank('p0'), { rank: 1, score: 5000 });
    assert.strictEqual(await client.zCard(lb.key), 202);
    const between = await lb.getPlayersBetweenRanks(2, 4);
    assert.deepStrictEqual(between, [
        { rank: 2, userId: 'p199', score: 1990 },
        { rank: 3, userId: 'p198', score: 1980 },
        { rank: 4, userId: 'p197', score: 1970 },
    ]);
    assert.deepStrictEqual(await client.zRange(lb.key, 0, 2, { REV: true }), ['p0', 'p199', 'p198']);
    assert.deepStrictEqual(await client.zRange(lb.key, 1990, 1970, { BY: 'SCORE', REV: true, LIMIT: { offset: 1, count: 2 } }), [
        'p198',
        'p197',
    ]);
    assert.strictEqual(await client.zRank(lb.key, 'p1'), 0);
    await lb.removePlayer('p199');
    assert.strictEqual(await lb.getUserRank('p199'), null);
    assert.deepStrictEqual(await lb.getUserRank('p198'), { rank: 2, score: 1980 });
    // Fractional and negative increments come back as numbers.
    assert.strictEqual(await lb.incrementScore('p1', 2.5), 12.5);
    assert.strictEqual(await lb.incrementScore('p1', -12.5), 0);
    // Infinity as a score.
    await client.zAdd(lb.key, { score: Infinity, value: 'cheater' });
    // Redis replies "inf", which node-redis 4.5 turns into NaN (it expects
    // "+inf"): compare the raw reply instead.
    assert.strictEqual(await client.zRevRank(lb.key, 'cheater'), 0);
    assert.strictEqual(await client.sendCommand(['ZSCORE', lb.key, 'cheater']), 'inf');
    // A write command on a key of another type fails with WRONGTYPE.
    await client.set('not:a:zset', 'x');
    await assert.rejects(client.zAdd('not:a:zset', { score: 1, value: 'a' }), (err) =>
        err.message.startsWith('WRONGTYPE Operation against a key holding the wrong kind of value')
    );
}

async function memory(client) {
    section('memory management: INFO memory, MEMORY USAGE/STATS/DOCTOR, CONFIG SET maxmemory/-policy');
    const info = await client.info('memory');
    assert.match(info, /^# Memory\r\n/);
    const fields = {};
    for (const line of info.split('\r\n')) {
        const m = /^([a-z_0-9]+):(.*)$/.exec(line);
        if (m) fields[m[1]] = m[2];
    }
    for (const name of ['used_memory', 'used_memory_peak', 'used_memory_human', 'mem_fragmentation_ratio', 'maxmemory', 'maxmemory_policy']) {
        assert.ok(name in fields, `INFO memory lacks ${name}`);
    }
    assert.ok(Number(fields.used_memory) > 0);
    assert.ok(Number(fields.used_memory_peak) >= Number(fields.used_memory));
    assert.match(fields.used_memory_human, /^[0-9.]+[BKMG]$/);
    assert.ok(Number(fields.mem_fragmentation_ratio) > 0);

    await client.set('key-name', 'x'.repeat(1000));
    const usage = await client.memoryUsage('key-name');
    assert.ok(usage >= 1000 && usage < 1300, `MEMORY USAGE ${usage}`);
    assert.strictEqual(await client.memoryUsage('no-such-key'), null);
    assert.ok((await client.memoryUsage('leaderboard:global', { SAMPLES: 0 })) > 200 * 8);

    const stats = await client.memoryStats();
    assert.ok(stats.peakAllocated > 0, JSON.stringify(stats));
    assert.ok(stats.totalAllocated > 0);
    assert.ok(stats.keysCount > 0);
    assert.ok(Number.isFinite(stats.datasetBytes));
    assert.ok('0' in stats.db, JSON.stringify(stats.db));
    assert.ok(stats.db['0'].overheadHashtableMain >= 0);

    const doctor = await client.sendCommand(['MEMORY', 'DOCTOR']);
    assert.ok(typeof doctor === 'string' && doctor.length > 0);
    assert.strictEqual(await client.memoryDoctor(), doctor);

    // maxmemory 1gb / maxmemory-policy allkeys-lru, as the article sets them.
    assert.strictEqual(await client.configSet('maxmemory', '1gb'), 'OK');
    assert.deepStrictEqual({ ...(await client.configGet('maxmemory')) }, { maxmemory: '1073741824' });
    assert.strictEqual(await client.configSet({ 'maxmemory-policy': 'allkeys-lru' }), 'OK');
    assert.deepStrictEqual({ ...(await client.configGet('maxmemory-policy')) }, { 'maxmemory-policy': 'allkeys-lru' });
    const after = await client.info('memory');
    assert.match(after, /\r\nmaxmemory:1073741824\r\n/);
    assert.match(after, /\r\nmaxmemory_human:1\.00G\r\n/);
    assert.match(after, /\r\nmaxmemory_policy:allkeys-lru\r\n/);
    for (const policy of ['noeviction', 'allkeys-lru', 'allkeys-lfu', 'volatile-lru', 'volatile-lfu', 'allkeys-random', 'volatile-random', 'volatile-ttl']) {
        assert.strictEqual(await client.configSet('maxmemory-policy', policy), 'OK');
        assert.deepStrictEqual({ ...(await client.configGet('maxmemory-policy')) }, { 'maxmemory-policy': policy });
    }
    await assert.rejects(client.configSet('maxmemory-policy', 'lru-everything'), (err) =>
        err.message.startsWith("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy')")
    );

    // Eviction with allkeys-lru: with a tight maxmemory, writes keep
    // succeeding and old keys go.
    await client.flushAll();
    await client.configSet({ maxmemory: '0', 'maxmemory-policy': 'allkeys-lru' });
    const base = Number(/\r\nused_memory:(\d+)\r\n/.exec(await client.info('memory'))[1]);
    await client.configSet('maxmemory', String(base + 2 * 1024 * 1024));
    const value = 'v'.repeat(1024);
    for (let i = 0; i < 6000; i++) {
        await client.set(`cache:${i}`, value, { EX: 3600 });
    }
    const keys = await client.dbSize();
    assert.ok(keys > 100 && keys < 6000, `dbsize ${keys} after eviction`);
    assert.strictEqual(await client.get('cache:5999'), value);
    const evicted = Number(/\r\nevicted_keys:(\d+)\r\n/.exec(await client.info('stats'))[1]);
    assert.ok(evicted > 0);

    // noeviction: writes that need memory fail with Redis's OOM text.
    // (The limit is lowered below what the data already uses, so the write
    // is over it whatever eviction left as headroom.)
    await client.configSet({ 'maxmemory-policy': 'noeviction', maxmemory: String(base) });
    await assert.rejects(client.set('cache:more', value), (err) =>
        err.message.startsWith("OOM command not allowed when used memory > 'maxmemory'")
    );
    await client.configSet({ maxmemory: '0', 'maxmemory-policy': 'noeviction' });
    await client.flushAll();
}

async function legacyMode() {
    section("legacyMode: the article's node-redis 3 spellings (setex, zadd, zrevrange WITHSCORES)");
    const c = redis.createClient({ url, legacyMode: true });
    await c.connect();
    const call = (name, ...args) =>
        new Promise((resolve, reject) => c[name](...args, (err, reply) => (err ? reject(err) : resolve(reply))));
    assert.strictEqual(await call('setex', 'user:legacy', 3600, JSON.stringify({ id: 1 })), 'OK');
    assert.strictEqual(await call('ttl', 'user:legacy'), 3600);
    assert.strictEqual(await call('zadd', 'lb:legacy', 1500, 'user:123'), 1);
    assert.strictEqual(await call('zadd', 'lb:legacy', 1200, 'user:456'), 1);
    // node-redis 4 has no ZREVRANGE method even in legacyMode: the legacy
    // sendCommand takes the command name instead.
    assert.deepStrictEqual(await call('sendCommand', 'ZREVRANGE', 'lb:legacy', 0, 9, 'WITHSCORES'), [
        'user:123',
        '1500',
        'user:456',
        '1200',
    ]);
    assert.strictEqual(await call('zrevrank', 'lb:legacy', 'user:456'), 1);
    assert.strictEqual(await call('zincrby', 'lb:legacy', 300, 'user:456'), '1500');
    assert.strictEqual(await call('zremrangebyscore', 'lb:legacy', '-inf', 1400), 0);
    assert.strictEqual(await call('zcard', 'lb:legacy'), 2);
    assert.strictEqual(await call('lpush', 'events:legacy', 'e1'), 1);
    assert.strictEqual(await call('del', 'user:legacy', 'lb:legacy', 'events:legacy'), 3);
    await c.v4.quit();
}

// Stream IDs ("<ms>-<seq>") in order.
function streamIdLess(a, b) {
    const [am, as] = a.split('-').map(BigInt);
    const [bm, bs] = b.split('-').map(BigInt);
    return am < bm || (am === bm && as < bs);
}

// Waits until the server counts `n` blocked clients (INFO clients).
async function waitBlocked(client, n = 1) {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
        const m = /\r\nblocked_clients:(\d+)\r\n/.exec(await client.info('clients'));
        if (m && Number(m[1]) >= n) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`no client blocked (waited for ${n})`);
}

async function streams(client) {
    section("streams: the article's producer, consumer group, consumer loop and lag monitor (xAdd '*', xGroupCreate MKSTREAM, xReadGroup COUNT/BLOCK, xAck, XINFO GROUPS)");
    const NO_KEY_ERR =
        'ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.';

    // ---- The article's calls as written. It spells them the ioredis / node-redis
    // 3 way (client.xadd with flat field-value arguments, client.xack) or
    // invents them (xgroupCreate, xreadgroup with option objects, xinfGroup):
    // none is a node-redis 4.5 method, so the article's publishEvent fails in
    // the client before anything is sent.
    for (const name of ['xadd', 'xgroupCreate', 'xreadgroup', 'xack', 'xinfGroup']) {
        assert.strictEqual(typeof client[name], 'undefined', `client.${name}`);
    }
    async function publishEventAsWritten(streamKey, event) {
        const messageId = await client.xadd(
            streamKey,
            '*', // Auto-generate timestamp-based ID
            'event_type', event.type,
            'user_id', event.userId,
            'data', JSON.stringify(event.data)
        );
        return messageId;
    }
    await assert.rejects(
        publishEventAsWritten('stream:as-written', { type: 'ORDER_CREATED', userId: 'u-1', data: {} }),
        (err) => err instanceof TypeError && /client\.xadd is not a function/.test(err.message)
    );
    assert.strictEqual(await client.exists('stream:as-written'), 0);

    // legacyMode (node-redis 3 emulation) has xadd, xreadgroup and xack with
    // flat arguments, so the article's xadd and xack run there verbatim; it
    // still has no xgroupCreate or xinfGroup.
    const legacy = redis.createClient({ url, legacyMode: true });
    await legacy.connect();
    const call = (name, ...args) =>
        new Promise((resolve, reject) => legacy[name](...args, (err, reply) => (err ? reject(err) : resolve(reply))));
    assert.strictEqual(typeof legacy.xadd, 'function');
    assert.strictEqual(typeof legacy.xack, 'function');
    assert.strictEqual(typeof legacy.xgroupCreate, 'undefined');
    assert.strictEqual(typeof legacy.xinfGroup, 'undefined');
    const legacyId = await call(
        'xadd', 'stream:legacy', '*',
        'event_type', 'ORDER_CREATED', 'user_id', 'u-1', 'data', JSON.stringify({ total: 5 })
    );
    assert.match(legacyId, /^\d+-\d+$/);
    assert.deepStrictEqual(await call('xrange', 'stream:legacy', '-', '+'), [
        [legacyId, ['event_type', 'ORDER_CREATED', 'user_id', 'u-1', 'data', '{"total":5}']],
    ]);
    // The article's publishOrderEvent passes { type, orderId, data }: no
    // userId, so user_id is undefined, which node-redis refuses.
    await assert.rejects(
        call('xadd', 'stream:legacy', '*', 'event_type', 'ORDER_CREATED', 'user_id', undefined, 'data', '{}'),
        (err) => err instanceof TypeError && /Invalid argument type/.test(err.message)
    );
    assert.strictEqual(await call('xlen', 'stream:legacy'), 1);
    await call('sendCommand', 'XGROUP', 'CREATE', 'stream:legacy', 'legacy-group', '0');
    await call('sendCommand', 'XREADGROUP', 'GROUP', 'legacy-group', 'w', 'STREAMS', 'stream:legacy', '>');
    assert.strictEqual(await call('xack', 'stream:legacy', 'legacy-group', legacyId), 1);
    assert.strictEqual(await call('xack', 'stream:legacy', 'legacy-group', legacyId), 0);
    assert.strictEqual(await call('del', 'stream:legacy'), 1);
    await legacy.v4.quit();

    // ---- node-redis 4's shapes, on a stream of their own. xReadGroup replies
    // [{ name, messages: [{ id, message }] }] (message has a null prototype),
    // so the article's `for (const [stream, streamMessages] of messages)`
    // throws; and the article's lower-case { count, block } options are not
    // node-redis's { COUNT, BLOCK }: they are ignored, the read neither
    // blocks nor stops at one entry.
    assert.strictEqual(await client.xGroupCreate('stream:shape', 'shape-group', '$', { MKSTREAM: true }), 'OK');
    const shapeIds = [
        await client.xAdd('stream:shape', '*', { n: '1' }),
        await client.xAdd('stream:shape', '*', { n: '2' }),
    ];
    const shape = await client.xReadGroup('shape-group', 'w', { key: 'stream:shape', id: '>' }, { count: 1, block: 1000 });
    assert.strictEqual(shape.length, 1);
    assert.strictEqual(shape[0].name, 'stream:shape');
    assert.deepStrictEqual(shape[0].messages.map(({ id }) => id), shapeIds);
    assert.strictEqual(Object.getPrototypeOf(shape[0].messages[0].message), null);
    assert.deepStrictEqual({ ...shape[0].messages[1].message }, { n: '2' });
    assert.throws(() => {
        for (const [stream, streamMessages] of shape) {
            assert.fail(`unreachable ${stream} ${streamMessages}`);
        }
    }, (err) => err instanceof TypeError && /is not iterable/.test(err.message));
    // Nothing new: without a BLOCK the read replies nil at once.
    const t1 = Date.now();
    assert.strictEqual(
        await client.xReadGroup('shape-group', 'w', { key: 'stream:shape', id: '>' }, { count: 1, block: 1000 }),
        null
    );
    assert.ok(Date.now() - t1 < 500, `lower-case block: replied after ${Date.now() - t1} ms`);
    assert.strictEqual(await client.xAck('stream:shape', 'shape-group', shapeIds), 2);
    assert.strictEqual(await client.del('stream:shape'), 1);

    // ---- The article's flow with node-redis 4's methods and the same
    // arguments: xAdd(key, '*', fields), xGroupCreate(key, group, '0'),
    // xReadGroup with COUNT 1 / BLOCK 1000, xAck(key, group, id).
    const streamKey = 'stream:order-events';
    const groupName = 'order-processor';

    // Producer: add message to stream
    async function publishEvent(streamKey, event) {
        const messageId = await client.xAdd(streamKey, '*', {
            event_type: event.type,
            user_id: event.userId,
            data: JSON.stringify(event.data),
        });
        return messageId;
    }
    // Consumer group: track processed messages. The article calls
    // xgroupCreate(streamKey, groupName, '0') with no MKSTREAM; `options`
    // adds it.
    async function setupConsumerGroup(streamKey, groupName, options) {
        try {
            await client.xGroupCreate(streamKey, groupName, '0', options);
        } catch (err) {
            if (!err.message.includes('BUSYGROUP')) throw err;
            // Group already exists
        }
    }
    // Monitor consumer group lag. xinfGroup exists nowhere; node-redis 4.5's
    // xInfoGroups lists every group and keeps name, consumers, pending and
    // lastDeliveredId only (not the article's 'last-delivered-id' key), so
    // Redis 7's entries-read and lag come from the raw XINFO GROUPS reply.
    async function getConsumerGroupStatus(streamKey, groupName) {
        const info = (await client.xInfoGroups(streamKey)).find((g) => g.name === groupName);
        assert.strictEqual(info['last-delivered-id'], undefined);
        const raw = (await client.sendCommand(['XINFO', 'GROUPS', streamKey]))
            .map((flat) => {
                const o = {};
                for (let i = 0; i < flat.length; i += 2) o[flat[i]] = flat[i + 1];
                return o;
            })
            .find((g) => g.name === groupName);
        assert.deepStrictEqual(Object.keys(raw), ['name', 'consumers', 'pending', 'last-delivered-id', 'entries-read', 'lag']);
        assert.strictEqual(raw['last-delivered-id'], info.lastDeliveredId);
        return {
            consumers: info.consumers,
            pending: info.pending,
            lastDeliveredId: info.lastDeliveredId,
            entriesRead: raw['entries-read'],
            lag: raw.lag,
        };
    }

    // startEventProcessor() as the article orders it, on a fresh server:
    // the group is created before any event exists, and XGROUP CREATE
    // without MKSTREAM refuses a missing key (not BUSYGROUP, so rethrown).
    await assert.rejects(setupConsumerGroup(streamKey, groupName), (err) => err.message === NO_KEY_ERR);
    assert.strictEqual(await client.exists(streamKey), 0);
    await setupConsumerGroup(streamKey, groupName, { MKSTREAM: true });
    assert.strictEqual(await client.type(streamKey), 'stream');
    assert.strictEqual(await client.xLen(streamKey), 0);
    // A second setup hits BUSYGROUP, which setupConsumerGroup swallows.
    await setupConsumerGroup(streamKey, groupName, { MKSTREAM: true });
    await assert.rejects(
        client.xGroupCreate(streamKey, groupName, '0', { MKSTREAM: true }),
        (err) => err.message === 'BUSYGROUP Consumer Group name already exists'
    );
    assert.deepStrictEqual(await client.xInfoGroups(streamKey), [
        { name: groupName, consumers: 0, pending: 0, lastDeliveredId: '0-0' },
    ]);
    // A new group has read nothing: entries-read is nil, the lag 0.
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 0, pending: 0, lastDeliveredId: '0-0', entriesRead: null, lag: 0,
    });

    // publishOrderEvent as written: no userId, refused in the client.
    async function publishOrderEvent(orderId, event, data) {
        await publishEvent(streamKey, { type: event, orderId, data });
    }
    await assert.rejects(publishOrderEvent('o-1', 'ORDER_CREATED', {}), (err) => err instanceof TypeError);
    assert.strictEqual(await client.xLen(streamKey), 0);

    const events = [
        { type: 'ORDER_CREATED', userId: 'u-1', data: { orderId: 'o-1', total: 42.5 } },
        { type: 'ORDER_PAID', userId: 'u-1', data: { orderId: 'o-1' } },
        { type: 'ORDER_FAILED_TO_PROCESS', userId: 'u-2', data: { orderId: 'o-2', poison: true } },
        { type: 'ORDER_SHIPPED', userId: 'u-1', data: { orderId: 'o-1', carrier: 'ups' } },
    ];
    const ids = [];
    for (const e of events) {
        ids.push(await publishEvent(streamKey, e));
    }
    for (let i = 0; i < ids.length; i++) {
        assert.match(ids[i], /^\d+-\d+$/);
        if (i > 0) assert.ok(streamIdLess(ids[i - 1], ids[i]), `${ids[i - 1]} < ${ids[i]}`);
    }
    assert.strictEqual(await client.xLen(streamKey), 4);
    // Group at '0', nothing read: the whole stream is lag.
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 0, pending: 0, lastDeliveredId: '0-0', entriesRead: null, lag: 4,
    });

    // Consumer: read and process messages. The article's while (true) is
    // bounded; processEvent throws on the poison event, which stays pending.
    const seen = [];
    let emptyPolls = 0;
    async function processEvent(id, message) {
        // Mid-loop status: this entry delivered and not yet acked.
        seen.push({ id, message: { ...message }, status: await getConsumerGroupStatus(streamKey, groupName) });
        if (JSON.parse(message.data).poison) throw new Error('cannot process');
    }
    async function consumeEvents(streamKey, groupName, consumerId, polls) {
        for (let i = 0; i < polls; i++) {
            // Read 1 message from stream (blocking, 1 second timeout)
            const messages = await client.xReadGroup(groupName, consumerId, { key: streamKey, id: '>' }, { COUNT: 1, BLOCK: 1000 });
            if (!messages) {
                emptyPolls++;
                continue;
            }
            for (const { name: stream, messages: streamMessages } of messages) {
                assert.strictEqual(stream, streamKey);
                assert.strictEqual(streamMessages.length, 1);
                for (const { id, message } of streamMessages) {
                    try {
                        await processEvent(id, message);
                        // Acknowledge message (mark as processed)
                        assert.strictEqual(await client.xAck(streamKey, groupName, id), 1);
                    } catch (err) {
                        // Don't acknowledge, message will be retried
                        assert.strictEqual(err.message, 'cannot process');
                    }
                }
            }
        }
    }
    // Four entries, then one poll that times out after 1 s with a nil reply.
    const t0 = Date.now();
    await consumeEvents(streamKey, groupName, 'worker-1', 5);
    assert.ok(Date.now() - t0 >= 900, `BLOCK 1000 returned after ${Date.now() - t0} ms`);
    assert.strictEqual(emptyPolls, 1);
    assert.deepStrictEqual(seen.map((s) => s.id), ids);
    assert.deepStrictEqual(
        seen.map((s) => s.message),
        events.map((e) => ({ event_type: e.type, user_id: e.userId, data: JSON.stringify(e.data) }))
    );
    assert.deepStrictEqual(JSON.parse(seen[0].message.data), { orderId: 'o-1', total: 42.5 });
    // Pending counts this entry (plus the poison one after it); the lag
    // shrinks by one per delivery.
    assert.deepStrictEqual(seen.map((s) => s.status), [
        { consumers: 1, pending: 1, lastDeliveredId: ids[0], entriesRead: 1, lag: 3 },
        { consumers: 1, pending: 1, lastDeliveredId: ids[1], entriesRead: 2, lag: 2 },
        { consumers: 1, pending: 1, lastDeliveredId: ids[2], entriesRead: 3, lag: 1 },
        { consumers: 1, pending: 2, lastDeliveredId: ids[3], entriesRead: 4, lag: 0 },
    ]);
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 1, pending: 1, lastDeliveredId: ids[3], entriesRead: 4, lag: 0,
    });
    assert.deepStrictEqual(await client.xPending(streamKey, groupName), {
        pending: 1, firstId: ids[2], lastId: ids[2], consumers: [{ name: 'worker-1', deliveriesCounter: 1 }],
    });

    // "Don't acknowledge, message will be retried": not by this loop. '>'
    // only hands out new entries; the unacked one comes back when the
    // consumer reads its own pending list from '0'.
    assert.strictEqual(
        await client.xReadGroup(groupName, 'worker-1', { key: streamKey, id: '>' }, { COUNT: 1, BLOCK: 100 }),
        null
    );
    const retry = await client.xReadGroup(groupName, 'worker-1', { key: streamKey, id: '0' }, { COUNT: 10 });
    assert.strictEqual(retry[0].messages.length, 1);
    assert.strictEqual(retry[0].messages[0].id, ids[2]);
    assert.deepStrictEqual({ ...retry[0].messages[0].message }, seen[2].message);
    assert.strictEqual(await client.xAck(streamKey, groupName, ids[2]), 1);
    // Pending drops to 0 once everything is acked; acking again counts 0.
    assert.strictEqual(await client.xAck(streamKey, groupName, ids), 0);
    assert.deepStrictEqual(await client.xPending(streamKey, groupName), {
        pending: 0, firstId: null, lastId: null, consumers: null,
    });
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 1, pending: 0, lastDeliveredId: ids[3], entriesRead: 4, lag: 0,
    });

    // A BLOCK read on a second connection, woken by an xAdd on this one.
    const worker2 = client.duplicate();
    worker2.on('error', (err) => console.error('client error', err));
    await worker2.connect();
    const start = Date.now();
    const blocked = worker2.xReadGroup(groupName, 'worker-2', { key: streamKey, id: '>' }, { COUNT: 1, BLOCK: 5000 });
    await waitBlocked(client);
    const late = { type: 'ORDER_DELIVERED', userId: 'u-1', data: { orderId: 'o-1' } };
    const lateId = await publishEvent(streamKey, late);
    const woke = await blocked;
    assert.ok(Date.now() - start < 4000, `woken after ${Date.now() - start} ms`);
    assert.strictEqual(woke.length, 1);
    assert.strictEqual(woke[0].name, streamKey);
    assert.strictEqual(woke[0].messages.length, 1);
    assert.strictEqual(woke[0].messages[0].id, lateId);
    assert.ok(streamIdLess(ids[3], lateId));
    assert.deepStrictEqual({ ...woke[0].messages[0].message }, {
        event_type: 'ORDER_DELIVERED', user_id: 'u-1', data: '{"orderId":"o-1"}',
    });
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 2, pending: 1, lastDeliveredId: lateId, entriesRead: 5, lag: 0,
    });
    assert.strictEqual(await worker2.xAck(streamKey, groupName, lateId), 1);
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 2, pending: 0, lastDeliveredId: lateId, entriesRead: 5, lag: 0,
    });
    await worker2.quit();

    // A second group on the same stream starts over at '0': its lag is the
    // whole stream, and the first group is unaffected. XINFO GROUPS lists
    // groups in name order (Redis keeps them in a radix tree), not in
    // creation order.
    await setupConsumerGroup(streamKey, 'audit-log');
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, 'audit-log'), {
        consumers: 0, pending: 0, lastDeliveredId: '0-0', entriesRead: null, lag: 5,
    });
    assert.deepStrictEqual((await client.xInfoGroups(streamKey)).map((g) => g.name), ['audit-log', groupName]);
    assert.strictEqual(await client.del(streamKey), 1);
}

async function main() {
    await connectHandshake();
    const client = redis.createClient({ url });
    client.on('error', (err) => console.error('client error', err));
    await client.connect();
    await client.flushAll();
    await cachePatterns(client);
    await lockPatterns(client);
    await rateLimiter(client);
    await pubsub(client);
    await leaderboard(client);
    await memory(client);
    await legacyMode();
    await streams(client);
    await client.quit();
    console.log('ALL OK');
}

main().catch((err) => {
    console.error('FAILED:', err && err.stack ? err.stack : err);
    process.exit(1);
});
