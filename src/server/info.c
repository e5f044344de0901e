/* info: the INFO text, with Redis's section and field names so monitoring
 * tools and clients that parse it keep working. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/util.h"
#include "db/lazyfree.h"
#include "module/module.h"
#include "net/uring.h"
#include "persist/aof.h"
#include "repl/repl.h"
#include "script/lua.h"
#include "server/defrag.h"
#include "server/instant.h"
#include "server/io_threads.h"
#include "server/latency.h"
#include "server/persistence.h"
#include "server/server.h"
#include "server/shutdown.h"
#include "server/supervise.h"

extern const char *const config_maxmemory_policies[];

str (*info_stats_extra)(str s);

static str section_server(str s)
{
    struct utsname u;
    uname(&u);
    int64_t up = (server_ms() - server.start_ms) / 1000;
    s = str_printf(s,
                   "# Server\r\n"
                   "redis_version:%s\r\n"
                   "keel_version:%s\r\n"
                   "redis_git_sha1:00000000\r\n"
                   "redis_git_dirty:0\r\n"
                   "redis_build_id:0\r\n"
                   "redis_mode:standalone\r\n"
                   "os:%s %s %s\r\n"
                   "arch_bits:%d\r\n"
                   "monotonic_clock:POSIX clock_gettime\r\n"
                   "multiplexing_api:%s\r\n"
                   "atomicvar_api:c11-builtin\r\n"
                   "gcc_version:%d.%d.%d\r\n"
                   "process_id:%d\r\n"
                   "process_supervised:%s\r\n"
                   "run_id:%s\r\n"
                   "tcp_port:%d\r\n"
                   "server_time_usec:%lld\r\n"
                   "uptime_in_seconds:%lld\r\n"
                   "uptime_in_days:%lld\r\n"
                   "hz:%d\r\n"
                   "configured_hz:%d\r\n"
                   "lru_clock:%u\r\n"
                   "executable:%s\r\n"
                   "config_file:%s\r\n"
                   "io_threads_active:%d\r\n",
                   KEEL_REDIS_COMPAT_VERSION, KEEL_VERSION, u.sysname, u.release, u.machine, (int)(sizeof(long) * 8),
                   uring_ready() ? "epoll+io_uring" : "epoll", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
                   (int)getpid(), supervise_mode_name(server.cfg.supervised), server.runid,
                   server.cfg.port ? server.cfg.port : server.cfg.tls_port, (long long)util_us(), (long long)up,
                   (long long)(up / 86400), server.cfg.hz, server.cfg.hz, db_lru_clock(),
                   server.executable ? server.executable : "", server.config_file ? server.config_file : "",
                   io_threads_active());
    return shutdown_info(s);
}

static str section_clients(str s)
{
    int blocked = 0, pubsub = 0, tracking = 0, replicas = 0;
    size_t max_in = 0, max_out = 0;
    for (client *c = server.clients; c; c = c->next) {
        /* connected_clients leaves the replicas out, as Redis counts it
         * (they are in connected_slaves); a replica's link to its primary
         * counts. */
        replicas += (c->flags & CLIENT_REPLICA) != 0;
        if (c->flags & CLIENT_BLOCKED) {
            blocked++;
        }
        if (c->flags & CLIENT_TRACKING) {
            tracking++;
        }
        if (client_obuf_class(c) == OBUF_PUBSUB) {
            pubsub++;
        }
        if (c->qcap > max_in) {
            max_in = c->qcap;
        }
        if (rbuf_pending(&c->out) > max_out) {
            max_out = rbuf_pending(&c->out);
        }
    }
    return str_printf(s,
                      "# Clients\r\n"
                      "connected_clients:%d\r\n"
                      "cluster_connections:0\r\n"
                      "maxclients:%lld\r\n"
                      "client_recent_max_input_buffer:%zu\r\n"
                      "client_recent_max_output_buffer:%zu\r\n"
                      "blocked_clients:%d\r\n"
                      "tracking_clients:%d\r\n"
                      "pubsub_clients:%d\r\n"
                      "clients_in_timeout_table:%d\r\n",
                      server.nclients - replicas, server.cfg.maxclients, max_in, max_out, blocked, tracking, pubsub,
                      blocked);
}

/* used_memory as it was when INFO began: the text INFO is building is not
 * the dataset's, and counting it made a server kept at maxmemory look
 * kilobytes over. */
