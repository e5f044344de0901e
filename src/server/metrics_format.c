/* metrics_format: see metrics_format.h. INFO lines become samples of a
 * fixed list of families (a field table for the one-to-one ones, parsers
 * for the sub-field lines: commandstats, latencystats, errorstats,
 * keyspace, replicas); both renderings are written from those samples, so
 * /metrics and /json cannot disagree. */
#include "server/metrics_format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

enum { COUNTER, GAUGE };

typedef struct family_def {
    const char *name;
    int type;
    const char *help;
} family_def;

/* Every family, in the order they are written. */
enum {
    F_UPTIME,
    F_SNAPSHOT_TIME,
    F_COMMANDS,
    F_OPS,
    F_CONNECTIONS,
    F_REJECTED,
    F_NET_IN,
    F_NET_OUT,
    F_ERROR_REPLIES,
    F_ERRORS,
    F_HITS,
    F_MISSES,
    F_HIT_RATIO,
    F_EXPIRED,
    F_EVICTED,
    F_MEM_USED,
    F_MEM_RSS,
    F_MEM_PEAK,
    F_MEM_DATASET,
    F_MEM_OVERHEAD,
    F_MEM_LUA,
    F_MEM_MAX,
    F_MEM_SYSTEM,
    F_MEM_FRAG,
    F_MEM_FRAG_BYTES,
    F_ALLOC_FRAG,
    F_LAZYFREE_PENDING,
    F_CLIENTS,
    F_BLOCKED,
    F_MAXCLIENTS,
    F_PUBSUB_CLIENTS,
    F_PUBSUB_CHANNELS,
    F_PUBSUB_PATTERNS,
    F_ROLE,
    F_REPL_OFFSET,
    F_CONNECTED_REPLICAS,
    F_MASTER_LINK_UP,
    F_MASTER_LAST_IO,
    F_REPLICA_OFFSET,
    F_REPLICA_LAG,
    F_RDB_CHANGES,
    F_RDB_LAST_SAVE,
    F_AOF_ENABLED,
    F_LOADING,
    F_CPU_SYS,
    F_CPU_USER,
    F_CMD_CALLS,
    F_CMD_USEC,
    F_CMD_REJECTED,
    F_CMD_FAILED,
    F_CMD_LATENCY,
    F_DB_KEYS,
    F_DB_EXPIRES,
    F_DB_AVG_TTL,
    F_STREAM_LAG,
    F_STREAM_PENDING,
    F_STREAM_CONSUMERS,
    F_STREAM_OMITTED,
    F_STREAM_PASS,
    F_PUBLISH_USEC,
    F_TYPE_BYTES,
    F_TYPE_KEYS,
    F_TYPE_PASS,
    NFAMILIES
};

