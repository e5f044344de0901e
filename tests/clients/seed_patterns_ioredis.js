// The seed article's patterns ("Redis Patterns in Production"), run through
// ioredis 5 (pinned by tests/clients/package-lock.json) against a server on
// 127.0.0.1:<port>.
//
// Usage: NODE_PATH=tests/clients/node_modules node seed_patterns_ioredis.js <port>
//
// The same sections as seed_patterns.js (node-redis), in ioredis's spelling:
// positional options (SET k v EX 30 NX), eval(script, numkeys, ...),
// defineCommand for the article's Lua scripts (read verbatim from
// tests/seed/), pipelines and multi(), pub/sub through events, flat
// WITHSCORES replies. ioredis also runs its own connect sequence (INFO ready
// check, CLIENT SETNAME, SELECT, CLIENT SETINFO). The streams section runs
// last (it needs X* commands) and adds XAUTOCLAIM crash recovery. Exits
// non-zero on the first failure.
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const Redis = require('ioredis');

const port = Number(process.argv[2]);
if (!port) {
    console.error('usage: seed_patterns_ioredis.js <port>');
    process.exit(2);
}

function seedScript(name) {
    return fs.readFileSync(path.join(__dirname, '..', 'seed', name), 'utf8');
}
const RELEASE_LUA = seedScript('lock_release.lua');
const LIMITER_LUA = seedScript('rate_limiter.lua');

