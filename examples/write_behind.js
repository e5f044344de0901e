// Write-behind: events queued in a list, flushed to the database later.
//
// The article's flusher reads with LRANGE 0 999 and then trims with
// LTRIM <n> -1. Between the two, anything can happen: a second flusher
// reads the same events (processed twice), and events pushed meanwhile
// land at the head, which the trim then cuts (lost) while the old ones it
// meant to cut stay (processed again). Both are shown with the steps in a
// fixed order. The fix: each worker moves one event at a time into its own
// processing list with LMOVE (atomic), writes it, then removes it there;
// a worker that crashes finds its unfinished events in its processing list
// when it restarts.
'use strict';

const { connect, check, run } = require('./lib/common');

function tally(inserted, total) {
    const seen = new Map();
    for (const e of inserted) seen.set(e, (seen.get(e) || 0) + 1);
    let twice = 0;
    for (const n of seen.values()) if (n > 1) twice++;
    let lost = 0;
    for (let i = 0; i < total; i++) if (!seen.has(`e${i}`)) lost++;
    return { twice, lost };
}

async function naive(client) {
    const q = 'wb:naive';
    // Two flushers overlap.
    for (let i = 0; i < 10; i++) await client.lPush(q, `e${i}`);
    let inserted = [];
    const w1 = await client.lRange(q, 0, 999);
    const w2 = await client.lRange(q, 0, 999);
    inserted.push(...w1, ...w2);
    await client.lTrim(q, w1.length, -1);
    await client.lTrim(q, w2.length, -1);
    let t = tally(inserted, 10);
    console.log(`naive, two flushers: 10 events -> ${t.twice} processed twice`);
    check(t.twice === 10, 'both flushers took every event');

    // One flusher, three events arriving during its database insert.
    await client.del(q);
    inserted = [];
    for (let i = 0; i < 10; i++) await client.lPush(q, `e${i}`);
    const batch = await client.lRange(q, 0, 999);
    for (let i = 10; i < 13; i++) await client.lPush(q, `e${i}`);
    inserted.push(...batch);
    await client.lTrim(q, batch.length, -1);
    inserted.push(...(await client.lRange(q, 0, 999))); // the next flush
    t = tally(inserted, 13);
    console.log(`naive, events during a flush: 13 events -> ${t.lost} lost, ${t.twice} processed twice`);
    check(t.lost === 3 && t.twice === 3, 'the trim cut the new events');
    await client.del(q);
}

// One step of a worker: take the oldest event into processing:<name>,
// write it, drop it from processing. Returns false when the queue is empty.
async function step(client, name, db, crash = false) {
    const ev = await client.lMove('wb:events', `wb:processing:${name}`, 'RIGHT', 'LEFT');
    if (ev === null) return false;
    if (crash) return false; // dies holding ev
    db.push(ev);
    await client.lRem(`wb:processing:${name}`, 1, ev);
    return true;
}

async function fixed() {
    const producer = await connect();
    const [a, b] = [await connect(), await connect()];
    const db = [];
    for (let i = 0; i < 100; i++) await producer.lPush('wb:events', `e${i}`);
    // Worker b crashes after taking one event.
    await step(b, 'b', db, true);
    let more = true; // ten more events arrive halfway through
    const worker = async (c, name) => {
        while (await step(c, name, db)) {
            if (more && db.length >= 50) {
                more = false;
                for (let i = 100; i < 110; i++) await producer.lPush('wb:events', `e${i}`);
            }
        }
    };
    await Promise.all([worker(a, 'a'), worker(b, 'b')]);
    const stranded = await producer.lLen('wb:processing:b');
    // b restarts: first it finishes what its processing list holds.
    for (const ev of await b.lRange('wb:processing:b', 0, -1)) {
        db.push(ev);
        await b.lRem('wb:processing:b', 1, ev);
    }
    const t = tally(db, 110);
    console.log(`fixed, two workers and a crash: 110 events -> ${t.lost} lost, ${t.twice} processed twice (${stranded} recovered after the crash)`);
    check(t.lost === 0 && t.twice === 0 && stranded === 1, 'exactly once');
    await Promise.all([producer.quit(), a.quit(), b.quit()]);
}

run(async () => {
    const client = await connect();
    await naive(client);
    await client.quit();
    await fixed();
});