static const family_def families[NFAMILIES] = {
    [F_UPTIME] = {"keel_uptime_seconds", GAUGE, "Seconds since the server started."},
    [F_SNAPSHOT_TIME] = {"keel_metrics_snapshot_timestamp_seconds", GAUGE,
                         "When the event loop published these figures (unix time)."},
    [F_COMMANDS] = {"keel_commands_processed_total", COUNTER, "Commands processed."},
    [F_OPS] = {"keel_ops_per_sec", GAUGE, "Commands per second over the last snapshot interval."},
    [F_CONNECTIONS] = {"keel_connections_received_total", COUNTER, "Client connections accepted."},
    [F_REJECTED] = {"keel_rejected_connections_total", COUNTER, "Connections refused (maxclients)."},
    [F_NET_IN] = {"keel_net_input_bytes_total", COUNTER, "Bytes read from clients."},
    [F_NET_OUT] = {"keel_net_output_bytes_total", COUNTER, "Bytes written to clients."},
    [F_ERROR_REPLIES] = {"keel_error_replies_total", COUNTER, "Error replies sent."},
    [F_ERRORS] = {"keel_errors_total", COUNTER, "Error replies by error code (INFO errorstats)."},
    [F_HITS] = {"keel_keyspace_hits_total", COUNTER, "Key lookups that found the key."},
    [F_MISSES] = {"keel_keyspace_misses_total", COUNTER, "Key lookups that did not find the key."},
    [F_HIT_RATIO] = {"keel_keyspace_hit_ratio", GAUGE, "hits / (hits + misses) since start (0 before any lookup)."},
    [F_EXPIRED] = {"keel_expired_keys_total", COUNTER, "Keys removed because their TTL passed."},
    [F_EVICTED] = {"keel_evicted_keys_total", COUNTER, "Keys evicted to stay under maxmemory."},
    [F_MEM_USED] = {"keel_memory_used_bytes", GAUGE, "Bytes allocated by the server (used_memory)."},
    [F_MEM_RSS] = {"keel_memory_rss_bytes", GAUGE, "Resident set size (used_memory_rss)."},
    [F_MEM_PEAK] = {"keel_memory_peak_bytes", GAUGE, "Peak of used_memory."},
    [F_MEM_DATASET] = {"keel_memory_dataset_bytes", GAUGE, "used_memory minus the server's overhead."},
    [F_MEM_OVERHEAD] = {"keel_memory_overhead_bytes", GAUGE, "Tables, clients and server structures."},
    [F_MEM_LUA] = {"keel_memory_lua_bytes", GAUGE, "Memory of the Lua interpreter for EVAL."},
    [F_MEM_MAX] = {"keel_memory_max_bytes", GAUGE, "maxmemory (0: no limit)."},
    [F_MEM_SYSTEM] = {"keel_memory_system_bytes", GAUGE, "Physical memory of the machine."},
    [F_MEM_FRAG] = {"keel_memory_fragmentation_ratio", GAUGE, "used_memory_rss / used_memory."},
    [F_MEM_FRAG_BYTES] = {"keel_memory_fragmentation_bytes", GAUGE, "used_memory_rss - used_memory."},
    [F_ALLOC_FRAG] = {"keel_memory_allocator_fragmentation_ratio", GAUGE, "Allocator active / allocated."},
    [F_LAZYFREE_PENDING] = {"keel_lazyfree_pending_objects", GAUGE, "Values waiting for the lazy-free thread."},
    [F_CLIENTS] = {"keel_connected_clients", GAUGE, "Client connections open."},
    [F_BLOCKED] = {"keel_blocked_clients", GAUGE, "Clients waiting in a blocking command."},
    [F_MAXCLIENTS] = {"keel_max_clients", GAUGE, "maxclients."},
    [F_PUBSUB_CLIENTS] = {"keel_pubsub_clients", GAUGE, "Clients in pub/sub mode."},
    [F_PUBSUB_CHANNELS] = {"keel_pubsub_channels", GAUGE, "Channels with at least one subscriber."},
    [F_PUBSUB_PATTERNS] = {"keel_pubsub_patterns", GAUGE, "Patterns with at least one subscriber."},
    [F_ROLE] = {"keel_replication_role", GAUGE, "1 for the server's replication role (master or slave)."},
    [F_REPL_OFFSET] = {"keel_replication_offset_bytes", GAUGE, "master_repl_offset: the replication stream's end."},
    [F_CONNECTED_REPLICAS] = {"keel_connected_replicas", GAUGE, "Replicas connected to this server."},
    [F_MASTER_LINK_UP] = {"keel_replication_master_link_up", GAUGE, "On a replica: 1 while the link is up."},
    [F_MASTER_LAST_IO] = {"keel_replication_master_last_io_seconds", GAUGE,
                          "On a replica: seconds since the primary last sent anything."},
    [F_REPLICA_OFFSET] = {"keel_replica_offset_bytes", GAUGE, "Replication offset each replica acknowledged."},
    [F_REPLICA_LAG] = {"keel_replica_lag_seconds", GAUGE, "Seconds since each replica last acknowledged."},
    [F_RDB_CHANGES] = {"keel_rdb_changes_since_last_save", GAUGE, "Writes since the last snapshot."},
    [F_RDB_LAST_SAVE] = {"keel_rdb_last_save_timestamp_seconds", GAUGE, "When the last snapshot was saved."},
    [F_AOF_ENABLED] = {"keel_aof_enabled", GAUGE, "1 when the append-only file is on."},
    [F_LOADING] = {"keel_loading", GAUGE, "1 while the dataset loads."},
    [F_CPU_SYS] = {"keel_cpu_sys_seconds_total", COUNTER, "System CPU time of the server."},
    [F_CPU_USER] = {"keel_cpu_user_seconds_total", COUNTER, "User CPU time of the server."},
    [F_CMD_CALLS] = {"keel_command_calls_total", COUNTER, "Calls per command (INFO commandstats)."},
    [F_CMD_USEC] = {"keel_command_usec_total", COUNTER, "Microseconds spent per command."},
    [F_CMD_REJECTED] = {"keel_command_rejected_calls_total", COUNTER, "Calls refused before running, per command."},
    [F_CMD_FAILED] = {"keel_command_failed_calls_total", COUNTER, "Calls that ran and failed, per command."},
    [F_CMD_LATENCY] = {"keel_command_latency_usec", GAUGE,
                       "Per-command latency percentiles in microseconds (INFO latencystats)."},
    [F_DB_KEYS] = {"keel_db_keys", GAUGE, "Keys per database."},
    [F_DB_EXPIRES] = {"keel_db_keys_expiring", GAUGE, "Keys with a TTL per database."},
    [F_DB_AVG_TTL] = {"keel_db_avg_ttl_seconds", GAUGE, "Average TTL of the keys with one, per database."},
    [F_STREAM_LAG] = {"keel_stream_group_lag", GAUGE,
                      "Entries of the stream not yet delivered to the consumer group (omitted when unknown)."},
    [F_STREAM_PENDING] = {"keel_stream_group_pending", GAUGE, "Entries delivered to the group but not acknowledged."},
    [F_STREAM_CONSUMERS] = {"keel_stream_group_consumers", GAUGE, "Consumers in the group."},
    [F_STREAM_OMITTED] = {"keel_stream_groups_omitted", GAUGE,
                          "Consumer groups left out of the last pass (over 1000 groups)."},
    [F_STREAM_PASS] = {"keel_stream_groups_pass_seconds", GAUGE,
                       "How long the last keyspace pass for stream groups took (their figures' age at most)."},
    [F_PUBLISH_USEC] = {"keel_metrics_publish_usec", GAUGE,
                        "Event loop time spent building this snapshot (once a second)."},
    [F_TYPE_BYTES] = {"keel_dataset_bytes", GAUGE,
                      "Bytes of the keys and values of each type, as the last keyspace pass measured them."},
    [F_TYPE_KEYS] = {"keel_dataset_keys", GAUGE, "Keys of each type, as the last keyspace pass counted them."},
    [F_TYPE_PASS] = {"keel_dataset_pass_seconds", GAUGE,
                     "How long the last keyspace pass for the bytes per type took (their age at most)."},
};