static size_t used_before_info;

void server_memory_overhead(memory_overhead *m)
{
    m->db_tables = sizeof(server) + sizeof(db) * (size_t)server.cfg.databases;
    for (int i = 0; i < server.cfg.databases; i++) {
        m->db_tables += ktable_slots(&server.dbs[i].keys) * sizeof(void *);
    }
    m->clients_normal = 0;
    for (client *c = server.clients; c; c = c->next) {
        if (!(c->flags & CLIENT_REPLICA)) {
            m->clients_normal += client_mem(c);
        }
    }
    m->repl_backlog = repl_backlog_memory();
    m->clients_replicas = repl_replica_buffers_memory();
    m->aof_buffer = aof_buffer_memory();
    m->lua_caches = script_eval_cache_memory();
    m->functions_caches = script_functions_memory();
    m->total = m->db_tables + m->clients_normal + m->repl_backlog + m->clients_replicas + m->aof_buffer +
               m->lua_caches + m->functions_caches;
}

static str section_memory(str s)
{
    char used_h[32], peak_h[32], rss_h[32], max_h[32], total_h[32];
    size_t used = used_before_info, peak = alloc_peak(), rss = alloc_rss();
    if (used > peak) {
        peak = used;
    }
    size_t allocated, active, resident;
    alloc_stats(&allocated, &active, &resident);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    unsigned long long total = pages > 0 && psize > 0 ? (unsigned long long)pages * (unsigned long long)psize : 0;
    util_bytes_human(used_h, sizeof(used_h), used);
    util_bytes_human(peak_h, sizeof(peak_h), peak);
    util_bytes_human(rss_h, sizeof(rss_h), rss);
    util_bytes_human(max_h, sizeof(max_h), (unsigned long long)server.cfg.maxmemory);
    util_bytes_human(total_h, sizeof(total_h), total);
    memory_overhead mo;
    server_memory_overhead(&mo);
    size_t startup = 0, overhead = mo.total;
    size_t dataset = used > overhead ? used - overhead : 0;
    double frag = used ? (double)rss / (double)used : 0;
    double alloc_frag = allocated ? (double)active / (double)allocated : 1;
    defrag_info dfi;
    defrag_get_info(&dfi);
    char lua_h[32], vm_total_h[32], scripts_h[32];
    size_t lua = script_eval_vm_memory(), vm_total = lua + script_functions_vm_memory();
    size_t scripts = mo.lua_caches + mo.functions_caches;
    util_bytes_human(lua_h, sizeof(lua_h), lua);
    util_bytes_human(vm_total_h, sizeof(vm_total_h), vm_total);
    util_bytes_human(scripts_h, sizeof(scripts_h), scripts);
    s = str_printf(s,
                   "# Memory\r\n"
                   "used_memory:%zu\r\n"
                   "used_memory_human:%s\r\n"
                   "used_memory_rss:%zu\r\n"
                   "used_memory_rss_human:%s\r\n"
                   "used_memory_peak:%zu\r\n"
                   "used_memory_peak_human:%s\r\n"
                   "used_memory_peak_perc:%.2f%%\r\n"
                   "used_memory_overhead:%zu\r\n"
                   "used_memory_startup:%zu\r\n"
                   "used_memory_dataset:%zu\r\n"
                   "used_memory_dataset_perc:%.2f%%\r\n"
                   "allocator_allocated:%zu\r\n"
                   "allocator_active:%zu\r\n"
                   "allocator_resident:%zu\r\n"
                   "total_system_memory:%llu\r\n"
                   "total_system_memory_human:%s\r\n"
                   "used_memory_lua:%zu\r\n"
                   "used_memory_lua_human:%s\r\n"
                   "used_memory_vm_eval:%zu\r\n"
                   "used_memory_scripts_eval:%zu\r\n"
                   "number_of_cached_scripts:%zu\r\n"
                   "number_of_functions:%zu\r\n"
                   "number_of_libraries:%zu\r\n"
                   "used_memory_vm_functions:%zu\r\n"
                   "used_memory_vm_total:%zu\r\n"
                   "used_memory_vm_total_human:%s\r\n"
                   "used_memory_functions:%zu\r\n"
                   "used_memory_scripts:%zu\r\n"
                   "used_memory_scripts_human:%s\r\n"
                   "maxmemory:%llu\r\n"
                   "maxmemory_human:%s\r\n"
                   "maxmemory_policy:%s\r\n"
                   "allocator_frag_ratio:%.2f\r\n"
                   "allocator_frag_bytes:%lld\r\n"
                   "allocator_rss_ratio:%.2f\r\n"
                   "allocator_rss_bytes:%lld\r\n"
                   "rss_overhead_ratio:%.2f\r\n"
                   "rss_overhead_bytes:%lld\r\n"
                   "mem_fragmentation_ratio:%.2f\r\n"
                   "mem_fragmentation_bytes:%lld\r\n"
                   "mem_not_counted_for_evict:%zu\r\n"
                   "mem_replication_backlog:%zu\r\n"
                   "mem_total_replication_buffers:%zu\r\n"
                   "mem_clients_slaves:%zu\r\n"
                   "mem_clients_normal:%zu\r\n"
                   "mem_cluster_links:0\r\n"
                   "mem_aof_buffer:%zu\r\n"
                   "mem_allocator:%s\r\n"
                   "active_defrag_running:%d\r\n"
                   "lazyfree_pending_objects:%zu\r\n"
                   "lazyfreed_objects:%zu\r\n",
                   used, used_h, rss, rss_h, peak, peak_h, peak ? 100.0 * (double)used / (double)peak : 0, overhead,
                   startup, dataset, used ? 100.0 * (double)dataset / (double)used : 0, allocated, active, resident,
                   total, total_h, lua, lua_h, lua, mo.lua_caches, script_eval_cached_count(), script_functions_count(),
                   script_libraries_count(), script_functions_vm_memory(), vm_total, vm_total_h, mo.functions_caches,
                   scripts, scripts_h, server.cfg.maxmemory, max_h,
                   config_maxmemory_policies[server.cfg.maxmemory_policy], alloc_frag,
                   (long long)active - (long long)allocated, active ? (double)resident / (double)active : 1,
                   (long long)resident - (long long)active, resident ? (double)rss / (double)resident : 1,
                   (long long)rss - (long long)resident, frag, (long long)rss - (long long)used,
                   server_memory_not_counted(), mo.repl_backlog, repl_buffer_memory(), mo.clients_replicas,
                   mo.clients_normal, mo.aof_buffer, alloc_name(), dfi.running, lazyfree_pending(), lazyfree_freed());
    return s;
}

