// Several locks at once: taken in sorted order (so two callers can never
// each hold what the other waits for), all or nothing.
//
// The article sorts, but when one lock of the set is busy it throws with
// the ones it already took still held: they block everyone until their TTL
// (30 s). Its release stops at the first token that no longer matches,
// leaving the rest held too. The fix: on a failed acquisition, release what
// was taken (DELIFEQ) before failing; on release, try every key and report
// the ones that had been lost.
'use strict';

const crypto = require('crypto');
const { connect, check, run } = require('./lib/common');

const token = () => crypto.randomBytes(16).toString('hex');

async function naiveAcquire(client, keys) {
    const tokens = {};
    for (const key of [...keys].sort()) {
        const t = token();
        if (!(await client.set(key, t, { NX: true, EX: 30 }))) throw new Error('Lock not acquired');
        tokens[key] = t;
    }
    return tokens;
}

async function acquireAll(client, keys) {
    const tokens = {};
    for (const key of [...keys].sort()) {
        const t = token();
        if (!(await client.set(key, t, { NX: true, PX: 30000 }))) {
            await releaseAll(client, tokens);
            return null;
        }
        tokens[key] = t;
    }
    return tokens;
}

// Releases every lock of the set; returns the keys that were no longer ours.
async function releaseAll(client, tokens) {
    const lost = [];
    for (const [key, t] of Object.entries(tokens)) {
        if ((await client.sendCommand(['DELIFEQ', key, t])) !== 1) lost.push(key);
    }
    return lost;
}

run(async () => {
    const [me, other] = [await connect(), await connect()];
    const keys = ['lock:c', 'lock:a', 'lock:b'];
    await other.set('lock:c', 'theirs', { PX: 30000 });

    let error = null;
    try {
        await naiveAcquire(me, keys);
    } catch (e) {
        error = e.message;
    }
    const leaked = await me.exists(['lock:a', 'lock:b']);
    console.log(`naive: "${error}" with ${leaked} of the other locks left held for 30 s`);
    check(leaked === 2, 'the naive acquisition leaked its locks');
    await me.del(['lock:a', 'lock:b']);

    const got = await acquireAll(me, keys);
    const left = await me.exists(['lock:a', 'lock:b']);
    console.log(`fixed: acquired ${got !== null}, ${left} locks left held`);
    check(got === null && left === 0, 'all or nothing');

    await other.del('lock:c');
    const all = await acquireAll(me, keys);
    check(all !== null, 'free locks are taken');
    await other.set('lock:a', 'stolen'); // lock:a expired and was taken meanwhile
    const lost = await releaseAll(me, all);
    const still = await me.exists(['lock:b', 'lock:c']);
    console.log(`fixed release: lost ${JSON.stringify(lost)}, ${still} of ours left held`);
    check(lost.length === 1 && still === 0, 'every other lock was released');
    await me.del('lock:a');
    await Promise.all([me.quit(), other.quit()]);
});