/* INFO fields that map one-to-one onto an unlabelled family. */
static const struct {
    const char *field;
    int family;
} plain_fields[] = {
    {"uptime_in_seconds", F_UPTIME},
    {"total_commands_processed", F_COMMANDS},
    {"total_connections_received", F_CONNECTIONS},
    {"rejected_connections", F_REJECTED},
    {"total_net_input_bytes", F_NET_IN},
    {"total_net_output_bytes", F_NET_OUT},
    {"total_error_replies", F_ERROR_REPLIES},
    {"keyspace_hits", F_HITS},
    {"keyspace_misses", F_MISSES},
    {"expired_keys", F_EXPIRED},
    {"evicted_keys", F_EVICTED},
    {"used_memory", F_MEM_USED},
    {"used_memory_rss", F_MEM_RSS},
    {"used_memory_peak", F_MEM_PEAK},
    {"used_memory_dataset", F_MEM_DATASET},
    {"used_memory_overhead", F_MEM_OVERHEAD},
    {"used_memory_lua", F_MEM_LUA},
    {"maxmemory", F_MEM_MAX},
    {"total_system_memory", F_MEM_SYSTEM},
    {"mem_fragmentation_ratio", F_MEM_FRAG},
    {"mem_fragmentation_bytes", F_MEM_FRAG_BYTES},
    {"allocator_frag_ratio", F_ALLOC_FRAG},
    {"lazyfree_pending_objects", F_LAZYFREE_PENDING},
    {"connected_clients", F_CLIENTS},
    {"blocked_clients", F_BLOCKED},
    {"maxclients", F_MAXCLIENTS},
    {"pubsub_clients", F_PUBSUB_CLIENTS},
    {"pubsub_channels", F_PUBSUB_CHANNELS},
    {"pubsub_patterns", F_PUBSUB_PATTERNS},
    {"master_repl_offset", F_REPL_OFFSET},
    {"connected_slaves", F_CONNECTED_REPLICAS},
    {"master_last_io_seconds_ago", F_MASTER_LAST_IO},
    {"rdb_changes_since_last_save", F_RDB_CHANGES},
    {"rdb_last_save_time", F_RDB_LAST_SAVE},
    {"aof_enabled", F_AOF_ENABLED},
    {"loading", F_LOADING},
    {"used_cpu_sys", F_CPU_SYS},
    {"used_cpu_user", F_CPU_USER},
};

