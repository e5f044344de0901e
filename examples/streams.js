// A stream consumed by a consumer group: lag monitoring and recovery from a
// consumer that crashed with messages read but not acknowledged.
//
// The article's consumer reads only new messages ('>'), so what a consumer
// had read before it crashed stays pending forever: no one reads it again.
// Here another consumer takes such messages over with XAUTOCLAIM once they
// have been idle long enough. XINFO GROUPS reports the group's lag (entries
// not yet delivered) and pending count (delivered, not acknowledged): the
// two numbers to alert on. (The article's xinfGroup does not exist.)
'use strict';

const { connect, sleep, check, run } = require('./lib/common');

const STREAM = 'stream:order-events';
const GROUP = 'order-processor';

async function groupStatus(c) {
    const groups = await c.sendCommand(['XINFO', 'GROUPS', STREAM]);
    const g = {};
    for (let i = 0; i < groups[0].length; i += 2) g[groups[0][i]] = groups[0][i + 1];
    return `lag ${g.lag}, pending ${g.pending}, consumers ${g.consumers}`;
}

async function read(c, consumer, count) {
    const reply = await c.xReadGroup(GROUP, consumer, { key: STREAM, id: '>' }, { COUNT: count });
    return reply ? reply[0].messages : [];
}

run(async () => {
    const [producer, w1, w2] = [await connect(), await connect(), await connect()];
    const processed = new Map();
    const process = async (c, msg) => {
        processed.set(msg.message.orderId, (processed.get(msg.message.orderId) || 0) + 1);
        await c.xAck(STREAM, GROUP, msg.id);
    };

    for (let i = 1; i <= 10; i++) await producer.xAdd(STREAM, '*', { type: 'ORDER_PAID', orderId: `o${i}` });
    await producer.xGroupCreate(STREAM, GROUP, '0');
    console.log(`created: ${await groupStatus(producer)}`);

    // worker-1 takes 4, finishes 2, then crashes.
    const batch = await read(w1, 'worker-1', 4);
    for (const msg of batch.slice(0, 2)) await process(w1, msg);
    await w1.quit();
    console.log(`worker-1 read 4, acked 2, crashed: ${await groupStatus(producer)}`);

    // worker-2 drains the rest.
    for (const msg of await read(w2, 'worker-2', 100)) await process(w2, msg);
    console.log(`worker-2 drained new messages: ${await groupStatus(producer)}`);

    // Recovery: claim what has been pending over 100 ms.
    await sleep(150);
    const [, claimed] = await w2.sendCommand(['XAUTOCLAIM', STREAM, GROUP, 'worker-2', '100', '0-0']);
    for (const [id, fields] of claimed) {
        const message = {};
        for (let i = 0; i < fields.length; i += 2) message[fields[i]] = fields[i + 1];
        await process(w2, { id, message });
    }
    console.log(`worker-2 claimed ${claimed.length} from worker-1: ${await groupStatus(producer)}`);
    const once = [...processed.values()].every((n) => n === 1);
    console.log(`orders processed: ${processed.size} of 10, each once: ${once}`);
    check(processed.size === 10 && once, 'every order exactly once');
    await producer.del(STREAM);
    await Promise.all([producer.quit(), w2.quit()]);
});
