// maxmemory and eviction, observed through INFO.
//
// A cache under allkeys-lru stays under its limit by evicting (INFO stats
// evicted_keys grows; used_memory stays near maxmemory: eviction runs
// before each write, so the last write may leave it a value over). The article's
// checklist pairs "TTL on all keys" with any policy, but the volatile-*
// policies evict only keys that have a TTL: with keys written without one,
// writes fail with OOM instead, as they do under noeviction.
'use strict';

const { connect, check, run } = require('./lib/common');

function field(info, name) {
    const m = new RegExp(`^${name}:(.*)\\r?$`, 'm').exec(info);
    return m ? m[1] : null;
}

async function fill(c, prefix, n, ttl) {
    const value = 'x'.repeat(1000);
    let oom = 0;
    for (let i = 0; i < n; i++) {
        try {
            if (ttl) await c.set(`${prefix}:${i}`, value, { EX: ttl });
            else await c.set(`${prefix}:${i}`, value);
        } catch (e) {
            if (!String(e.message).startsWith('OOM')) throw e;
            oom++;
        }
    }
    return oom;
}

run(async () => {
    const c = await connect();
    await c.flushAll();
    const base = Number(field(await c.info('memory'), 'used_memory'));
    const limit = base + 2 * 1024 * 1024;
    await c.configSet('maxmemory', String(limit));
    try {
        await c.configSet('maxmemory-policy', 'allkeys-lru');
        await c.configResetStat();
        const oom = await fill(c, 'cache', 6000, 0);
        const stats = await c.info('stats');
        const mem = await c.info('memory');
        const evicted = Number(field(stats, 'evicted_keys'));
        const used = Number(field(mem, 'used_memory'));
        console.log(`allkeys-lru: 6000 x 1 KB into a 2 MB budget -> OOM errors ${oom}, evicted_keys > 0: ${evicted > 0}, used_memory within 64 KB of maxmemory: ${used <= limit + 65536}, maxmemory_policy:${field(mem, 'maxmemory_policy')}`);
        check(oom === 0 && evicted > 0 && used <= limit + 65536, 'the cache evicts');

        await c.flushAll();
        await c.configSet('maxmemory-policy', 'volatile-lru');
        const noTtl = await fill(c, 'nottl', 6000, 0);
        console.log(`volatile-lru, keys without TTL: OOM errors > 0: ${noTtl > 0}`);
        await c.flushAll();
        const withTtl = await fill(c, 'ttl', 6000, 3600);
        console.log(`volatile-lru, keys with TTL: OOM errors ${withTtl}`);
        check(noTtl > 0 && withTtl === 0, 'volatile policies need TTLs');

        await c.flushAll();
        await c.configSet('maxmemory-policy', 'noeviction');
        const refused = await fill(c, 'keep', 6000, 0);
        console.log(`noeviction: OOM errors > 0: ${refused > 0}, reads still work: ${(await c.get('keep:0')) !== null}`);
        check(refused > 0, 'noeviction refuses writes');
    } finally {
        await c.configSet('maxmemory', '0');
        await c.configSet('maxmemory-policy', 'noeviction');
        await c.flushAll();
    }
    await c.quit();
});