static str section_stats(str s)
{
    str sync = repl_sync_stats(str_empty(96));
    defrag_info dfi;
    defrag_get_info(&dfi);
    long long grown, shrunk;
    rbuf_resizes(&grown, &shrunk);
    s = str_printf(
        s,
        "# Stats\r\n"
        "total_connections_received:%lld\r\n"
        "total_commands_processed:%lld\r\n"
        "instantaneous_ops_per_sec:%lld\r\n"
        "total_net_input_bytes:%lld\r\n"
        "total_net_output_bytes:%lld\r\n"
        "total_net_repl_input_bytes:%lld\r\n"
        "total_net_repl_output_bytes:%lld\r\n"
        "instantaneous_input_kbps:%.2f\r\n"
        "instantaneous_output_kbps:%.2f\r\n"
        "instantaneous_input_repl_kbps:%.2f\r\n"
        "instantaneous_output_repl_kbps:%.2f\r\n"
        "rejected_connections:%lld\r\n"
        "%s"
        "expired_keys:%lld\r\n"
        "expired_stale_perc:%.2f\r\n"
        "expired_time_cap_reached_count:%lld\r\n"
        "expire_cycle_cpu_milliseconds:%lld\r\n"
        "evicted_keys:%lld\r\n"
        "evicted_clients:%lld\r\n"
        "total_eviction_exceeded_time:%lld\r\n"
        "current_eviction_exceeded_time:%lld\r\n"
        "keyspace_hits:%lld\r\n"
        "keyspace_misses:%lld\r\n"
        "latest_fork_usec:%lld\r\n"
        "total_forks:%lld\r\n"
        "migrate_cached_sockets:%d\r\n"
        "slave_expires_tracked_keys:%zu\r\n"
        "active_defrag_hits:%lld\r\n"
        "active_defrag_misses:%lld\r\n"
        "active_defrag_key_hits:%lld\r\n"
        "active_defrag_key_misses:%lld\r\n"
        "total_active_defrag_time:%lld\r\n"
        "current_active_defrag_time:%lld\r\n"
        "client_query_buffer_limit_disconnections:%lld\r\n"
        "client_output_buffer_limit_disconnections:%lld\r\n"
        "unexpected_error_replies:%lld\r\n"
        "total_error_replies:%lld\r\n"
        "dump_payload_sanitizations:0\r\n"
        "total_reads_processed:%lld\r\n"
        "total_writes_processed:%lld\r\n"
        "io_threaded_reads_processed:%lld\r\n"
        "io_threaded_writes_processed:%lld\r\n"
        "reply_buffer_shrinks:%lld\r\n"
        "reply_buffer_expands:%lld\r\n"
        "io_uring_reads_processed:%lld\r\n"
        "io_uring_writes_processed:%lld\r\n"
        "acl_access_denied_auth:%lld\r\n"
        "acl_access_denied_cmd:%lld\r\n"
        "acl_access_denied_key:%lld\r\n"
        "acl_access_denied_channel:%lld\r\n"
        "acl_access_denied_tls_cert:%lld\r\n",
        server.stats.numconnections, server.stats.numcommands, (long long)(instant_rate(INSTANT_OPS) + 0.5),
        server.stats.net_input_bytes + server.stats.net_repl_input_bytes,
        server.stats.net_output_bytes + server.stats.net_repl_output_bytes, server.stats.net_repl_input_bytes,
        server.stats.net_repl_output_bytes, instant_rate(INSTANT_NET_INPUT) / 1024,
        instant_rate(INSTANT_NET_OUTPUT) / 1024, instant_rate(INSTANT_NET_REPL_INPUT) / 1024,
        instant_rate(INSTANT_NET_REPL_OUTPUT) / 1024, server.stats.rejected_conn, sync, server.stats.expiredkeys,
        server.stats.expired_stale_perc, server.stats.expire_cycle_cap_reached, server.stats.expire_cycle_us / 1000,
        server.stats.evictedkeys, server.stats.evicted_clients,
        server.stats.eviction_exceeded_ms + server_eviction_exceeded_current_ms(),
        server_eviction_exceeded_current_ms(), server.stats.keyspace_hits, server.stats.keyspace_misses,
        server.stats.latest_fork_usec, server.stats.total_forks, migrate_cached(), repl_tracked_expires(), dfi.hits,
        dfi.misses, dfi.key_hits, dfi.key_misses, dfi.total_ms, dfi.current_ms,
        server.stats.client_qbuf_limit_disconnections, server.stats.client_outbuf_limit_disconnections,
        server.stats.unexpected_error_replies, server.stats.total_error_replies, server.stats.reads_processed,
        server.stats.writes_processed, server.stats.io_threaded_reads, server.stats.io_threaded_writes, shrunk, grown,
        server.stats.io_uring_reads, server.stats.io_uring_writes, server.stats.acl_denied[ACL_DENIED_AUTH],
        server.stats.acl_denied[ACL_DENIED_CMD], server.stats.acl_denied[ACL_DENIED_KEY],
        server.stats.acl_denied[ACL_DENIED_CHANNEL], server.stats.acl_denied_tls_cert);
    str_free(sync);
    return info_stats_extra ? info_stats_extra(s) : s;
}

