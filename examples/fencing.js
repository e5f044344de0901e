// Fencing tokens: a lock alone cannot stop a holder that stalled past its
// TTL (a GC pause, a slow disk) from writing after the next holder did.
// Each acquisition also takes a number from a counter (in the same script,
// so numbers follow the order of acquisitions), and the protected resource
// refuses a write whose number is lower than one it has already seen.
'use strict';

const crypto = require('crypto');
const { connect, sleep, check, run } = require('./lib/common');

// The protected resource (a database, a file store): keeps the highest
// fencing number it has seen when asked to check.
class Storage {
    constructor(fenced) {
        this.fenced = fenced;
        this.highest = 0;
        this.value = null;
    }
    write(fence, value) {
        if (this.fenced) {
            if (fence < this.highest) return false;
            this.highest = fence;
        }
        this.value = value;
        return true;
    }
}

// Acquire and number in one step: the lock, then INCR of the counter.
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false`;

async function acquire(client, ttl) {
    const token = crypto.randomBytes(16).toString('hex');
    const fence = await client.eval(ACQUIRE, { keys: ['lock:doc', 'lock:doc:fence'], arguments: [token, String(ttl)] });
    return fence === null ? null : { token, fence };
}

async function scenario(fenced) {
    const [a, b] = [await connect(), await connect()];
    const storage = new Storage(fenced);
    await a.del('lock:doc:fence'); // numbering starts at 1 for the demo
    const la = await acquire(a, 50);
    await sleep(80); // A stalls; its lock expires
    const lb = await acquire(b, 5000);
    check(la && lb, 'both acquired, one after the other');
    storage.write(lb.fence, 'B');
    await b.sendCommand(['DELIFEQ', 'lock:doc', lb.token]);
    const late = storage.write(la.fence, 'A (stale)'); // A wakes up and writes
    await Promise.all([a.quit(), b.quit()]);
    return { late, value: storage.value, fences: [la.fence, lb.fence] };
}

run(async () => {
    const naive = await scenario(false);
    console.log(`without fencing: A's late write accepted ${naive.late}, the resource holds "${naive.value}"`);
    check(naive.value === 'A (stale)', 'the stale write won');
    const fixed = await scenario(true);
    const [fa, fb] = fixed.fences;
    console.log(`with fencing: A holds ${fa}, B holds ${fb}, A's late write accepted ${fixed.late}, the resource holds "${fixed.value}"`);
    check(fixed.value === 'B' && fa < fb, 'the stale write was refused');
    const c = await connect();
    await c.del('lock:doc:fence');
    await c.quit();
});
