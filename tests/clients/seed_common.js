// What the node client scripts (seed_patterns.js for node-redis,
// seed_patterns_ioredis.js for ioredis) share: section headings and the
// stand-in for the article's `db.query`, an in-memory table that gives the
// cache patterns a source of truth to fall back to and to check against.
'use strict';

function section(name) {
    console.log(`== ${name}`);
}

const db = {
    users: new Map([['42', { id: '42', name: 'Ada', plan: 'free' }]]),
    reads: 0,
    getUser(id) {
        this.reads++;
        return { ...this.users.get(id) };
    },
    updateUser(id, updates) {
        const user = { ...this.users.get(id), ...updates };
        this.users.set(id, user);
        return { ...user };
    },
};

module.exports = { section, db };
