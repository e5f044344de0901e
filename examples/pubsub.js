// Pub/sub notifications with channels and patterns.
//
// The article subscribes to notifications:users:123 and also to the pattern
// notifications:users:*, which covers it: every message to that user then
// arrives twice (once per subscription), and a handler on both runs twice.
// Pub/sub keeps nothing: a message published while no one listens is gone
// (PUBLISH returns the number of receivers: 0). Use a stream
// (streams.js) when a message must survive a disconnect.
'use strict';

const { connect, sleep, check, run } = require('./lib/common');

run(async () => {
    const pub = await connect();
    const sub = await connect();
    const got = [];
    const waiters = [];
    const record = (line) => {
        got.push(line);
        while (waiters.length && waiters[0].n <= got.length) waiters.shift().resolve();
    };
    const until = (n) => new Promise((resolve) => (got.length >= n ? resolve() : waiters.push({ n, resolve })));

    await sub.subscribe(['notifications:users:123', 'notifications:system'], (message, channel) => record(`message [${channel}] ${message}`));
    await sub.pSubscribe('notifications:users:*', (message, channel) => record(`pmessage [notifications:users:*] ${channel}: ${message}`));

    const n1 = await pub.publish('notifications:users:123', '{"type":"ORDER_STATUS_CHANGED","orderId":"o1"}');
    await until(2);
    const n2 = await pub.publish('notifications:users:456', '{"type":"WELCOME"}');
    await until(3);
    const n3 = await pub.publish('notifications:system', '{"type":"MAINTENANCE"}');
    await until(4);
    // Arrival order between the two subscriptions of one message may vary.
    for (const line of got.slice(0, 2).sort().concat(got.slice(2))) console.log(line);
    console.log(`receivers: user 123 -> ${n1} (channel and pattern: delivered twice), user 456 -> ${n2}, system -> ${n3}`);
    check(n1 === 2 && n2 === 1 && n3 === 1, 'receiver counts');

    // Keep one subscription per message: the pattern alone.
    await sub.unsubscribe('notifications:users:123');
    const once = await pub.publish('notifications:users:123', '{"type":"PING"}');
    console.log(`after dropping the channel subscription: user 123 -> ${once} receiver`);

    await sub.pUnsubscribe();
    await sub.unsubscribe();
    await sleep(20);
    const lost = await pub.publish('notifications:system', '{"type":"LOST"}');
    console.log(`published with no subscriber: ${lost} receivers (the message is gone)`);
    check(once === 1 && lost === 0, 'one receiver, then none');
    await Promise.all([pub.quit(), sub.quit()]);
});
