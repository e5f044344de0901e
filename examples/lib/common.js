// What the examples share: a node-redis client on the port the runner
// passes, a stand-in database with a visible read count and a delay (so
// concurrent callers really overlap), and check() that fails the example.
'use strict';

const redis = require('redis');

const port = Number(process.argv[2]);
if (!port) {
    console.error('usage: node <example>.js <port>');
    process.exit(2);
}

async function connect() {
    const c = redis.createClient({ url: `redis://127.0.0.1:${port}` });
    c.on('error', (err) => console.error('client error', err));
    await c.connect();
    return c;
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// A "database": rows in a Map, every read and write counted and slow.
function makeDb(delayMs = 30) {
    return {
        rows: new Map(),
        reads: 0,
        writes: 0,
        async get(id) {
            this.reads++;
            await sleep(delayMs);
            return this.rows.has(id) ? { ...this.rows.get(id) } : null;
        },
        async put(id, row) {
            this.writes++;
            await sleep(delayMs);
            this.rows.set(id, { ...row });
            return { ...row };
        },
    };
}

function check(cond, what) {
    if (!cond) {
        console.error(`FAILED: ${what}`);
        process.exit(1);
    }
}

// Runs main(), closing clients it returns and exiting non-zero on errors.
function run(main) {
    main().then(
        () => process.exit(0),
        (err) => {
            console.error(err);
            process.exit(1);
        }
    );
}

module.exports = { port, connect, sleep, makeDb, check, run };