#define MAX_LABELS 3

typedef struct sample {
    const char *lk[MAX_LABELS]; /* label names (static strings) */
    str lv[MAX_LABELS];         /* label values */
    int nl;
    double v;
} sample;

typedef struct family_samples {
    sample *s;
    int n, cap;
} family_samples;

typedef struct model {
    family_samples f[NFAMILIES];
    double hits, misses;
} model;

static sample *add_sample(model *m, int fam, double v)
{
    family_samples *fs = &m->f[fam];
    if (fs->n == fs->cap) {
        fs->cap = fs->cap ? fs->cap * 2 : 4;
        fs->s = alloc_resize(fs->s, sizeof(sample) * (size_t)fs->cap);
    }
    sample *s = &fs->s[fs->n++];
    memset(s, 0, sizeof(*s));
    s->v = v;
    return s;
}

static void add_label(sample *s, const char *name, const char *v, size_t len)
{
    if (s->nl < MAX_LABELS) {
        s->lk[s->nl] = name;
        s->lv[s->nl++] = str_new(v, len);
    }
}

static void model_free(model *m)
{
    for (int f = 0; f < NFAMILIES; f++) {
        for (int i = 0; i < m->f[f].n; i++) {
            for (int j = 0; j < m->f[f].s[i].nl; j++) {
                str_free(m->f[f].s[i].lv[j]);
            }
        }
        alloc_free(m->f[f].s);
    }
}

/* A whole field value as a number; INFO writes some as "12.34%", which
 * is no number and is skipped. */
static int parse_number(const char *p, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return *end == '\0';
}

/* The value of key in "a=1,b=2" (Redis's sub-field form), or 0. */
static int subfield(const char *p, size_t len, const char *key, const char **v, size_t *vlen)
{
    size_t klen = strlen(key);
    const char *end = p + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if ((size_t)(stop - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
            *v = p + klen + 1;
            *vlen = (size_t)(stop - *v);
            return 1;
        }
        p = comma ? comma + 1 : end;
    }
    return 0;
}

static void add_subfield(model *m, int fam, const char *v, size_t vlen, const char *key, const char *label,
                         const char *lv, size_t lvlen)
{
    const char *x;
    size_t xl;
    double d;
    if (subfield(v, vlen, key, &x, &xl) && parse_number(x, xl, &d)) {
        add_label(add_sample(m, fam, d), label, lv, lvlen);
    }
}

static int prefixed(const char *k, size_t klen, const char *prefix)
{
    size_t n = strlen(prefix);
    return klen > n && memcmp(k, prefix, n) == 0;
}