static str section_replication(str s)
{
    return repl_info(s);
}

static str cpu_line(str s, const char *name, const struct timeval *tv)
{
    return str_printf(s, "%s:%ld.%06ld\r\n", name, (long)tv->tv_sec, (long)tv->tv_usec);
}

/* INFO runs on the main thread, so RUSAGE_THREAD is the event loop's. */
static str section_cpu(str s)
{
    struct rusage self, children, main_thread;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &main_thread);
    s = str_append_cstr(s, "# CPU\r\n");
    s = cpu_line(s, "used_cpu_sys", &self.ru_stime);
    s = cpu_line(s, "used_cpu_user", &self.ru_utime);
    s = cpu_line(s, "used_cpu_sys_children", &children.ru_stime);
    s = cpu_line(s, "used_cpu_user_children", &children.ru_utime);
    s = cpu_line(s, "used_cpu_sys_main_thread", &main_thread.ru_stime);
    return cpu_line(s, "used_cpu_user_main_thread", &main_thread.ru_utime);
}

static str commandstat_line(str s, const char *name, const cmd_stats *st)
{
    if (!st->calls && !st->rejected_calls && !st->failed_calls) {
        return s;
    }
    size_t at = str_len(s);
    s = str_printf(s, "cmdstat_%s:calls=%lld,usec=%lld,usec_per_call=%.2f,rejected_calls=%lld,failed_calls=%lld\r\n",
                   name, st->calls, st->usec, st->calls ? (double)st->usec / (double)st->calls : 0.0,
                   st->rejected_calls, st->failed_calls);
    /* A module's command name may hold what INFO's format uses (':' and
     * line breaks): '_' instead, as Redis writes it. */
    for (size_t i = at + 8, n = strlen(name); i < at + 8 + n; i++) {
        if (s[i] == ':' || s[i] == '\r' || s[i] == '\n') {
            s[i] = '_';
        }
    }
    return s;
}

