// Write-through, and the article's "async cache update" variant.
//
// Writing the database and then the cache keeps them in step when one
// writer at a time updates a row. The article's async variant fires the
// cache write without waiting; two updates of the same row can then reach
// the cache in the other order than they reached the database, and the
// cache keeps the older row until its TTL (an hour). Reproduced here by
// holding the first cache write back until the second one is done. The
// fix: the database hands out a version with each write, and the cache
// accepts a value only if its version is newer (a small script compares
// and sets atomically).
'use strict';

const { connect, makeDb, check, run } = require('./lib/common');

// A cache write held back until release() is called: the slow one of two
// concurrent updates, made slow on purpose so the order is always the same.
function heldBack(write) {
    let release;
    const gate = new Promise((resolve) => (release = resolve));
    return { done: gate.then(write), release };
}

// SET KEYS[1] to ARGV[2] (a JSON row) only if ARGV[1], its version, is
// newer than the version stored beside it; both keys get the TTL ARGV[3].
const SET_IF_NEWER = `
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '-1')
if tonumber(ARGV[1]) <= cur then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'row', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

run(async () => {
    const client = await connect();
    const db = makeDb(5);
    let version = 0;
    db.rows.set('7', { id: '7', plan: 'free' });

    // Plain write-through: database, then cache, one after the other.
    const saved = await db.put('7', { id: '7', plan: 'pro' });
    await client.set('user:7', JSON.stringify(saved), { EX: 3600 });
    console.log(`write-through: cache ${JSON.parse(await client.get('user:7')).plan}, database ${db.rows.get('7').plan}`);

    // Async variant: the first cache write is slow (a GC pause, a retry).
    const a = await db.put('7', { id: '7', plan: 'team' });
    const slowWrite = heldBack(() => client.set('user:7', JSON.stringify(a), { EX: 3600 }));
    const b = await db.put('7', { id: '7', plan: 'enterprise' });
    await client.set('user:7', JSON.stringify(b), { EX: 3600 });
    slowWrite.release();
    await slowWrite.done;
    const stale = JSON.parse(await client.get('user:7')).plan;
    console.log(`async naive: cache ${stale}, database ${db.rows.get('7').plan} (stale for the TTL)`);
    check(stale === 'team', 'the reordered write left the older row');

    // Fixed: versions from the database; older cache writes are refused.
    const put = async (row) => ({ row: await db.put('7', row), v: ++version });
    const cacheSet = (w) => client.eval(SET_IF_NEWER, { keys: ['vuser:7'], arguments: [String(w.v), JSON.stringify(w.row), '3600'] });
    const wa = await put({ id: '7', plan: 'team' });
    const slowFixed = heldBack(() => cacheSet(wa));
    const wb = await put({ id: '7', plan: 'enterprise' });
    await cacheSet(wb);
    slowFixed.release();
    const refused = await slowFixed.done;
    const fresh = JSON.parse(await client.hGet('vuser:7', 'row')).plan;
    console.log(`async versioned: cache ${fresh}, database ${db.rows.get('7').plan} (late write refused: ${refused === 0})`);
    check(fresh === 'enterprise' && refused === 0, 'the newer row stays');
    await client.del(['user:7', 'vuser:7']);
    await client.quit();
});
