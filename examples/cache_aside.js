// Cache-aside with stampede protection.
//
// The article's getUserCacheAside reads the cache and, on a miss, the
// database. When a hot key expires, every request in flight misses at once
// and all of them go to the database (a stampede). The fix: the first one
// to miss takes a short lock (SET NX PX with a random token) and rebuilds;
// the others wait briefly for the value instead of querying. The lock's
// TTL bounds the wait if the rebuilder dies.
'use strict';

const crypto = require('crypto');
const { connect, sleep, makeDb, check, run } = require('./lib/common');

async function naiveGet(client, db, id) {
    const cached = await client.get(`user:${id}`);
    if (cached) return JSON.parse(cached);
    const user = await db.get(id);
    await client.set(`user:${id}`, JSON.stringify(user), { EX: 3600 });
    return user;
}

async function protectedGet(client, db, id) {
    const key = `user:${id}`;
    for (let attempt = 0; attempt < 100; attempt++) {
        const cached = await client.get(key);
        if (cached) return JSON.parse(cached);
        const token = crypto.randomBytes(16).toString('hex');
        if (await client.set(`${key}:rebuild`, token, { NX: true, PX: 2000 })) {
            try {
                // Checked again under the lock: the previous holder may have
                // filled it between our GET and our SET NX.
                const filled = await client.get(key);
                if (filled) return JSON.parse(filled);
                const user = await db.get(id);
                await client.set(key, JSON.stringify(user), { EX: 3600 });
                return user;
            } finally {
                await client.sendCommand(['DELIFEQ', `${key}:rebuild`, token]);
            }
        }
        await sleep(10); // someone else is rebuilding: wait for the value
    }
    throw new Error('cache rebuild did not finish');
}

async function stampede(getter, n) {
    const db = makeDb(200); // slow enough that all n reads miss before the first fill
    db.rows.set('42', { id: '42', name: 'Ada' });
    const clients = await Promise.all(Array.from({ length: n }, connect));
    const users = await Promise.all(clients.map((c) => getter(c, db, '42')));
    check(users.every((u) => u.name === 'Ada'), 'every caller got the row');
    await clients[0].del('user:42');
    await Promise.all(clients.map((c) => c.quit()));
    return db.reads;
}

run(async () => {
    const n = 20;
    const naive = await stampede(naiveGet, n);
    console.log(`naive: ${n} concurrent misses -> ${naive} database reads`);
    check(naive === n, 'the naive version stampedes');
    const fixed = await stampede(protectedGet, n);
    console.log(`fixed: ${n} concurrent misses -> ${fixed} database read`);
    check(fixed === 1, 'one rebuild');
});
