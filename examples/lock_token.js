// A lock with a random token, released by compare-and-delete.
//
// The article's basic lock releases with a plain DEL: a holder that stalls
// past the TTL deletes the next holder's lock, and a third client gets in
// while the second still works. Its "production" lock adds a token, but
// from Math.random().toString(36).substr(2, 9): at most 9 base-36 digits
// (under 47 bits) from a PRNG that is not cryptographic (xorshift128+: its
// state can be recovered from a few outputs), so a token can be guessed,
// and its release needs a Lua script. Here: 128 random bits, DELIFEQ
// (Keel's compare-and-delete, one command, no script) to release, and
// SET ... IFEQ to extend only a lock one still holds.
'use strict';

const crypto = require('crypto');
const { connect, sleep, check, run } = require('./lib/common');

run(async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()];

    // Naive: SET NX PX, DEL to release.
    await a.set('lock:naive', '1', { NX: true, PX: 50 });
    await sleep(80); // A stalls; its lock expires
    const bGot = await b.set('lock:naive', '1', { NX: true, PX: 5000 });
    await a.del('lock:naive'); // A "releases": it deletes B's lock
    const cGot = await c.set('lock:naive', '1', { NX: true, PX: 5000 });
    console.log(`naive DEL release: B acquired ${bGot === 'OK'}, then A's release let C in too: ${cGot === 'OK'}`);
    check(bGot === 'OK' && cGot === 'OK', 'two holders at once');
    await a.del('lock:naive');

    const weak = Math.random().toString(36).substr(2, 9);
    check(weak.length <= 9, 'short token');
    console.log('article token: at most 9 base-36 chars from Math.random (< 47 bits, predictable)');

    // Fixed: 128-bit token, DELIFEQ release, SET IFEQ to extend.
    const newToken = () => crypto.randomBytes(16).toString('hex');
    const ta = newToken();
    check((await a.set('lock:res', ta, { NX: true, PX: 50 })) === 'OK', 'A acquires');
    await sleep(80); // A stalls past its TTL
    const tb = newToken();
    check((await b.set('lock:res', tb, { NX: true, PX: 5000 })) === 'OK', 'B acquires');
    const aRelease = await a.sendCommand(['DELIFEQ', 'lock:res', ta]);
    const aExtend = await a.sendCommand(['SET', 'lock:res', ta, 'IFEQ', ta, 'PX', '5000']);
    const cTry = await c.set('lock:res', newToken(), { NX: true, PX: 5000 });
    console.log(`token lock: A's late release deleted ${aRelease}, A's extend ${aExtend}, C acquired ${cTry === 'OK'}`);
    check(aRelease === 0 && aExtend === null && cTry === null, 'the stale holder changes nothing');
    const bExtend = await b.sendCommand(['SET', 'lock:res', tb, 'IFEQ', tb, 'PX', '5000']);
    const bRelease = await b.sendCommand(['DELIFEQ', 'lock:res', tb]);
    console.log(`token lock: B extends ${bExtend}, B releases ${bRelease}`);
    check(bExtend === 'OK' && bRelease === 1, 'the holder extends and releases');
    await Promise.all([a.quit(), b.quit(), c.quit()]);
});