/* latency_percentiles_usec_<cmd>:p50=1.000,p99=2.000,p99.9=3.000: one
 * sample per percentile, its quantile label written as Prometheus's
 * summaries write it (0.5, 0.99, 0.999). */
static void add_percentiles(model *m, const char *cmd, size_t cmdlen, const char *v, size_t vlen)
{
    const char *end = v + vlen;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *stop = comma ? comma : end;
        const char *eq = memchr(v, '=', (size_t)(stop - v));
        double pct, val;
        if (eq && *v == 'p' && parse_number(v + 1, (size_t)(eq - v - 1), &pct) &&
            parse_number(eq + 1, (size_t)(stop - eq - 1), &val)) {
            char q[32];
            snprintf(q, sizeof(q), "%.6g", pct / 100.0);
            sample *s = add_sample(m, F_CMD_LATENCY, val);
            add_label(s, "cmd", cmd, cmdlen);
            add_label(s, "quantile", q, strlen(q));
        }
        v = comma ? comma + 1 : end;
    }
}

/* slaveN:ip=...,port=...,state=online,offset=N,lag=N */
static void add_replica(model *m, const char *v, size_t vlen)
{
    const char *ip, *port, *state;
    size_t ipl, portl, statel;
    if (!subfield(v, vlen, "ip", &ip, &ipl) || !subfield(v, vlen, "port", &port, &portl)) {
        return;
    }
    if (!subfield(v, vlen, "state", &state, &statel)) {
        state = "";
        statel = 0;
    }
    char addr[300];
    int n = snprintf(addr, sizeof(addr), "%.*s:%.*s", (int)ipl, ip, (int)portl, port);
    size_t addrl = n < 0 ? 0 : (size_t)n >= sizeof(addr) ? sizeof(addr) - 1 : (size_t)n;
    const char *x;
    size_t xl;
    double d;
    if (subfield(v, vlen, "offset", &x, &xl) && parse_number(x, xl, &d)) {
        sample *s = add_sample(m, F_REPLICA_OFFSET, d);
        add_label(s, "replica", addr, addrl);
        add_label(s, "state", state, statel);
    }
    if (subfield(v, vlen, "lag", &x, &xl) && parse_number(x, xl, &d)) {
        add_label(add_sample(m, F_REPLICA_LAG, d), "replica", addr, addrl);
    }
}

static void add_field(model *m, const char *k, size_t klen, const char *v, size_t vlen)
{
    double d;
    for (size_t i = 0; i < sizeof(plain_fields) / sizeof(plain_fields[0]); i++) {
        if (strlen(plain_fields[i].field) == klen && memcmp(plain_fields[i].field, k, klen) == 0) {
            if (parse_number(v, vlen, &d)) {
                add_sample(m, plain_fields[i].family, d);
                if (plain_fields[i].family == F_HITS) {
                    m->hits = d;
                } else if (plain_fields[i].family == F_MISSES) {
                    m->misses = d;
                }
            }
            return;
        }
    }
    if (prefixed(k, klen, "cmdstat_")) {
        const char *cmd = k + 8;
        size_t cl = klen - 8;
        add_subfield(m, F_CMD_CALLS, v, vlen, "calls", "cmd", cmd, cl);
        add_subfield(m, F_CMD_USEC, v, vlen, "usec", "cmd", cmd, cl);
        add_subfield(m, F_CMD_REJECTED, v, vlen, "rejected_calls", "cmd", cmd, cl);
        add_subfield(m, F_CMD_FAILED, v, vlen, "failed_calls", "cmd", cmd, cl);
    } else if (prefixed(k, klen, "latency_percentiles_usec_")) {
        add_percentiles(m, k + 25, klen - 25, v, vlen);
    } else if (prefixed(k, klen, "errorstat_")) {
        add_subfield(m, F_ERRORS, v, vlen, "count", "error", k + 10, klen - 10);
    } else if (prefixed(k, klen, "db") && k[2] >= '0' && k[2] <= '9') {
        add_subfield(m, F_DB_KEYS, v, vlen, "keys", "db", k + 2, klen - 2);
        add_subfield(m, F_DB_EXPIRES, v, vlen, "expires", "db", k + 2, klen - 2);
        const char *x;
        size_t xl;
        if (subfield(v, vlen, "avg_ttl", &x, &xl) && parse_number(x, xl, &d)) {
            add_label(add_sample(m, F_DB_AVG_TTL, d / 1000.0), "db", k + 2, klen - 2);
        }
    } else if (prefixed(k, klen, "slave") && k[5] >= '0' && k[5] <= '9') {
        add_replica(m, v, vlen);
    } else if (klen == 4 && memcmp(k, "role", 4) == 0) {
        add_label(add_sample(m, F_ROLE, 1), "role", v, vlen);
    } else if (klen == 18 && memcmp(k, "master_link_status", 18) == 0) {
        add_sample(m, F_MASTER_LINK_UP, vlen == 2 && memcmp(v, "up", 2) == 0);
    }
}