const clients = [];
function connect(options = {}) {
    // No reconnects: a dropped connection must fail the run, not be hidden.
    const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
    c.on('error', (err) => console.error('client error', err.message));
    clients.push(c);
    return c;
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// A flat [k1, v1, k2, v2, ...] reply as an object.
function pairs(flat) {
    const out = {};
    for (let i = 0; i < flat.length; i += 2) {
        out[flat[i]] = flat[i + 1];
    }
    return out;
}

// section() and the stand-in for the article's `db.query`.
const { section, db } = require('./seed_common');

async function connectHandshake() {
    section('connect: db + connectionName (SELECT, CLIENT SETNAME), CLIENT SETINFO, INFO ready check, HELLO');
    const c = connect({ db: 3, connectionName: 'seed-patterns' });
    await c.ping();
    assert.strictEqual(c.status, 'ready');
    assert.strictEqual(await c.client('GETNAME'), 'seed-patterns');
    const id = await c.client('ID');
    assert.ok(Number.isInteger(id) && id > 0);
    const info = await c.client('INFO');
    assert.match(info, new RegExp(`^id=${id} addr=127\\.0\\.0\\.1:\\d+ laddr=127\\.0\\.0\\.1:${port} `));
    assert.match(info, / name=seed-patterns /);
    assert.match(info, / db=3 /);
    // ioredis 5 announces itself with CLIENT SETINFO at connect (its
    // replies are ignored, so check that the server recorded them).
    const version = /\r\nredis_version:(\d+)\.(\d+)/.exec(await c.info('server'));
    if (Number(version[1]) * 100 + Number(version[2]) >= 702) {
        const list = await c.client('LIST', 'ID', id);
        assert.match(list, /lib-name=ioredis/);
        assert.match(list, new RegExp(`lib-ver=${require('ioredis/package.json').version.replace(/\./g, '\\.')}`));
    }
    const hello = pairs(await c.call('HELLO', '2'));
    assert.strictEqual(hello.proto, 2);
    assert.strictEqual(hello.id, id);
    assert.ok(typeof hello.version === 'string' && hello.version.length > 0);
    // SELECT through the API; keys live per database.
    await c.set('handshake:key', 'db3');
    assert.strictEqual(await c.select(0), 'OK');
    assert.strictEqual(await c.get('handshake:key'), null);
    await c.select(3);
    assert.strictEqual(await c.get('handshake:key'), 'db3');
    assert.strictEqual(await c.del('handshake:key'), 1);
    assert.strictEqual(await c.quit(), 'OK');
}

async function cachePatterns(client) {
    section('cache-aside / write-through / write-behind');
    async function getUserCacheAside(userId) {
        const cached = await client.get(`user:${userId}`);
        if (cached) return JSON.parse(cached);
        const user = db.getUser(userId);
        await client.setex(`user:${userId}`, 3600, JSON.stringify(user));
        return user;
    }
    async function updateUserWriteThrough(userId, updates) {
        const user = db.updateUser(userId, updates);
        await client.setex(`user:${userId}`, 3600, JSON.stringify(user));
        return user;
    }
    function updateUserWriteThroughAsync(userId, updates) {
        const user = db.updateUser(userId, updates);
        const pending = client.setex(`user:${userId}`, 3600, JSON.stringify(user)).catch(console.error);
        return { user, pending };
    }
    async function logEventWriteBehind(event) {
        const eventId = Date.now();
        await client.lpush('events:queue', JSON.stringify(event));
        await client.incr('events:counter');
        return { id: eventId };
    }
    const flushed = [];
    async function flushEvents() {
        const events = await client.lrange('events:queue', 0, 999);
        if (events.length === 0) return 0;
        flushed.push(...events);
        await client.ltrim('events:queue', events.length, -1);
        return events.length;
    }

    db.reads = 0;
    const first = await getUserCacheAside('42');
    assert.deepStrictEqual(first, { id: '42', name: 'Ada', plan: 'free' });
    assert.deepStrictEqual(await getUserCacheAside('42'), first);
    assert.strictEqual(db.reads, 1, 'second read must be a cache hit');
    const ttl = await client.ttl('user:42');
    assert.ok(ttl > 3590 && ttl <= 3600, `ttl ${ttl}`);

    const updated = await updateUserWriteThrough('42', { plan: 'pro' });
    assert.deepStrictEqual(JSON.parse(await client.get('user:42')), updated);
    assert.ok((await client.pttl('user:42')) > 3590000);

    const { user, pending } = updateUserWriteThroughAsync('42', { name: 'Ada L.' });
    assert.deepStrictEqual(JSON.parse(await client.get('user:42')), user);
    await pending;

    // Expiry really happens: SET ... PX 50.
    assert.strictEqual(await client.set('user:short', 'x', 'PX', 50), 'OK');
    await sleep(120);
    assert.strictEqual(await client.get('user:short'), null);
    assert.strictEqual(await client.exists('user:short'), 0);

    for (let i = 0; i < 1205; i++) {
        await logEventWriteBehind({ type: 'click', n: i });
    }
    assert.strictEqual(await client.get('events:counter'), '1205');
    assert.strictEqual(await client.llen('events:queue'), 1205);
    assert.strictEqual(await flushEvents(), 1000);
    assert.strictEqual(JSON.parse(flushed[0]).n, 1204);
    assert.strictEqual(await client.llen('events:queue'), 205);
    assert.strictEqual(await flushEvents(), 205);
    assert.strictEqual(JSON.parse(flushed[1204]).n, 0);
    assert.strictEqual(await flushEvents(), 0);
    assert.strictEqual(await client.exists('events:queue'), 0);

    // The write-behind queue through a pipeline and a MULTI/EXEC
    // transaction: per-command [err, reply] pairs.
    const pipe = client.pipeline();
    for (let i = 0; i < 50; i++) {
        pipe.lpush('events:queue', JSON.stringify({ n: i }));
    }
    pipe.incrby('events:counter', 50).llen('events:queue').set('events:counter', 'x', 'NX');
    const results = await pipe.exec();
    assert.strictEqual(results.length, 53);
    assert.deepStrictEqual(results[49], [null, 50]);
    assert.deepStrictEqual(results.slice(50), [[null, 1255], [null, 50], [null, null]]);
    const tx = await client
        .multi()
        .lrange('events:queue', 0, 9)
        .ltrim('events:queue', 10, -1)
        .decrby('events:counter', 10)
        .exec();
    assert.strictEqual(tx.length, 3);
    assert.strictEqual(tx[0][0], null);
    assert.strictEqual(JSON.parse(tx[0][1][0]).n, 49);
    assert.deepStrictEqual(tx.slice(1), [[null, 'OK'], [null, 1245]]);
    assert.strictEqual(await client.llen('events:queue'), 40);
    // A command error inside EXEC is reported per command; the rest runs.
    await client.set('not:a:list', 'x');
    const mixed = await client.multi().incr('events:counter').lpush('not:a:list', 'e').exec();
    assert.deepStrictEqual(mixed[0], [null, 1246]);
    assert.match(mixed[1][0].message, /^WRONGTYPE Operation against a key holding the wrong kind of value/);
    // A queueing error (unknown arity) aborts the whole transaction.
    await assert.rejects(client.multi().incr('events:counter').call('GET').exec(), (err) =>
        /EXECABORT/.test(err.message)
    );
    assert.strictEqual(await client.get('events:counter'), '1246');
    // WATCH + MULTI: a concurrent write makes EXEC reply nil.
    const other = connect();
    await client.watch('events:counter');
    await other.incr('events:counter');
    assert.strictEqual(await client.multi().set('events:counter', '0').exec(), null);
    assert.strictEqual(await client.get('events:counter'), '1247');
    await other.quit();
    await client.del('events:queue', 'events:counter', 'not:a:list');
}

async function lockPatterns(client) {
    section('locks: naive, SET NX EX, token + Lua release (eval and defineCommand), multi-lock');
    async function naiveLock(key) {
        const existing = await client.get(key);
        if (existing) throw new Error('Already locked');
        await client.set(key, '1', 'EX', 30);
    }
    async function basicLock(key) {
        const acquired = await client.set(key, '1', 'EX', 30, 'NX');
        if (!acquired) throw new Error('Lock not acquired');
    }
    async function acquireLockWithToken(key, ttl = 30) {
        const token = Math.random().toString(36).substr(2, 9);
        const acquired = await client.set(key, token, 'EX', ttl, 'NX');
        if (!acquired) throw new Error('Lock not acquired');
        return token;
    }
    async function releaseLockWithToken(key, token) {
        const result = await client.eval(RELEASE_LUA, 1, key, token);
        if (result === 0) throw new Error('Token mismatch');
    }
    async function acquireMultipleLocks(keys) {
        const tokens = {};
        for (const key of [...keys].sort()) {
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
    assert.strictEqual(await client.set('lock:basic', '2', 'EX', 30, 'NX'), null);
    assert.strictEqual(await client.get('lock:basic'), '1');

    let balance = 1000;
    const token = await acquireLockWithToken('resource:critical');
    try {
        await assert.rejects(acquireLockWithToken('resource:critical'), /Lock not acquired/);
        balance -= 100;
    } finally {
        await releaseLockWithToken('resource:critical', token);
    }
    assert.strictEqual(balance, 900);
    assert.strictEqual(await client.exists('resource:critical'), 0);

    const held = await acquireLockWithToken('resource:critical', 5);
    await assert.rejects(releaseLockWithToken('resource:critical', 'not-' + held), /Token mismatch/);
    assert.strictEqual(await client.get('resource:critical'), held);
    await releaseLockWithToken('resource:critical', held);

    // SET ... NX PX and SET ... PX NX (ioredis passes tokens in order).
    assert.strictEqual(await client.set('lock:raw', 'tok', 'NX', 'PX', 30000), 'OK');
    assert.strictEqual(await client.set('lock:raw', 'tok', 'PX', 30000, 'NX'), null);
    const pttl = await client.pttl('lock:raw');
    assert.ok(pttl > 29000 && pttl <= 30000, `pttl ${pttl}`);

    // ioredis's script helper: EVALSHA first, EVAL on NOSCRIPT.
    client.defineCommand('releaseLock', { numberOfKeys: 1, lua: RELEASE_LUA });
    assert.strictEqual(await client.script('FLUSH'), 'OK');
    assert.strictEqual(await client.releaseLock('lock:raw', 'other'), 0); // NOSCRIPT -> EVAL
    assert.strictEqual(await client.releaseLock('lock:raw', 'tok'), 1); // EVALSHA hit
    assert.strictEqual(await client.releaseLock('lock:raw', 'tok'), 0);
    const sha = require('crypto').createHash('sha1').update(RELEASE_LUA).digest('hex');
    assert.deepStrictEqual(await client.script('EXISTS', sha, '0'.repeat(40)), [1, 0]);
    assert.strictEqual(await client.evalsha(sha, 1, 'lock:raw', 'tok'), 0);
    // The custom command inside a pipeline, after a SCRIPT FLUSH (ioredis
    // recovers from NOSCRIPT there too).
    await client.script('FLUSH');
    await client.set('lock:pipe', 'p');
    const piped = await client.pipeline().releaseLock('lock:pipe', 'p').releaseLock('lock:pipe', 'p').exec();
    assert.deepStrictEqual(piped, [[null, 1], [null, 0]]);
    assert.strictEqual(await client.exists('lock:pipe'), 0);

    const tokens = await acquireMultipleLocks(['lock:b', 'lock:c', 'lock:a']);
    assert.deepStrictEqual(Object.keys(tokens), ['lock:a', 'lock:b', 'lock:c']);
    await assert.rejects(acquireMultipleLocks(['lock:c', 'lock:z']), /Lock not acquired/);
    assert.strictEqual(await client.exists('lock:z'), 0);
    await releaseMultipleLocks(tokens);
    assert.strictEqual(await client.exists('lock:a', 'lock:b', 'lock:c'), 0);
    // A Lua runtime error comes back as a rejected promise.
    await client.set('lock:str', 'x');
    await assert.rejects(client.eval("return redis.call('zcard', KEYS[1])", 1, 'lock:str'), (err) =>
        err.message.startsWith('WRONGTYPE Operation against a key holding the wrong kind of value')
    );
    await client.del('lock:naive', 'lock:basic', 'lock:str');
}

async function rateLimiter(client) {
    section('sliding-window rate limiter (the Lua script via defineCommand, numbers as arguments)');
    // The article's call passes numbers; ioredis stringifies them.
    client.defineCommand('slidingWindow', { numberOfKeys: 1, lua: LIMITER_LUA });
    class RateLimiter {
        constructor(windowSize = 60, maxRequests = 100) {
            this.windowSize = windowSize;
            this.maxRequests = maxRequests;
        }
        async isAllowed(key, now = Date.now() / 1000) {
            const windowStart = now - this.windowSize;
            const result = await client.slidingWindow(key, now, windowStart, this.maxRequests, this.windowSize);
            return result === 1;
        }
        async getRemainingRequests(key, now = Date.now() / 1000) {
            await client.zremrangebyscore(key, '-inf', now - this.windowSize);
            const current = await client.zcard(key);
            return Math.max(0, this.maxRequests - current);
        }
        async resetQuota(key) {
            await client.del(key);
        }
    }

    // The article's eval with numbers works unchanged in ioredis.
    assert.strictEqual(await client.eval(LIMITER_LUA, 1, 'user:numbers', 1, 2, 3, 4), 1);
    assert.strictEqual(await client.zcard('user:numbers'), 1);

    const limiter = new RateLimiter(60, 100);
    const key = 'user:7';
    assert.strictEqual(await limiter.getRemainingRequests(key), 100);
    const nowBase = Date.now() / 1000 - 1;
    assert.strictEqual(await limiter.isAllowed('user:same-ms', nowBase), true);
    assert.strictEqual(await limiter.isAllowed('user:same-ms', nowBase), true);
    assert.strictEqual(await client.zcard('user:same-ms'), 1);
    let allowed = 0;
    for (let i = 0; i < 105; i++) {
        if (await limiter.isAllowed(key, nowBase + i * 0.001)) allowed++;
    }
    assert.strictEqual(allowed, 100);
    assert.strictEqual(await limiter.getRemainingRequests(key), 0);
    const ttl = await client.ttl(key);
    assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}`);
    const [member, score] = await client.zrange(key, 0, 0, 'WITHSCORES');
    assert.strictEqual(Number(member), Number(score));

    const small = new RateLimiter(2, 3);
    const t0 = 1700000000.25;
    assert.strictEqual(await small.isAllowed('user:8', t0), true);
    assert.strictEqual(await small.isAllowed('user:8', t0 + 0.5), true);
    assert.strictEqual(await small.isAllowed('user:8', t0 + 1.0), true);
    assert.strictEqual(await small.isAllowed('user:8', t0 + 1.5), false);
    assert.strictEqual(await small.getRemainingRequests('user:8', t0 + 1.5), 0);
    assert.strictEqual(await small.getRemainingRequests('user:8', t0 + 2.25), 1);
    assert.strictEqual(await small.isAllowed('user:8', t0 + 2.25), true);
    assert.strictEqual(await small.isAllowed('user:8', t0 + 2.3), false);
    assert.deepStrictEqual(await client.zrange('user:8', 0, -1), [
        String(t0 + 0.5),
        String(t0 + 1.0),
        String(t0 + 2.25),
    ]);

    await limiter.resetQuota(key);
    assert.strictEqual(await client.exists(key), 0);
    assert.strictEqual(await limiter.getRemainingRequests(key), 100);
}

async function pubsub(client) {
    section('pub/sub: subscribe + psubscribe(notifications:users:*) on a duplicated client, message events');
    const publisher = client;
    const subscriber = client.duplicate();
    subscriber.on('error', (err) => console.error('subscriber error', err.message));
    clients.push(subscriber);

    const messages = [];
    const pmessages = [];
    const buffers = [];
    subscriber.on('message', (channel, message) => messages.push([channel, message]));
    subscriber.on('pmessage', (pattern, channel, message) => pmessages.push([pattern, channel, message]));
    subscriber.on('messageBuffer', (channel, message) => {
        if (channel.toString() === 'bin') buffers.push(message);
    });
    // The reply is the number of channels this connection is subscribed to.
    assert.strictEqual(await subscriber.subscribe('notifications:users:123', 'notifications:system', 'events:orders'), 3);
    assert.strictEqual(await subscriber.psubscribe('notifications:users:*'), 4);
    assert.deepStrictEqual((await publisher.pubsub('CHANNELS')).sort(), [
        'events:orders',
        'notifications:system',
        'notifications:users:123',
    ]);
    assert.deepStrictEqual((await publisher.pubsub('CHANNELS', 'notifications:*')).sort(), [
        'notifications:system',
        'notifications:users:123',
    ]);
    assert.strictEqual(await publisher.pubsub('NUMPAT'), 1);
    assert.deepStrictEqual(await publisher.pubsub('NUMSUB', 'notifications:system', 'nobody'), ['notifications:system', 1, 'nobody', 0]);
    // In subscribed mode ioredis refuses ordinary commands client-side.
    await assert.rejects(subscriber.get('x'), /subscriber mode/);

    const notifyUser = (userId, message) => publisher.publish(`notifications:users:${userId}`, JSON.stringify(message));
    const broadcastNotification = (message) => publisher.publish('notifications:system', JSON.stringify(message));
    function notifyOrderStatusChange(orderId, status) {
        const message = { type: 'ORDER_STATUS_CHANGED', orderId, status, timestamp: new Date().toISOString() };
        return Promise.all([
            publisher.publish('notifications:users:123', JSON.stringify(message)),
            publisher.publish('notifications:system', JSON.stringify(message)),
        ]);
    }
    assert.strictEqual(await notifyUser('123', { hello: 1 }), 2);
    assert.strictEqual(await notifyUser('999', { hello: 2 }), 1);
    assert.strictEqual(await broadcastNotification({ maintenance: true }), 1);
    assert.deepStrictEqual(await notifyOrderStatusChange('o-1', 'SHIPPED'), [2, 1]);
    assert.strictEqual(await publisher.publish('events:orders', 'created'), 1);
    assert.strictEqual(await publisher.publish('nobody:listens', 'x'), 0);

    const deadline = Date.now() + 5000;
    while ((messages.length < 5 || pmessages.length < 3) && Date.now() < deadline) {
        await sleep(10);
    }
    assert.deepStrictEqual(
        messages.map(([ch]) => ch),
        ['notifications:users:123', 'notifications:system', 'notifications:users:123', 'notifications:system', 'events:orders']
    );
    assert.deepStrictEqual(JSON.parse(messages[0][1]), { hello: 1 });
    assert.strictEqual(JSON.parse(messages[2][1]).status, 'SHIPPED');
    assert.strictEqual(messages[4][1], 'created');
    assert.deepStrictEqual(
        pmessages.map(([p, ch]) => [p, ch]),
        [
            ['notifications:users:*', 'notifications:users:123'],
            ['notifications:users:*', 'notifications:users:999'],
            ['notifications:users:*', 'notifications:users:123'],
        ]
    );
    assert.deepStrictEqual(JSON.parse(pmessages[1][2]), { hello: 2 });

    // Binary-safe payloads.
    assert.strictEqual(await subscriber.subscribe('bin'), 5);
    const payload = Buffer.from([0, 1, 2, 255, 13, 10]);
    assert.strictEqual(await publisher.publish('bin', payload), 1);
    while (buffers.length < 1 && Date.now() < deadline) {
        await sleep(10);
    }
    assert.ok(Buffer.isBuffer(buffers[0]) && buffers[0].equals(payload));

    // Named channels: ioredis resolves an argument-less UNSUBSCRIBE only
    // once the subscription count reaches 0, i.e. never while a pattern is
    // still held.
    assert.strictEqual(
        await subscriber.unsubscribe('notifications:users:123', 'notifications:system', 'events:orders', 'bin'),
        1
    );
    assert.strictEqual(await subscriber.punsubscribe('notifications:users:*'), 0);
    assert.strictEqual(await publisher.pubsub('NUMPAT'), 0);
    assert.deepStrictEqual(await publisher.pubsub('CHANNELS'), []);
    assert.strictEqual(await subscriber.ping(), 'PONG');
    assert.strictEqual(await subscriber.quit(), 'OK');
}

async function leaderboard(client) {
    section('sorted-set leaderboard: zadd / zincrby / zrevrange WITHSCORES / zrevrank');
    class Leaderboard {
        constructor(key = 'leaderboard:global') {
            this.key = key;
        }
        async recordScore(userId, score) {
            await client.zadd(this.key, score, userId);
        }
        async getTopPlayers(limit = 10) {
            const flat = await client.zrevrange(this.key, 0, limit - 1, 'WITHSCORES');
            const players = [];
            for (let i = 0; i < flat.length; i += 2) {
                players.push({ rank: i / 2 + 1, userId: flat[i], score: parseFloat(flat[i + 1]) });
            }
            return players;
        }
        async getUserRank(userId) {
            const rank = await client.zrevrank(this.key, userId);
            if (rank === null) return null;
            const score = await client.zscore(this.key, userId);
            return { rank: rank + 1, score: parseFloat(score) };
        }
        async getPlayersBetweenRanks(start, end) {
            const flat = await client.zrevrange(this.key, start - 1, end - 1, 'WITHSCORES');
            const players = [];
            for (let i = 0; i < flat.length; i += 2) {
                players.push({ rank: start + i / 2, userId: flat[i], score: parseFloat(flat[i + 1]) });
            }
            return players;
        }
        async incrementScore(userId, delta) {
            return parseFloat(await client.zincrby(this.key, delta, userId));
        }
        async removePlayer(userId) {
            await client.zrem(this.key, userId);
        }
    }

    const lb = new Leaderboard();
    await lb.recordScore('user:123', 1500);
    await lb.recordScore('user:456', 1200);
    assert.deepStrictEqual(await lb.getTopPlayers(10), [
        { rank: 1, userId: 'user:123', score: 1500 },
        { rank: 2, userId: 'user:456', score: 1200 },
    ]);
    assert.deepStrictEqual(await client.zrevrange(lb.key, 0, 9, 'WITHSCORES'), ['user:123', '1500', 'user:456', '1200']);
    assert.deepStrictEqual(await lb.getUserRank('user:123'), { rank: 1, score: 1500 });
    assert.strictEqual(await lb.getUserRank('user:nobody'), null);
    // ZINCRBY replies a bulk string.
    assert.strictEqual(await client.zincrby(lb.key, 300, 'user:456'), '1500');
    assert.deepStrictEqual(
        (await lb.getTopPlayers(10)).map((p) => p.userId),
        ['user:456', 'user:123']
    );

    // A bigger board, loaded through one pipeline of ZADDs.
    const pipe = client.pipeline();
    for (let i = 0; i < 200; i++) {
        pipe.zadd(lb.key, i * 10, `p${i}`);
    }
    const added = await pipe.exec();
    assert.ok(added.every(([err, n]) => err === null && n === 1));
    // ZADD updates in place (reply 0: no new member).
    assert.strictEqual(await client.zadd(lb.key, 5000, 'p0'), 0);
    assert.deepStrictEqual(await lb.getUserRank('p0'), { rank: 1, score: 5000 });
    assert.strictEqual(await client.zcard(lb.key), 202);
    assert.deepStrictEqual(await lb.getPlayersBetweenRanks(2, 4), [
        { rank: 2, userId: 'p199', score: 1990 },
        { rank: 3, userId: 'p198', score: 1980 },
        { rank: 4, userId: 'p197', score: 1970 },
    ]);
    assert.deepStrictEqual(await client.zrevrangebyscore(lb.key, 1990, 1970, 'LIMIT', 1, 2), ['p198', 'p197']);
    assert.deepStrictEqual(await client.zrange(lb.key, 1990, 1970, 'BYSCORE', 'REV', 'LIMIT', 1, 2), ['p198', 'p197']);
    assert.strictEqual(await client.zrank(lb.key, 'p1'), 0);
    await lb.removePlayer('p199');
    assert.strictEqual(await lb.getUserRank('p199'), null);
    assert.deepStrictEqual(await lb.getUserRank('p198'), { rank: 2, score: 1980 });
    assert.strictEqual(await client.zincrby(lb.key, 2.5, 'p1'), '12.5');
    assert.strictEqual(await lb.incrementScore('p1', -12.5), 0);
    // ZADD with options, as ioredis passes them through.
    assert.strictEqual(await client.zadd(lb.key, 'GT', 'CH', 1, 'p198'), 0);
    assert.strictEqual(await client.zadd(lb.key, 'GT', 'CH', 9999, 'p198'), 1);
    assert.strictEqual(await client.zadd(lb.key, 'NX', 'INCR', 1, 'p198'), null);
    // JavaScript's Infinity is sent as "Infinity".
    assert.strictEqual(await client.zadd(lb.key, Infinity, 'cheater'), 1);
    assert.strictEqual(await client.zadd(lb.key, -Infinity, 'loser'), 1);
    assert.strictEqual(await client.zrevrank(lb.key, 'cheater'), 0);
    assert.strictEqual(await client.zscore(lb.key, 'cheater'), 'inf');
    assert.strictEqual(await client.zscore(lb.key, 'loser'), '-inf');
    assert.strictEqual(await client.zrank(lb.key, 'loser'), 0);
    await client.set('not:a:zset', 'x');
    await assert.rejects(client.zadd('not:a:zset', 1, 'a'), (err) =>
        err.message.startsWith('WRONGTYPE Operation against a key holding the wrong kind of value')
    );
}

async function memory(client) {
    section('memory management: INFO memory, MEMORY USAGE/STATS/DOCTOR, CONFIG SET maxmemory/-policy, eviction');
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
    const usage = await client.memory('USAGE', 'key-name');
    assert.ok(usage >= 1000 && usage < 1300, `MEMORY USAGE ${usage}`);
    assert.strictEqual(await client.memory('USAGE', 'no-such-key'), null);
    assert.ok((await client.memory('USAGE', 'leaderboard:global', 'SAMPLES', 0)) > 200 * 8);

    const stats = pairs(await client.memory('STATS'));
    assert.ok(stats['peak.allocated'] > 0, JSON.stringify(stats));
    assert.ok(stats['total.allocated'] > 0);
    assert.ok(stats['keys.count'] > 0);
    assert.ok(Number.isInteger(stats['dataset.bytes']));
    assert.ok(Array.isArray(stats['db.0']), JSON.stringify(stats));
    assert.ok(pairs(stats['db.0'])['overhead.hashtable.main'] >= 0);
    const doctor = await client.memory('DOCTOR');
    assert.ok(typeof doctor === 'string' && doctor.length > 0);

    assert.strictEqual(await client.config('SET', 'maxmemory', '1gb'), 'OK');
    assert.deepStrictEqual(await client.config('GET', 'maxmemory'), ['maxmemory', '1073741824']);
    assert.strictEqual(await client.config('SET', 'maxmemory-policy', 'allkeys-lru'), 'OK');
    assert.deepStrictEqual(await client.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'allkeys-lru']);
    const after = await client.info('memory');
    assert.match(after, /\r\nmaxmemory:1073741824\r\n/);
    assert.match(after, /\r\nmaxmemory_human:1\.00G\r\n/);
    assert.match(after, /\r\nmaxmemory_policy:allkeys-lru\r\n/);
    await assert.rejects(client.config('SET', 'maxmemory-policy', 'lru-everything'), (err) =>
        err.message.startsWith("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy')")
    );

    // Eviction with allkeys-lru: writes keep succeeding and old keys go.
    await client.flushall();
    await client.config('SET', 'maxmemory', '0', 'maxmemory-policy', 'allkeys-lru');
    const base = Number(/\r\nused_memory:(\d+)\r\n/.exec(await client.info('memory'))[1]);
    await client.config('SET', 'maxmemory', String(base + 2 * 1024 * 1024));
    const value = 'v'.repeat(1024);
    for (let i = 0; i < 6000; i += 100) {
        const pipe = client.pipeline();
        for (let j = i; j < i + 100; j++) {
            pipe.set(`cache:${j}`, value, 'EX', 3600);
        }
        const results = await pipe.exec();
        assert.ok(results.every(([err, ok]) => err === null && ok === 'OK'));
    }
    const keys = await client.dbsize();
    assert.ok(keys > 100 && keys < 6000, `dbsize ${keys} after eviction`);
    assert.strictEqual(await client.get('cache:5999'), value);
    const evicted = Number(/\r\nevicted_keys:(\d+)\r\n/.exec(await client.info('stats'))[1]);
    assert.ok(evicted > 0);

    // noeviction below current use: writes fail with Redis's OOM text.
    await client.config('SET', 'maxmemory-policy', 'noeviction', 'maxmemory', String(base));
    await assert.rejects(client.set('cache:more', value), (err) =>
        err.message.startsWith("OOM command not allowed when used memory > 'maxmemory'")
    );
    await client.config('SET', 'maxmemory', '0', 'maxmemory-policy', 'noeviction');
    await client.flushall();
}

// Waits until the server counts `n` blocked clients (INFO clients).
async function waitBlocked(client, n = 1) {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
        const m = /\r\nblocked_clients:(\d+)\r\n/.exec(await client.info('clients'));
        if (m && Number(m[1]) >= n) return;
        await sleep(10);
    }
    throw new Error(`no client blocked (waited for ${n})`);
}

// Stream IDs ("<ms>-<seq>") in order.
function streamIdLess(a, b) {
    const [am, as] = a.split('-').map(BigInt);
    const [bm, bs] = b.split('-').map(BigInt);
    return am < bm || (am === bm && as < bs);
}

async function streams(client) {
    section("streams: the article's producer (xadd as written), XGROUP CREATE MKSTREAM, XREADGROUP COUNT/BLOCK + XACK, XINFO GROUPS lag, XAUTOCLAIM recovery");
    const NO_KEY_ERR =
        'ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.';
    const streamKey = 'stream:order-events';
    const groupName = 'order-processor';

    // Producer: the article's code runs verbatim (ioredis has xadd with
    // flat field-value arguments).
    async function publishEvent(streamKey, event) {
        const messageId = await client.xadd(
            streamKey,
            '*', // Auto-generate timestamp-based ID
            'event_type', event.type,
            'user_id', event.userId,
            'data', JSON.stringify(event.data)
        );
        return messageId;
    }
    async function publishOrderEvent(orderId, event, data) {
        return publishEvent('stream:order-events', { type: event, orderId, data });
    }
    // Consumer group: xgroupCreate is not an ioredis method; XGROUP CREATE
    // with the article's '0', plus whatever options are given (MKSTREAM).
    async function setupConsumerGroup(streamKey, groupName, ...options) {
        try {
            await client.xgroup('CREATE', streamKey, groupName, '0', ...options);
        } catch (err) {
            if (!err.message.includes('BUSYGROUP')) throw err;
            // Group already exists
        }
    }
    // Monitor consumer group lag: xinfGroup does not exist; XINFO GROUPS
    // replies flat field lists whose names are the article's
    // ('last-delivered-id'), plus Redis 7's entries-read and lag.
    async function getConsumerGroupStatus(streamKey, groupName) {
        const groups = (await client.xinfo('GROUPS', streamKey)).map(pairs);
        const info = groups.find((g) => g.name === groupName);
        assert.deepStrictEqual(Object.keys(info), ['name', 'consumers', 'pending', 'last-delivered-id', 'entries-read', 'lag']);
        return {
            consumers: info.consumers,
            pending: info.pending,
            lastDeliveredId: info['last-delivered-id'],
            entriesRead: info['entries-read'],
            lag: info.lag,
        };
    }

    assert.strictEqual(typeof client.xgroupCreate, 'undefined');
    assert.strictEqual(typeof client.xinfGroup, 'undefined');
    // The article's xreadgroup({ key, group, consumer }, { count, block })
    // reaches the server as XREADGROUP with two "[object Object]" arguments.
    await assert.rejects(
        client.xreadgroup({ key: streamKey, group: groupName, consumer: 'worker-1' }, { count: 1, block: 1000 }),
        (err) => err.message === "ERR wrong number of arguments for 'xreadgroup' command"
    );

    // startEventProcessor() as ordered in the article, on a fresh server:
    // XGROUP CREATE without MKSTREAM refuses the missing key (rethrown).
    await assert.rejects(setupConsumerGroup(streamKey, groupName), (err) => err.message === NO_KEY_ERR);
    assert.strictEqual(await client.exists(streamKey), 0);
    await setupConsumerGroup(streamKey, groupName, 'MKSTREAM');
    assert.strictEqual(await client.type(streamKey), 'stream');
    assert.strictEqual(await client.xlen(streamKey), 0);
    await setupConsumerGroup(streamKey, groupName, 'MKSTREAM'); // BUSYGROUP, swallowed
    await assert.rejects(
        client.xgroup('CREATE', streamKey, groupName, '0', 'MKSTREAM'),
        (err) => err.message === 'BUSYGROUP Consumer Group name already exists'
    );
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 0, pending: 0, lastDeliveredId: '0-0', entriesRead: null, lag: 0,
    });

    // publishOrderEvent as written has no userId: ioredis sends undefined
    // as an empty string, so user_id is stored empty.
    const ids = [await publishOrderEvent('o-1', 'ORDER_CREATED', { total: 42.5 })];
    const events = [
        { type: 'ORDER_PAID', userId: 'u-1', data: { orderId: 'o-1' } },
        { type: 'ORDER_FAILED_TO_PROCESS', userId: 'u-2', data: { orderId: 'o-2', poison: true } },
        { type: 'ORDER_SHIPPED', userId: 'u-1', data: { orderId: 'o-1', carrier: 'ups' } },
    ];
    for (const e of events) {
        ids.push(await publishEvent(streamKey, e));
    }
    const fields = [
        ['event_type', 'ORDER_CREATED', 'user_id', '', 'data', '{"total":42.5}'],
        ...events.map((e) => ['event_type', e.type, 'user_id', e.userId, 'data', JSON.stringify(e.data)]),
    ];
    for (let i = 0; i < ids.length; i++) {
        assert.match(ids[i], /^\d+-\d+$/);
        if (i > 0) assert.ok(streamIdLess(ids[i - 1], ids[i]), `${ids[i - 1]} < ${ids[i]}`);
    }
    assert.deepStrictEqual(await client.xrange(streamKey, '-', '+'), ids.map((id, i) => [id, fields[i]]));
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 0, pending: 0, lastDeliveredId: '0-0', entriesRead: null, lag: 4,
    });

    // The article's loop body as written, on one ioredis reply: the outer
    // [stream, streamMessages] fits ioredis's [[key, entries]], but entries
    // are [id, [field, value, ...]] arrays, so { id, message } destructure
    // to undefined and xack(streamKey, groupName, undefined) fails; the
    // catch leaves the entry unacked.
    const asWritten = await client.xreadgroup('GROUP', groupName, 'worker-1', 'COUNT', 1, 'BLOCK', 1000, 'STREAMS', streamKey, '>');
    assert.deepStrictEqual(asWritten, [[streamKey, [[ids[0], fields[0]]]]]);
    const ackErrors = [];
    for (const [stream, streamMessages] of asWritten) {
        assert.strictEqual(stream, streamKey);
        for (const { id, message } of streamMessages) {
            try {
                assert.strictEqual(id, undefined);
                assert.strictEqual(message, undefined);
                await client.xack(streamKey, groupName, id);
            } catch (err) {
                ackErrors.push(err.message);
            }
        }
    }
    assert.deepStrictEqual(ackErrors, ['ERR Invalid stream ID specified as stream command argument']);
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 1, pending: 1, lastDeliveredId: ids[0], entriesRead: 1, lag: 3,
    });

    // The loop in ioredis's shapes, bounded; processEvent throws on the
    // poison event, which stays pending.
    const seen = [];
    let emptyPolls = 0;
    async function processEvent(id, message) {
        seen.push({ id, message, status: await getConsumerGroupStatus(streamKey, groupName) });
        if (JSON.parse(pairs(message).data).poison) throw new Error('cannot process');
    }
    async function consumeEvents(streamKey, groupName, consumerId, polls, from = '>') {
        for (let i = 0; i < polls; i++) {
            const messages = await client.xreadgroup(
                'GROUP', groupName, consumerId, 'COUNT', 1, 'BLOCK', 1000, 'STREAMS', streamKey, from
            );
            if (!messages) {
                emptyPolls++;
                continue;
            }
            for (const [stream, streamMessages] of messages) {
                assert.strictEqual(stream, streamKey);
                for (const [id, message] of streamMessages) {
                    try {
                        await processEvent(id, message);
                        assert.strictEqual(await client.xack(streamKey, groupName, id), 1);
                    } catch (err) {
                        assert.strictEqual(err.message, 'cannot process');
                    }
                }
            }
        }
    }
    const t0 = Date.now();
    await consumeEvents(streamKey, groupName, 'worker-1', 4);
    assert.ok(Date.now() - t0 >= 900, `BLOCK 1000 returned after ${Date.now() - t0} ms`);
    assert.strictEqual(emptyPolls, 1);
    assert.deepStrictEqual(seen.map((s) => [s.id, s.message]), ids.slice(1).map((id, i) => [id, fields[i + 1]]));
    assert.deepStrictEqual(seen.map((s) => s.status), [
        { consumers: 1, pending: 2, lastDeliveredId: ids[1], entriesRead: 2, lag: 2 },
        { consumers: 1, pending: 2, lastDeliveredId: ids[2], entriesRead: 3, lag: 1 },
        { consumers: 1, pending: 3, lastDeliveredId: ids[3], entriesRead: 4, lag: 0 },
    ]);
    // XPENDING: the unacked entries (the as-written one and the poison one).
    assert.deepStrictEqual(await client.xpending(streamKey, groupName), [2, ids[0], ids[2], [['worker-1', '2']]]);
    // '>' never re-delivers them; reading the consumer's own history ('0')
    // does, COUNT 1 each time (an ID other than '>' does not block).
    assert.strictEqual(
        await client.xreadgroup('GROUP', groupName, 'worker-1', 'COUNT', 1, 'BLOCK', 100, 'STREAMS', streamKey, '>'),
        null
    );
    seen.length = 0;
    await consumeEvents(streamKey, groupName, 'worker-1', 1, '0');
    assert.deepStrictEqual(seen.map((s) => s.id), [ids[0]]);
    // The poison event fails again; ack it by hand.
    await consumeEvents(streamKey, groupName, 'worker-1', 1, '0');
    assert.deepStrictEqual(seen.map((s) => s.id), [ids[0], ids[2]]);
    // An ID given twice in one XACK counts once.
    assert.strictEqual(await client.xack(streamKey, groupName, ids[2], ids[2]), 1);
    assert.strictEqual(await client.xack(streamKey, groupName, ...ids), 0);
    assert.deepStrictEqual(await client.xpending(streamKey, groupName), [0, null, null, null]);
    // An empty history reads as the stream with no entries, not nil.
    assert.deepStrictEqual(
        await client.xreadgroup('GROUP', groupName, 'worker-1', 'STREAMS', streamKey, '0'),
        [[streamKey, []]]
    );
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 1, pending: 0, lastDeliveredId: ids[3], entriesRead: 4, lag: 0,
    });

    // A BLOCK read on a second connection, woken by an XADD on this one.
    const worker2 = connect();
    const start = Date.now();
    const blocked = worker2.xreadgroup('GROUP', groupName, 'worker-2', 'COUNT', 1, 'BLOCK', 5000, 'STREAMS', streamKey, '>');
    await waitBlocked(client);
    const lateId = await publishEvent(streamKey, { type: 'ORDER_DELIVERED', userId: 'u-1', data: { orderId: 'o-1' } });
    const woke = await blocked;
    assert.ok(Date.now() - start < 4000, `woken after ${Date.now() - start} ms`);
    assert.deepStrictEqual(woke, [
        [streamKey, [[lateId, ['event_type', 'ORDER_DELIVERED', 'user_id', 'u-1', 'data', '{"orderId":"o-1"}']]]],
    ]);
    assert.ok(streamIdLess(ids[3], lateId));
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 2, pending: 1, lastDeliveredId: lateId, entriesRead: 5, lag: 0,
    });
    assert.strictEqual(await worker2.xack(streamKey, groupName, lateId), 1);
    assert.deepStrictEqual(await getConsumerGroupStatus(streamKey, groupName), {
        consumers: 2, pending: 0, lastDeliveredId: lateId, entriesRead: 5, lag: 0,
    });
    assert.strictEqual(await worker2.quit(), 'OK');
    assert.strictEqual(await client.del(streamKey), 1);

    // ---- Crash recovery with XAUTOCLAIM, on a stream of its own: consumer A
    // reads and dies without acking; consumer B claims what has been idle
    // long enough.
    const claimKey = 'stream:claims';
    const claimGroup = 'claimers';
    assert.strictEqual(await client.xgroup('CREATE', claimKey, claimGroup, '$', 'MKSTREAM'), 'OK');
    const cids = [];
    for (let i = 0; i < 4; i++) {
        cids.push(await client.xadd(claimKey, '*', 'job', String(i)));
    }
    const taken = await client.xreadgroup('GROUP', claimGroup, 'consumer-a', 'COUNT', 10, 'STREAMS', claimKey, '>');
    assert.deepStrictEqual(taken, [[claimKey, cids.map((id, i) => [id, ['job', String(i)]])]]);
    const pel = await client.xpending(claimKey, claimGroup, '-', '+', 10);
    assert.deepStrictEqual(pel.map(([id, owner, , count]) => [id, owner, count]), cids.map((id) => [id, 'consumer-a', 1]));
    assert.ok(pel.every(([, , idle]) => Number.isInteger(idle) && idle >= 0 && idle < 5000));
    // An entry deleted while pending: XAUTOCLAIM (Redis 7) drops it from the
    // PEL and lists it third, even when nothing is idle long enough to claim.
    assert.strictEqual(await client.xdel(claimKey, cids[1]), 1);
    assert.deepStrictEqual(await client.xautoclaim(claimKey, claimGroup, 'consumer-b', 60000, '0-0'), ['0-0', [], [cids[1]]]);
    await sleep(200);
    // min-idle 100 ms: claimed, one per COUNT 1 call, with the cursor to
    // go on from; the last page ends with cursor 0-0.
    assert.deepStrictEqual(await client.xautoclaim(claimKey, claimGroup, 'consumer-b', 100, '0-0', 'COUNT', 1), [
        cids[2],
        [[cids[0], ['job', '0']]],
        [],
    ]);
    assert.deepStrictEqual(await client.xautoclaim(claimKey, claimGroup, 'consumer-b', 100, cids[2]), [
        '0-0',
        [[cids[2], ['job', '2']], [cids[3], ['job', '3']]],
        [],
    ]);
    // Just claimed: nothing is idle 100 ms any more, and a claim that
    // claims nothing does not create its consumer.
    assert.deepStrictEqual(await client.xautoclaim(claimKey, claimGroup, 'consumer-c', 100, '0-0'), ['0-0', [], []]);
    const claimed = await client.xpending(claimKey, claimGroup, '-', '+', 10);
    assert.deepStrictEqual(
        claimed.map(([id, owner, , count]) => [id, owner, count]),
        [cids[0], cids[2], cids[3]].map((id) => [id, 'consumer-b', 2])
    );
    const consumers = (await client.xinfo('CONSUMERS', claimKey, claimGroup)).map(pairs);
    assert.deepStrictEqual(consumers.map((c) => [c.name, c.pending]), [['consumer-a', 0], ['consumer-b', 3]]);
    assert.strictEqual(await client.xack(claimKey, claimGroup, cids[0], cids[2], cids[3]), 3);
    assert.deepStrictEqual(await client.xpending(claimKey, claimGroup), [0, null, null, null]);
    assert.deepStrictEqual(await getConsumerGroupStatus(claimKey, claimGroup), {
        consumers: 2, pending: 0, lastDeliveredId: cids[3], entriesRead: 4, lag: 0,
    });
    assert.strictEqual(await client.del(claimKey), 1);
}

async function main() {
    await connectHandshake();
    const client = connect();
    await client.flushall();
    await cachePatterns(client);
    await lockPatterns(client);
    await rateLimiter(client);
    await pubsub(client);
    await leaderboard(client);
    await memory(client);
    await streams(client);
    assert.strictEqual(await client.quit(), 'OK');
    console.log('ALL OK');
}

main().catch((err) => {
    console.error('FAILED:', err && err.stack ? err.stack : err);
    for (const c of clients) {
        c.disconnect();
    }
    process.exit(1);
});
