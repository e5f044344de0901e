// A session store: one hash per session (id from 128 random bits), a TTL
// on the whole session that slides with each request, and TTLs on single
// fields for what must die sooner (a one-time login code, a CSRF token).
//
// With only a key TTL, a short-lived field lives as long as the session:
// the one-time code is still there after its 100 ms. HPEXPIRE (per field,
// Redis 7.4) removes just that field; HPTTL shows what is left.
'use strict';

const crypto = require('crypto');
const { connect, sleep, check, run } = require('./lib/common');

run(async () => {
    const c = await connect();
    const fields = { user_id: '42', plan: 'pro', otp: '913442' };

    // Naive: one TTL for everything.
    const naive = `session:${crypto.randomBytes(16).toString('hex')}`;
    await c.hSet(naive, fields);
    await c.expire(naive, 1800);
    await sleep(150);
    const naiveOtp = await c.hGet(naive, 'otp');
    console.log(`key TTL only: after 150 ms the one-time code is ${naiveOtp === null ? 'gone' : 'still there'}`);
    check(naiveOtp === '913442', 'the field outlived its purpose');

    // Per-field TTL.
    const id = `session:${crypto.randomBytes(16).toString('hex')}`;
    await c.hSet(id, fields);
    await c.expire(id, 1800);
    const set = await c.sendCommand(['HPEXPIRE', id, '100', 'FIELDS', '1', 'otp']);
    console.log(`HPEXPIRE otp 100 ms -> ${JSON.stringify(set)}`);
    await sleep(150);
    const left = await c.hGetAll(id);
    console.log(`after 150 ms: fields ${Object.keys(left).sort().join(',')}`);
    check(!('otp' in left) && left.user_id === '42', 'only the code expired');
    // Sliding session: each request pushes the key TTL out again.
    await c.expire(id, 1800);
    const ttls = await c.sendCommand(['HTTL', id, 'FIELDS', '2', 'user_id', 'otp']);
    console.log(`HTTL user_id otp -> ${JSON.stringify(ttls)} (-1: no field TTL, -2: no such field); session TTL ${await c.ttl(id)} s`);
    await c.del([naive, id]);
    await c.quit();
});
