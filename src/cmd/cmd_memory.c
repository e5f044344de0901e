/* MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE: the memory
 * introspection the seed's operators rely on. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "db/lazyfree.h"
#include "db/type_memory.h"
#include "server/server.h"

#ifdef KEEL_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

static void memory_usage(client *c)
{
    if (c->argc != 3 && !(c->argc == 5 && arg_is(c, 3, "SAMPLES"))) {
        reply_syntax_error(c);
        return;
    }
    /* What a module type's mem_usage2 is told: Redis's default, and for
     * SAMPLES 0 (all) the largest count Redis gives. */
    size_t samples = OBJ_MEM_SAMPLES;
    if (c->argc == 5) {
        long long n;
        if (!arg_ll(c, 4, &n)) {
            return;
        }
        if (n < 0) {
            reply_syntax_error(c);
            return;
        }
        samples = n == 0 ? (size_t)LLONG_MAX : (size_t)n;
    }
    kobj *o = db_lookup(c->db, c->argv[2], LOOKUP_NOTOUCH);
    if (!o) {
        reply_null(R(c));
        return;
    }
    /* The entry, its value, and its share of the table: its slot and its
     * part of the free ones (a big table is 56-90% full). Capped at two
     * slots: a small table's fixed minimum is no one key's cost. */
    size_t share = ktable_slots(&c->db->keys) * sizeof(uint64_t) / db_size(c->db);
    if (share > 2 * sizeof(uint64_t)) {
        share = 2 * sizeof(uint64_t);
    }
    reply_int(R(c), (long long)(kobj_mem_sampled(o, c->db->id, samples) + share));
}

/* "<name>.ratio" (or "fragmentation" itself) and "<name>.bytes": how much
 * larger the outer figure is than the inner one. */
static void ratio_pair(client *c, const char *name, size_t outer, size_t inner)
{
    char key[64];
    int plain = strcmp(name, "fragmentation") == 0;
    snprintf(key, sizeof(key), plain ? "%s" : "%s.ratio", name);
    reply_bulk_cstr(R(c), key);
    reply_double(R(c), inner ? (double)outer / (double)inner : 1);
    snprintf(key, sizeof(key), "%s.bytes", name);
    reply_bulk_cstr(R(c), key);
    reply_int(R(c), (long long)outer - (long long)inner);
}

/* db.N: the main table's overhead of each non-empty database. */
static void memory_stats_dbs(client *c)
{
    for (int i = 0; i < server.cfg.databases; i++) {
        db *d = &server.dbs[i];
        if (db_size(d) == 0) {
            continue;
        }
        char name[32];
        snprintf(name, sizeof(name), "db.%d", i);
        reply_bulk_cstr(R(c), name);
        reply_map(R(c), 2);
        reply_bulk_cstr(R(c), "overhead.hashtable.main");
        reply_int(R(c), (long long)(ktable_slots(&d->keys) * sizeof(void *)));
        /* TTLs live inside the entries: no second table. */
        reply_bulk_cstr(R(c), "overhead.hashtable.expires");
        reply_int(R(c), 0);
    }
}

static void memory_stats(client *c)
{
    size_t used = alloc_used(), peak = alloc_peak(), keys = 0;
    for (int i = 0; i < server.cfg.databases; i++) {
        keys += db_size(&server.dbs[i]);
    }
    memory_overhead mo;
    server_memory_overhead(&mo);
    size_t overhead = mo.total;
    size_t dataset = used > overhead ? used - overhead : 0;
    size_t allocated, active, resident;
    alloc_stats(&allocated, &active, &resident);
    size_t rss = alloc_rss();
    int ndbs = 0;
    for (int i = 0; i < server.cfg.databases; i++) {
        ndbs += db_size(&server.dbs[i]) > 0;
    }
    const type_memory *tm = type_memory_last(server_ms());
    reply_map(R(c), 27 + TYPE_MEMORY_NTYPES + ndbs);
    reply_bulk_cstr(R(c), "peak.allocated");
    reply_int(R(c), (long long)(peak > used ? peak : used));
    reply_bulk_cstr(R(c), "total.allocated");
    reply_int(R(c), (long long)used);
    reply_bulk_cstr(R(c), "startup.allocated");
    reply_int(R(c), 0);
    reply_bulk_cstr(R(c), "replication.backlog");
    reply_int(R(c), (long long)mo.repl_backlog);
    reply_bulk_cstr(R(c), "clients.slaves");
    reply_int(R(c), (long long)mo.clients_replicas);
    reply_bulk_cstr(R(c), "clients.normal");
    reply_int(R(c), (long long)mo.clients_normal);
    reply_bulk_cstr(R(c), "cluster.links");
    reply_int(R(c), 0); /* no cluster bus */
    reply_bulk_cstr(R(c), "aof.buffer");
    reply_int(R(c), (long long)mo.aof_buffer);
    reply_bulk_cstr(R(c), "lua.caches");
    reply_int(R(c), (long long)mo.lua_caches);
    reply_bulk_cstr(R(c), "functions.caches");
    reply_int(R(c), (long long)mo.functions_caches);
    memory_stats_dbs(c);
    reply_bulk_cstr(R(c), "overhead.total");
    reply_int(R(c), (long long)overhead);
    reply_bulk_cstr(R(c), "keys.count");
    reply_int(R(c), (long long)keys);
    reply_bulk_cstr(R(c), "keys.bytes-per-key");
    reply_int(R(c), keys ? (long long)(used / keys) : 0);
    reply_bulk_cstr(R(c), "dataset.bytes");
    reply_int(R(c), (long long)dataset);
    reply_bulk_cstr(R(c), "dataset.percentage");
    reply_double(R(c), used ? 100.0 * (double)dataset / (double)used : 0);
    reply_bulk_cstr(R(c), "peak.percentage");
    reply_double(R(c), peak ? 100.0 * (double)used / (double)peak : 100);
    reply_bulk_cstr(R(c), "allocator.allocated");
    reply_int(R(c), (long long)allocated);
    reply_bulk_cstr(R(c), "allocator.active");
    reply_int(R(c), (long long)active);
    reply_bulk_cstr(R(c), "allocator.resident");
    reply_int(R(c), (long long)resident);
    ratio_pair(c, "allocator-fragmentation", active, allocated);
    ratio_pair(c, "allocator-rss", resident, active);
    ratio_pair(c, "rss-overhead", rss, resident);
    ratio_pair(c, "fragmentation", rss, used);
    /* Keel's own: the dataset's bytes per type as the last pass over the
     * keyspace measured them (db/type_memory.h). */
    for (int i = 0; i < TYPE_MEMORY_NTYPES; i++) {
        char name[64];
        snprintf(name, sizeof(name), "keel.dataset.bytes.%s", type_memory_types[i].name);
        reply_bulk_cstr(R(c), name);
        reply_int(R(c), (long long)tm->bytes[type_memory_types[i].type]);
    }
}

