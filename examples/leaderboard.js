// A leaderboard on a sorted set, through ioredis: ZINCRBY to add points,
// ZREVRANGE ... WITHSCORES for the top, ZREVRANK for a player's rank.
//
// Two things the article's version gets wrong: it reads rank and score in
// two round trips (ZREVRANK then ZSCORE), so a score change between them
// pairs a rank with a score it never had; ZREVRANK ... WITHSCORE returns
// both at once. And it parseInt()s scores, which drops fractions (time
// bonuses, averages). Equal scores rank by member, reversed in ZREVRANGE.
'use strict';

const Redis = require('ioredis');
const { port, check, run } = require('./lib/common');

run(async () => {
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    await r.connect();
    const key = 'leaderboard:global';
    await r.zadd(key, 1500, 'user:123', 1200, 'user:456', 900, 'user:789', 1200, 'user:111');
    console.log(`user:456 +300.5 -> ${await r.zincrby(key, 300.5, 'user:456')} (parseInt would say ${parseInt('1500.5', 10)})`);

    const top = await r.zrevrange(key, 0, 2, 'WITHSCORES');
    for (let i = 0; i < top.length; i += 2) console.log(`#${i / 2 + 1} ${top[i]} ${top[i + 1]}`);

    // Rank and score in one reply, so they belong together.
    const [rank, score] = await r.call('ZREVRANK', key, 'user:111', 'WITHSCORE');
    console.log(`user:111 rank ${rank + 1} score ${score}`);
    check(rank === 2 && score === '1200', 'rank with its score');

    // The two-step read, with a change landing between the steps.
    const rankFirst = await r.zrevrank(key, 'user:789');
    await r.zincrby(key, 1000, 'user:789'); // another request scores meanwhile
    const scoreAfter = await r.zscore(key, 'user:789');
    const [trueRank] = await r.call('ZREVRANK', key, 'user:789', 'WITHSCORE');
    console.log(`two round trips: user:789 "rank ${rankFirst + 1} with ${scoreAfter}" (with ${scoreAfter} it is rank ${trueRank + 1})`);
    check(rankFirst + 1 === 4 && trueRank === 0, 'the pair was inconsistent');
    await r.del(key);
    await r.quit();
});