/* A container's subcommands appear as "cmdstat_client|setname", as in
 * Redis 7. */
static str section_commandstats(str s)
{
    s = str_append_cstr(s, "# Commandstats\r\n");
    for (int i = 0; i < cmd_count(); i++) {
        command *cmd = cmd_at(i);
        s = commandstat_line(s, cmd->name, &cmd->st);
        for (int j = 0; j < cmd->nsubs; j++) {
            s = commandstat_line(s, cmd->subs[j].name, &cmd->subs[j].st);
        }
    }
    return s;
}

static str section_keyspace(str s)
{
    s = str_append_cstr(s, "# Keyspace\r\n");
    for (int i = 0; i < server.cfg.databases; i++) {
        db *d = &server.dbs[i];
        if (db_size(d)) {
            s = str_printf(s, "db%d:keys=%zu,expires=%zu,avg_ttl=%lld\r\n", i, db_size(d), d->expires, d->avg_ttl);
        }
    }
    return s;
}

/* Redis's sections for modules (one line per loaded module) and cluster
 * mode (Keel is a standalone server): monitoring tools read
 * cluster_enabled. */
static str section_modules(str s)
{
    return module_info_lines(str_append_cstr(s, "# Modules\r\n"));
}

static str section_cluster(str s)
{
    return str_append_cstr(s, "# Cluster\r\ncluster_enabled:0\r\n");
}

static str section_latencystats(str s)
{
    return latency_info(str_append_cstr(s, "# Latencystats\r\n"));
}

typedef struct section {
    const char *name;
    str (*fn)(str s);
    int in_default;
} section;

static const section sections[] = {
    {"server", section_server, 1},
    {"clients", section_clients, 1},
    {"memory", section_memory, 1},
    {"persistence", persistence_info, 1},
    {"stats", section_stats, 1},
    {"replication", section_replication, 1},
    {"cpu", section_cpu, 1},
    {"modules", section_modules, 1},
    {"commandstats", section_commandstats, 0},
    {"errorstats", errorstats_info, 1},
    {"latencystats", section_latencystats, 0},
    {"cluster", section_cluster, 1},
    {"keyspace", section_keyspace, 1},
};

/* names: what INFO was given, each a section, "default", "all" or
 * "everything" (none means "default"). Every section asked for comes once,
 * in the fixed order above, however often or in whatever order it was
 * named, as Redis answers "INFO keyspace server" or "INFO cpu all". */
str info_generate(const sv *names, int n)
{
    enum { NSECTIONS = sizeof(sections) / sizeof(sections[0]) };
    unsigned char take[NSECTIONS] = {0};
    for (int j = 0; j < (n ? n : 1); j++) {
        sv name = n ? names[j] : (sv){"default", 7};
        int every = sv_eq_ci(name, "all") || sv_eq_ci(name, "everything");
        int dflt = sv_eq_ci(name, "default");
        for (size_t i = 0; i < NSECTIONS; i++) {
            take[i] |= every || (dflt && sections[i].in_default) || sv_eq_ci(name, sections[i].name);
        }
    }
    used_before_info = alloc_used();
    str s = str_empty(4096);
    for (size_t i = 0; i < NSECTIONS; i++) {
        if (!take[i]) {
            continue;
        }
        if (str_len(s)) {
            s = str_append_cstr(s, "\r\n");
        }
        s = sections[i].fn(s);
    }
    return s;
}
