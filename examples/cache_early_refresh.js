// Cache-aside with probabilistic early refresh ("XFetch").
//
// A key that is read all the time still expires: at that moment every
// reader in flight misses and goes to the database until one of them has
// refilled it. Early refresh avoids the miss altogether: each reader looks
// at the time left (PTTL) and, with a probability that rises as expiry
// nears (scaled by how long a rebuild takes), refreshes the value before it
// expires. A short NX lock keeps it to one refresher at a time; the others
// keep serving the current value. (Cold keys, which nobody has read yet,
// are covered by cache_aside.js's rebuild lock.)
'use strict';

const crypto = require('crypto');
const { connect, sleep, makeDb, check, run } = require('./lib/common');

const TTL_MS = 1000;
const REBUILD_MS = 50; // the database's delay: what a refresh costs
const BETA = 1; // the textbook value; > 1 refreshes earlier

async function rebuild(client, db, key) {
    const started = Date.now();
    const row = await db.get('42');
    const delta = Date.now() - started; // measured rebuild time, kept with the value
    await client.set(key, JSON.stringify({ row, delta }), { PX: TTL_MS });
}

async function naiveRead(client, db, key) {
    const cached = await client.get(key);
    if (cached !== null) return true;
    await rebuild(client, db, key);
    return false;
}

async function earlyRead(client, db, key) {
    const [cached, pttl] = await client.multi().get(key).pTTL(key).exec();
    if (cached === null) {
        await rebuild(client, db, key);
        return false;
    }
    const { delta } = JSON.parse(cached);
    // -ln(U) is exponential: refresh when the time left is below a random
    // multiple of the rebuild time.
    if (pttl > -delta * BETA * Math.log(Math.random())) return true;
    const token = crypto.randomBytes(16).toString('hex');
    if (await client.set(`${key}:refresh`, token, { NX: true, PX: 2000 })) {
        try {
            await rebuild(client, db, key);
        } finally {
            await client.sendCommand(['DELIFEQ', `${key}:refresh`, token]);
        }
    }
    return true; // served the current value either way
}

// Ten readers read one hot key every few ms for 3.5 TTL periods.
async function load(reader) {
    const db = makeDb(REBUILD_MS);
    db.rows.set('42', { id: '42', name: 'Ada' });
    const key = 'user:42';
    const clients = await Promise.all(Array.from({ length: 10 }, connect));
    await rebuild(clients[0], db, key); // warm
    db.reads = 0;
    let misses = 0;
    const until = Date.now() + 3.5 * TTL_MS;
    await Promise.all(
        clients.map(async (c) => {
            while (Date.now() < until) {
                if (!(await reader(c, db, key))) misses++;
                await sleep(5);
            }
        })
    );
    await clients[0].del(key);
    await Promise.all(clients.map((c) => c.quit()));
    return { misses, reads: db.reads };
}

run(async () => {
    const naive = await load(naiveRead);
    console.log('naive: a hot key expires under 10 readers -> readers miss together at each expiry');
    check(naive.misses >= 6, `the naive version misses at expiry (${naive.misses} misses)`);
    check(naive.reads > 3, `and stampedes the database (${naive.reads} reads)`);
    const early = await load(earlyRead);
    console.log('early refresh: the same load -> no reader misses, about one refresh per TTL');
    check(early.misses === 0, `no miss with early refresh (${early.misses} misses)`);
    check(early.reads >= 3 && early.reads <= 10, `a refresh per TTL or so (${early.reads} reads)`);
});
