// CL.THROTTLE behind an HTTP API: one command per request decides and
// returns everything the RateLimit headers need (limit, remaining, reset)
// plus Retry-After for a 429. The state is one small key per client with a
// TTL, so idle clients cost nothing, and a burst inside one millisecond is
// counted exactly (compare rate_limit_sliding.js).
'use strict';

const http = require('http');
const { connect, check, run } = require('./lib/common');

// 1 request per 20 s sustained, bursts of up to 3 (max_burst 2).
const BURST = 2;
const COUNT = 3;
const PERIOD = 60;

function serve(client) {
    return http.createServer(async (req, res) => {
        const who = req.headers['x-api-key'] || req.socket.remoteAddress;
        const [limited, limit, remaining, retryAfter, resetAfter] = await client.sendCommand(['CL.THROTTLE', `ratelimit:${who}`, String(BURST), String(COUNT), String(PERIOD)]);
        res.setHeader('RateLimit-Limit', limit);
        res.setHeader('RateLimit-Remaining', remaining);
        res.setHeader('RateLimit-Reset', resetAfter);
        if (limited) {
            res.setHeader('Retry-After', retryAfter);
            res.writeHead(429).end('Too Many Requests\n');
        } else {
            res.writeHead(200).end('ok\n');
        }
    });
}

function get(port, key) {
    return new Promise((resolve, reject) => {
        http.get({ port, path: '/api/data', headers: { 'x-api-key': key } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res));
        }).on('error', reject);
    });
}

run(async () => {
    const client = await connect();
    const server = serve(client);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = server.address().port;
    const statuses = [];
    for (let i = 1; i <= 5; i++) {
        const res = await get(port, 'alice');
        const h = res.headers;
        const retry = h['retry-after'] ? ` Retry-After: ${h['retry-after']}` : '';
        console.log(`request ${i}: ${res.statusCode} RateLimit-Limit: ${h['ratelimit-limit']} RateLimit-Remaining: ${h['ratelimit-remaining']} RateLimit-Reset: ${h['ratelimit-reset']}${retry}`);
        statuses.push(res.statusCode);
    }
    const other = await get(port, 'bob');
    console.log(`another client: ${other.statusCode} RateLimit-Remaining: ${other.headers['ratelimit-remaining']}`);
    check(statuses.join() === '200,200,200,429,429' && other.statusCode === 200, 'burst of 3, then 429');
    const ttl = await client.pTTL('ratelimit:alice');
    console.log(`state: one string key per client, expiring when it is full again (TTL <= 60 s: ${ttl > 0 && ttl <= 60000})`);
    server.close();
    await client.del(['ratelimit:alice', 'ratelimit:bob']);
    await client.quit();
});