/* A short diagnosis in the spirit of Redis's MEMORY DOCTOR. */
static void memory_doctor(client *c)
{
    size_t used = alloc_used(), peak = alloc_peak(), rss = alloc_rss();
    str out = str_empty(512);
    int issues = 0;
    if (used < 5 * 1024 * 1024) {
        out = str_append_cstr(out, "Memory doctor: this instance holds less than 5 MB, too little for the "
                                   "figures below to mean anything. Load some data and ask again.");
        reply_verbatim(R(c), out, str_len(out), "txt");
        str_free(out);
        return;
    }
    out = str_append_cstr(out, "Memory doctor: this Keel instance shows the following issues.\n\n");
    if (peak > used && (double)peak / (double)used > 1.5) {
        out = str_append_cstr(out, " * Peak memory: the peak was more than 1.5 times what is in use now. Memory freed "
                                   "since stays with the process for the most part, so expect a high fragmentation "
                                   "ratio until it is reused.\n\n");
        issues++;
    }
    if ((double)rss / (double)used > 1.4) {
        out = str_printf(out,
                         " * Resident memory: the process holds %.2f times the memory in use (more than 1.4), "
                         "through fragmentation and allocator overhead. MEMORY PURGE returns free pages to the "
                         "kernel; a restart compacts everything.\n\n",
                         (double)rss / (double)used);
        issues++;
    }
    if (server.cfg.maxmemory == 0) {
        out = str_append_cstr(out, " * No maxmemory: this instance has no memory limit; a cache should set maxmemory "
                                   "and a maxmemory-policy such as allkeys-lru.\n\n");
        issues++;
    }
    if (issues == 0) {
        str_free(out);
        out = str_empty(128);
        out = str_append_cstr(out, "Memory doctor: no memory issue found in this instance.");
    } else {
        out = str_append_cstr(out, "INFO memory and MEMORY STATS give the figures behind each point.\n");
    }
    reply_verbatim(R(c), out, str_len(out), "txt");
    str_free(out);
}

#ifdef KEEL_JEMALLOC
static void append_stats(void *ctx, const char *s)
{
    str *out = ctx;
    *out = str_append_cstr(*out, s);
}
#endif

static const char *const memory_help[] = {"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                                          "DOCTOR",
                                          "    A plain-text check of the memory figures, with advice.",
                                          "MALLOC-STATS",
                                          "    The allocator's own statistics report (jemalloc's).",
                                          "PURGE",
                                          "    Give the allocator's free pages back to the kernel.",
                                          "STATS",
                                          "    The server's memory broken down: dataset, overheads, allocator, RSS.",
                                          "USAGE <key> [SAMPLES <count>]",
                                          "    Bytes the key and its value take. Big collections are estimated from",
                                          "    <count> of their elements (5 by default, 0 for all of them).",
                                          "HELP",
                                          "    Prints this help.",
                                          NULL};

void cmd_memory(client *c)
{
    if (arg_is(c, 1, "HELP")) {
        reply_help(c, memory_help);
    } else if (arg_is(c, 1, "USAGE")) {
        memory_usage(c);
    } else if (arg_is(c, 1, "STATS")) {
        memory_stats(c);
    } else if (arg_is(c, 1, "DOCTOR")) {
        memory_doctor(c);
    } else if (arg_is(c, 1, "MALLOC-STATS")) {
        str out = str_empty(4096);
#ifdef KEEL_JEMALLOC
        malloc_stats_print(append_stats, &out, NULL);
#else
        out = str_append_cstr(out, "Stats not supported for the current allocator");
#endif
        reply_verbatim(R(c), out, str_len(out), "txt");
        str_free(out);
    } else if (arg_is(c, 1, "PURGE")) {
#ifdef KEEL_JEMALLOC
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "arena.%d.purge", MALLCTL_ARENAS_ALL);
        mallctl(cmd, NULL, NULL, NULL, 0);
#endif
        reply_ok(R(c));
    } else {
        reply_subcommand_syntax_error(c);
    }
}