static void model_build(model *m, const metrics_figures *snap)
{
    memset(m, 0, sizeof(*m));
    const char *p = snap->info, *end = snap->info + snap->info_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        size_t len = (size_t)(stop - p);
        if (len && p[len - 1] == '\r') {
            len--;
        }
        const char *colon = len && p[0] != '#' ? memchr(p, ':', len) : NULL;
        if (colon) {
            add_field(m, p, (size_t)(colon - p), colon + 1, len - (size_t)(colon - p) - 1);
        }
        p = nl ? nl + 1 : end;
    }
    const stream_figures *sf = snap->streams;
    for (int i = 0; sf && i < sf->n; i++) {
        const stream_group_figures *g = &sf->g[i];
        char db[16];
        int dbl = snprintf(db, sizeof(db), "%d", g->db);
        sample *s[3] = {
            g->lag_known ? add_sample(m, F_STREAM_LAG, (double)g->lag) : NULL,
            add_sample(m, F_STREAM_PENDING, (double)g->pending),
            add_sample(m, F_STREAM_CONSUMERS, (double)g->consumers),
        };
        for (int j = 0; j < 3; j++) {
            if (s[j]) {
                add_label(s[j], "db", db, (size_t)dbl);
                add_label(s[j], "key", g->key, str_len(g->key));
                add_label(s[j], "group", g->group, str_len(g->group));
            }
        }
    }
    if (sf) {
        add_sample(m, F_STREAM_OMITTED, (double)sf->omitted);
        add_sample(m, F_STREAM_PASS, (double)sf->pass_ms / 1000.0);
    }
    const type_memory *tm = snap->types;
    if (tm && tm->known) {
        for (int i = 0; i < TYPE_MEMORY_NTYPES; i++) {
            int t = type_memory_types[i].type;
            const char *name = type_memory_types[i].name;
            add_label(add_sample(m, F_TYPE_BYTES, (double)tm->bytes[t]), "type", name, strlen(name));
            add_label(add_sample(m, F_TYPE_KEYS, (double)tm->keys[t]), "type", name, strlen(name));
        }
        add_sample(m, F_TYPE_PASS, (double)tm->pass_ms / 1000.0);
    }
    add_sample(m, F_PUBLISH_USEC, (double)snap->publish_us);
    add_sample(m, F_SNAPSHOT_TIME, (double)snap->time_ms / 1000.0);
    add_sample(m, F_OPS, snap->ops_per_sec);
    double lookups = m->hits + m->misses;
    add_sample(m, F_HIT_RATIO, lookups > 0 ? m->hits / lookups : 0);
}

/* Integers exactly (below 2^53), fractions with 15 significant digits. */
static str append_value(str out, double v, int json)
{
    if (isnan(v)) {
        return str_append_cstr(out, json ? "null" : "NaN");
    }
    if (isinf(v)) {
        return str_append_cstr(out, json ? "null" : v > 0 ? "+Inf" : "-Inf");
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        return str_printf(out, "%.0f", v);
    }
    return str_printf(out, "%.15g", v);
}

/* Prometheus label values escape backslash, double quote and newline;
 * other bytes outside printable ASCII (binary stream keys) are written as
 * the four characters \xNN, so the exposition stays valid UTF-8. */
static str append_label_value(str out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\\') {
            out = str_append_cstr(out, "\\\\");
        } else if (c == '"') {
            out = str_append_cstr(out, "\\\"");
        } else if (c == '\n') {
            out = str_append_cstr(out, "\\n");
        } else if (c < 0x20 || c >= 0x7f) {
            out = str_printf(out, "\\\\x%02x", c);
        } else {
            out = str_append(out, &p[i], 1);
        }
    }
    return out;
}

static str render_prom(const model *m)
{
    str out = str_empty(16384);
    for (int f = 0; f < NFAMILIES; f++) {
        const family_samples *fs = &m->f[f];
        if (fs->n == 0) {
            continue;
        }
        const family_def *d = &families[f];
        out = str_printf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
                         d->type == COUNTER ? "counter" : "gauge");
        for (int i = 0; i < fs->n; i++) {
            const sample *s = &fs->s[i];
            out = str_append_cstr(out, d->name);
            for (int j = 0; j < s->nl; j++) {
                out = str_printf(out, "%s%s=\"", j ? "," : "{", s->lk[j]);
                out = append_label_value(out, s->lv[j], str_len(s->lv[j]));
                out = str_append_cstr(out, "\"");
            }
            out = str_append_cstr(out, s->nl ? "} " : " ");
            out = append_value(out, s->v, 0);
            out = str_append_cstr(out, "\n");
        }
    }
    return out;
}

str metrics_json_string(str out, const char *p, size_t n)
{
    out = str_append_cstr(out, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            out = str_append(out, esc, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            out = str_printf(out, "\\u%04x", c);
        } else {
            out = str_append(out, (const char *)&c, 1);
        }
    }
    return str_append_cstr(out, "\"");
}

/* {"time_ms":..., "metrics":{name: number, or for labelled families
 * [{"labels":{...},"value":number}, ...]}, "slowlog":[...]}: the same
 * samples as /metrics, so the two cannot disagree. */
static str render_json(const model *m, const metrics_figures *snap)
{
    str out = str_printf(str_empty(16384), "{\"time_ms\":%lld,\"metrics\":{", (long long)snap->time_ms);
    int first = 1;
    for (int f = 0; f < NFAMILIES; f++) {
        const family_samples *fs = &m->f[f];
        if (fs->n == 0) {
            continue;
        }
        out = str_printf(out, "%s\"%s\":", first ? "" : ",", families[f].name);
        first = 0;
        if (fs->n == 1 && fs->s[0].nl == 0) {
            out = append_value(out, fs->s[0].v, 1);
            continue;
        }
        out = str_append_cstr(out, "[");
        for (int i = 0; i < fs->n; i++) {
            const sample *s = &fs->s[i];
            out = str_append_cstr(out, i ? ",{\"labels\":{" : "{\"labels\":{");
            for (int j = 0; j < s->nl; j++) {
                out = str_printf(out, "%s\"%s\":", j ? "," : "", s->lk[j]);
                out = metrics_json_string(out, s->lv[j], str_len(s->lv[j]));
            }
            out = str_append_cstr(out, "},\"value\":");
            out = append_value(out, s->v, 1);
            out = str_append_cstr(out, "}");
        }
        out = str_append_cstr(out, "]");
    }
    out = str_append_cstr(out, "},\"slowlog\":");
    out = str_append(out, snap->slowlog_json, snap->slowlog_len);
    return str_append_cstr(out, "}\n");
}

void metrics_format(const metrics_figures *in, str *prom, str *json)
{
    model m;
    model_build(&m, in);
    *prom = render_prom(&m);
    *json = render_json(&m, in);
    model_free(&m);
}
