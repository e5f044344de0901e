/* config: every directive in one table with its type, bounds, default and
 * whether CONFIG SET may change it at runtime. The same table reads
 * redis.conf-style files, command-line --name value pairs, CONFIG GET and
 * CONFIG SET, so the four cannot disagree. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "db/evict.h"
#include "module/module.h"
#include "net/tls.h"
#include "net/uring.h"
#include "persist/aof.h"
#include "repl/repl.h"
#include "server/metrics.h"
#include "server/oom_score.h"
#include "server/proctitle.h"
#include "server/server.h"
#include "server/slowlog.h"
#include "server/supervise.h"
#include "server/tls_server.h"
#include "server/watchdog.h"
#include "types/stream_idmp.h"

/* CFG_MEM holds a long long, CFG_UMEM an unsigned one (maxmemory and
 * cluster-link-sendbuf-limit, unsigned in Redis too). */
enum { CFG_BOOL, CFG_INT, CFG_LL, CFG_MEM, CFG_UMEM, CFG_STR, CFG_ENUM, CFG_SPECIAL };

/* flags: CONFIG SET needs enable-protected-configs to allow the client;
 * a hidden (debug) parameter answers CONFIG GET only when named exactly,
 * never a glob, as in Redis; CONFIG SET refuses a deny-loading one with
 * -LOADING while a data set loads (sync or async). */
enum { CFG_PROTECTED = 1, CFG_HIDDEN = 2, CFG_DENY_LOADING = 4 };

/* A directive's words and the value each stands for, in Redis's order
 * (its error text lists them so). Words may share a value: CONFIG GET
 * shows the first one (oom-score-adj "relative" reads back "yes"). */
typedef struct config_enum {
    const char *name;
    int val;
    int unlisted; /* accepted, but not named in the error text */
} config_enum;

typedef struct config_def config_def;
struct config_def {
    const char *name;
    const char *alias;
    int type;
    void *ptr;
    long long min, max;
    const char *dflt;
    int mutable_;
    const config_enum *enums;
    /* CFG_SPECIAL: parse into the server struct / render back. CFG_STR
     * and CFG_BOOL: set, when given, only checks a value before it is
     * stored. */
    int (*set)(const char *val, char *err, size_t errlen);
    str (*get)(void);
    /* Called after a successful change (runtime or start-up). */
    void (*apply)(void);
    int flags; /* CFG_PROTECTED, CFG_HIDDEN, CFG_DENY_LOADING */
};

static const config_enum enum_yes_no[] = {{"no", 0}, {"yes", 1}, {NULL, 0}};
static const config_enum enum_debug[] = {{"no", 0}, {"yes", 1}, {"local", 2}, {NULL, 0}};
/* "nothing" is Redis 7.2's; the error text stays 7.0's. */
static const config_enum enum_loglevel[] = {{"debug", LOG_DEBUG},        {"verbose", LOG_VERBOSE},
                                            {"notice", LOG_NOTICE},      {"warning", LOG_WARNING},
                                            {"nothing", LOG_NOTHING, 1}, {NULL, 0}};
/* Index order is the eviction module's policy numbering. The LRM ones are
 * Redis 8.6's; the error text stays 7.0's (as for loglevel nothing). */
const char *const config_maxmemory_policies[] = {
    "noeviction",   "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu", "allkeys-random", "volatile-random",
    "volatile-ttl", "allkeys-lrm", "volatile-lrm", NULL};
static const config_enum enum_maxmemory_policy[] = {{"volatile-lru", 2},
                                                    {"volatile-lfu", 4},
                                                    {"volatile-random", 6},
                                                    {"volatile-ttl", 7},
                                                    {"allkeys-lru", 1},
                                                    {"allkeys-lfu", 3},
                                                    {"allkeys-random", 5},
                                                    {"noeviction", 0},
                                                    {"allkeys-lrm", 8, 1},
                                                    {"volatile-lrm", 9, 1},
                                                    {NULL, 0}};
/* auto: io_uring where the kernel allows it, else epoll. */
static const config_enum enum_io_backend[] = {
    {"auto", IO_BACKEND_AUTO}, {"epoll", IO_BACKEND_EPOLL}, {"uring", IO_BACKEND_URING}, {NULL, 0}};
/* Stored as the word itself (persist/aof.c reads it). */
static const config_enum enum_appendfsync[] = {{"everysec", 0}, {"always", 1}, {"no", 2}, {NULL, 0}};
static const config_enum enum_diskless_load[] = {{"disabled", 0}, {"on-empty-db", 1}, {"swapdb", 2}, {NULL, 0}};
/* Keel validates every payload in full whatever this says (Redis's "yes");
 * the setting is kept so Redis configurations load and read back. */
static const config_enum enum_sanitize[] = {{"no", 0}, {"yes", 1}, {"clients", 2}, {NULL, 0}};
static const config_enum enum_pubsub_default[] = {{"allchannels", 1}, {"resetchannels", 0}, {NULL, 0}};
static const config_enum enum_oom_score_adj[] = {{"no", 0}, {"yes", 1}, {"relative", 1}, {"absolute", 2}, {NULL, 0}};
static const config_enum enum_tls_auth[] = {
    {"no", TLS_AUTH_NO}, {"yes", TLS_AUTH_YES}, {"optional", TLS_AUTH_OPTIONAL}, {NULL, 0}};
static const config_enum enum_tls_auth_user[] = {{"off", 0}, {"CN", 1}, {NULL, 0}};

static const config_enum *enum_find(const config_enum *e, const char *val)
{
    for (; e->name; e++) {
        if (strcasecmp(e->name, val) == 0) {
            return e;
        }
    }
    return NULL;
}

/* The word CONFIG GET shows for a value: the first that stands for it. */
static const char *enum_name(const config_enum *e, int val)
{
    for (; e->name; e++) {
        if (e->val == val) {
            return e->name;
        }
    }
    return "";
}

/* Redis's text for a value outside a directive's choices. */
static void enum_error(const config_enum *e, char *err, size_t errlen)
{
    str all = str_empty(64);
    for (; e->name; e++) {
        if (!e->unlisted) {
            all = str_printf(all, "%s%s", str_len(all) ? ", " : "", e->name);
        }
    }
    snprintf(err, errlen, "argument(s) must be one of the following: %s", all);
    str_free(all);
}

/* 1 for yes, 0 for no (any case), -1 for anything else. */
static int yes_no(const char *val)
{
    const config_enum *e = enum_find(enum_yes_no, val);
    return e ? e->val : -1;
}

/* A memory value as Redis reads one: digits and an optional unit (b, k,
 * kb, m, mb, g, gb, in any case). No digits at all is 0, so "" sets 0; a
 * number past 2^64-1 saturates and the unit's product wraps, both as in
 * Redis, so that its bounds checks answer the same. */
static int parse_memory(const char *s, unsigned long long *out)
{
    static const struct {
        const char *unit;
        unsigned long long mul;
    } units[] = {{"", 1},
                 {"b", 1},
                 {"k", 1000},
                 {"kb", 1024},
                 {"m", 1000 * 1000},
                 {"mb", 1024 * 1024},
                 {"g", 1000ULL * 1000 * 1000},
                 {"gb", 1ULL << 30}};
    const char *u = s;
    while (isdigit((unsigned char)*u)) {
        u++;
    }
    if (u - s >= 128) {
        return 0; /* Redis copies the digits into 128 bytes */
    }
    unsigned long long mul = 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && !mul; i++) {
        if (strcasecmp(u, units[i].unit) == 0) {
            mul = units[i].mul;
        }
    }
    if (!mul) {
        return 0;
    }
    unsigned long long v = 0;
    for (const char *p = s; p < u; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10) {
            v = ULLONG_MAX;
            break;
        }
        v = v * 10 + d;
    }
    *out = v * mul;
    return 1;
}

/* A multi-word value's words, split at every single space as Redis splits
 * them ("a  b" has an empty word between; "" has none). The words point
 * into one copy of val: free words[0] when n > 0, then words. */
static char **split_words(const char *val, int *n)
{
    size_t len = strlen(val);
    int count = len ? 1 : 0;
    for (const char *p = val; *p; p++) {
        count += *p == ' ';
    }
    char **words = alloc_mem(sizeof(char *) * (size_t)(count + 1));
    char *copy = alloc_strdup(val);
    for (int i = 0; i < count; i++) {
        words[i] = copy;
        char *sp = strchr(copy, ' ');
        if (sp) {
            *sp = '\0';
            copy = sp + 1;
        }
    }
    if (!count) {
        alloc_free(copy);
    }
    *n = count;
    return words;
}

static void free_words(char **words, int n)
{
    if (n > 0) {
        alloc_free(words[0]);
    }
    alloc_free(words);
}

/* ---- special directives ---- */

/* Printed as Redis 7.0 prints them ("slave"); both names are read. */
static const char *obuf_class_names[] = {"normal", "slave", "pubsub"};

/* client-output-buffer-limit: groups of <class> <hard> <soft> <seconds>,
 * checked group by group with Redis's words before any applies; "" is no
 * group and changes nothing, as in Redis. */
static int set_obuf(const char *val, char *err, size_t errlen)
{
    int n;
    char **w = split_words(val, &n);
    const char *bad = n % 4 ? "Wrong number of arguments in buffer limit configuration." : NULL;
    obuf_limit tmp[OBUF_CLASSES];
    memcpy(tmp, server.cfg.obuf, sizeof(tmp));
    for (int i = 0; !bad && i < n; i += 4) {
        int cls = -1;
        if (strcasecmp(w[i], "normal") == 0) {
            cls = OBUF_NORMAL;
        } else if (strcasecmp(w[i], "replica") == 0 || strcasecmp(w[i], "slave") == 0) {
            cls = OBUF_REPLICA;
        } else if (strcasecmp(w[i], "pubsub") == 0) {
            cls = OBUF_PUBSUB;
        }
        unsigned long long hard, soft;
        char *end;
        /* strtoll cut to an int, as Redis reads the seconds */
        int secs = (int)strtoll(w[i + 3], &end, 10);
        if (cls < 0) {
            bad = "Invalid client class specified in buffer limit configuration.";
        } else if (!parse_memory(w[i + 1], &hard) || !parse_memory(w[i + 2], &soft) || secs < 0 || *end) {
            bad = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        } else {
            tmp[cls] = (obuf_limit){hard, soft, secs};
        }
    }
    free_words(w, n);
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        return -1;
    }
    memcpy(server.cfg.obuf, tmp, sizeof(tmp));
    server.cfg.obuf_floor = SIZE_MAX;
    for (int i = 0; i < OBUF_CLASSES; i++) {
        unsigned long long lim[2] = {tmp[i].hard, tmp[i].soft};
        for (int j = 0; j < 2; j++) {
            if (lim[j] && lim[j] < server.cfg.obuf_floor) {
                server.cfg.obuf_floor = (size_t)lim[j];
            }
        }
    }
    return 0;
}

static str get_obuf(void)
{
    str s = str_empty(64);
    for (int i = 0; i < OBUF_CLASSES; i++) {
        obuf_limit *l = &server.cfg.obuf[i];
        s = str_printf(s, "%s%s %llu %llu %lld", i ? " " : "", obuf_class_names[i], l->hard, l->soft, l->soft_seconds);
    }
    return s;
}

/* notify-keyspace-events letters <-> flags */
static int notify_parse(const char *s)
{
    int flags = 0;
    for (; *s; s++) {
        switch (*s) {
        case 'A': flags |= NOTIFY_ALL; break;
        case 'g': flags |= NOTIFY_GENERIC; break;
        case '$': flags |= NOTIFY_STRING; break;
        case 'l': flags |= NOTIFY_LIST; break;
        case 's': flags |= NOTIFY_SET; break;
        case 'h': flags |= NOTIFY_HASH; break;
        case 'z': flags |= NOTIFY_ZSET; break;
        case 'x': flags |= NOTIFY_EXPIRED; break;
        case 'e': flags |= NOTIFY_EVICTED; break;
        case 'K': flags |= NOTIFY_KEYSPACE; break;
        case 'E': flags |= NOTIFY_KEYEVENT; break;
        case 't': flags |= NOTIFY_STREAM; break;
        case 'm': flags |= NOTIFY_KEY_MISS; break;
        case 'd': flags |= NOTIFY_MODULE; break;
        case 'n': flags |= NOTIFY_NEW; break;
        default: return -1;
        }
    }
    return flags;
}

/* dir: the server works in it (snapshots are written there), so at run
 * time setting it changes directory, and fails as Redis does when that is
 * impossible. At start-up main() changes to it after reading the config. */
static int set_dir(const char *val, char *err, size_t errlen)
{
    if (server.loop && chdir(val) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    alloc_free(server.cfg.dir);
    server.cfg.dir = alloc_strdup(val);
    return 0;
}

static str get_dir(void)
{
    char buf[PATH_MAX];
    if (server.loop && getcwd(buf, sizeof(buf))) {
        return str_new(buf, strlen(buf));
    }
    const char *d = server.cfg.dir ? server.cfg.dir : "";
    return str_new(d, strlen(d));
}

/* replicaof: "host port" at start-up; CONFIG GET (and REWRITE) show the
 * primary REPLICAOF set last. */
static int set_replicaof(const char *val, char *err, size_t errlen)
{
    char host[256];
    int port;
    if (val[0] && (sscanf(val, "%255s %d", host, &port) != 2 || port < 0 || port > 65535)) {
        snprintf(err, errlen, "Invalid master port");
        return -1;
    }
    alloc_free(server.cfg.replicaof);
    server.cfg.replicaof = alloc_strdup(val);
    return 0;
}

static str get_replicaof(void)
{
    if (!server.loop) {
        const char *v = server.cfg.replicaof ? server.cfg.replicaof : "";
        return str_new(v, strlen(v));
    }
    return repl_primary_config(str_empty(32));
}

/* dbfilename: a name inside dir, never a path (as Redis insists). */
static int set_dbfilename(const char *val, char *err, size_t errlen)
{
    if (strchr(val, '/')) {
        snprintf(err, errlen, "dbfilename can't be a path, just a filename");
        return -1;
    }
    alloc_free(server.cfg.dbfilename);
    server.cfg.dbfilename = alloc_strdup(val);
    return 0;
}

static str get_dbfilename(void)
{
    const char *d = server.cfg.dbfilename ? server.cfg.dbfilename : "";
    return str_new(d, strlen(d));
}

/* A percentile as Redis's string2d reads it: all of the word a number
 * (no leading space, not NaN, not out of range but for infinity). */
static int parse_percentile(const char *w, double *out)
{
    if (!*w || isspace((unsigned char)*w)) {
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(w, &end);
    if (*end || isnan(v) || (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0))) {
        return 0;
    }
    *out = v;
    return 1;
}

/* latency-tracking-info-percentiles: any number of percentiles in
 * [0, 100], one per word; "" is none. */
static int set_percentiles(const char *val, char *err, size_t errlen)
{
    int n;
    char **w = split_words(val, &n);
    double *v = alloc_mem(sizeof(double) * (size_t)(n + 1));
    const char *bad = NULL;
    for (int i = 0; i < n && !bad; i++) {
        if (!parse_percentile(w[i], &v[i])) {
            bad = "Invalid latency-tracking-info-percentiles parameters";
        } else if (v[i] < 0 || v[i] > 100) {
            bad = "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
        }
    }
    free_words(w, n);
    if (bad) {
        alloc_free(v);
        snprintf(err, errlen, "%s", bad);
        return -1;
    }
    alloc_free(server.cfg.latency_percentiles);
    server.cfg.latency_percentiles = v;
    server.cfg.latency_percentiles_n = n;
    return 0;
}

/* Each as Redis prints it: six decimals, then trailing zeros and a
 * trailing point dropped (99.99999999 shows as 100). */
static str get_percentiles(void)
{
    str s = str_empty(32);
    for (int i = 0; i < server.cfg.latency_percentiles_n; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof(buf), "%f", server.cfg.latency_percentiles[i]);
        while (len > 0 && buf[len - 1] == '0') {
            len--;
        }
        if (len > 0 && buf[len - 1] == '.') {
            len--;
        }
        s = str_printf(s, "%s%.*s", i ? " " : "", len, buf);
    }
    return s;
}

static int set_notify(const char *val, char *err, size_t errlen)
{
    int f = notify_parse(val);
    if (f < 0) {
        snprintf(err, errlen, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
        return -1;
    }
    server.cfg.notify_keyspace_events = f;
    return 0;
}

/* Redis's canonical order: "A" or the type classes, "n", then K, E, m.
 * Redis 7.0 leaves "n" out after "A" though the class stays on (a bug
 * fixed later); Keel prints it. */
static str get_notify(void)
{
    int f = server.cfg.notify_keyspace_events;
    str s = str_empty(16);
    if ((f & NOTIFY_ALL) == NOTIFY_ALL) {
        s = str_append_cstr(s, "A");
    } else {
        static const struct {
            int flag;
            char c;
        } m[] = {{NOTIFY_GENERIC, 'g'}, {NOTIFY_STRING, '$'}, {NOTIFY_LIST, 'l'},    {NOTIFY_SET, 's'},
                 {NOTIFY_HASH, 'h'},    {NOTIFY_ZSET, 'z'},   {NOTIFY_EXPIRED, 'x'}, {NOTIFY_EVICTED, 'e'},
                 {NOTIFY_STREAM, 't'},  {NOTIFY_MODULE, 'd'}};
        for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
            if (f & m[i].flag) {
                s = str_append(s, &m[i].c, 1);
            }
        }
    }
    if (f & NOTIFY_NEW) {
        s = str_append_cstr(s, "n");
    }
    if (f & NOTIFY_KEYSPACE) {
        s = str_append_cstr(s, "K");
    }
    if (f & NOTIFY_KEYEVENT) {
        s = str_append_cstr(s, "E");
    }
    if (f & NOTIFY_KEY_MISS) {
        s = str_append_cstr(s, "m");
    }
    return s;
}

/* At once, as Redis arms it (at start-up the first cron tick does). */
static void apply_watchdog(void)
{
    if (server.loop) {
        watchdog_cron();
    }
}

static void apply_loglevel(void)
{
    log_set_level(server.cfg.loglevel);
}

static void apply_lfu(void)
{
    int pol = server.cfg.maxmemory_policy;
    db_set_lfu(pol == EVICT_ALLKEYS_LFU || pol == EVICT_VOLATILE_LFU, server.cfg.lfu_log_factor,
               server.cfg.lfu_decay_time);
    db_set_lrm(pol == EVICT_ALLKEYS_LRM || pol == EVICT_VOLATILE_LRM);
}

/* Redis accepts any hz and clamps it, so scripts that set 0 keep working. */
static void apply_hz(void)
{
    if (server.cfg.hz < 1) {
        server.cfg.hz = 1;
    } else if (server.cfg.hz > 500) {
        server.cfg.hz = 500;
    }
}

/* main sets it once the loop exists; this handles CONFIG SET. */
/* appendonly at run time starts (a rewrite makes the base) or stops the
 * log; at start-up the server decides what to load instead. */
static void apply_appendonly(void)
{
    if (!server.loop) {
        return;
    }
    if (server.cfg.appendonly) {
        if (aof_enable() < 0) {
            server.cfg.appendonly = 0;
        }
    } else {
        aof_disable();
    }
}

/* Redis's smallest backlog: a smaller CONFIG SET reads back as this. */
#define BACKLOG_MIN_SIZE 16384

static void apply_backlog_size(void)
{
    if (server.loop && server.cfg.repl_backlog_size < BACKLOG_MIN_SIZE) {
        server.cfg.repl_backlog_size = BACKLOG_MIN_SIZE;
    }
    repl_backlog_resized();
}

static void apply_busy_poll(void)
{
    if (server.loop) {
        ev_set_busy_poll(server.loop, server.cfg.busy_poll_us);
    }
}

/* What new streams start with (types/ knows nothing of the config). */
static void apply_stream_idmp(void)
{
    stream_idmp_default_duration = (uint32_t)server.cfg.stream_idmp_duration;
    stream_idmp_default_maxsize = (uint32_t)server.cfg.stream_idmp_maxsize;
}

/* Runs once, right after the command that lowered the limit. */
static long evict_after_config(ev_loop *l, long long id, void *data)
{
    (void)l;
    (void)id;
    (void)data;
    server_over_memory();
    return -1;
}

/* A limit below what is in use evicts right after CONFIG SET (as Redis,
 * from a timer: not inside the command, whose MULTI or script would wrap
 * the DELs), not at the next write. */
static void apply_maxmemory(void)
{
    if (!server.loop || server.cfg.maxmemory == 0) {
        return;
    }
    size_t used = alloc_used();
    if ((unsigned long long)server.cfg.maxmemory < used) {
        log_msg(LOG_WARNING,
                "WARNING: the new maxmemory value set via CONFIG SET (%llu) is smaller than the current memory usage "
                "(%zu). This will result in key eviction and/or the inability to accept new write commands depending "
                "on the maxmemory-policy.",
                (unsigned long long)server.cfg.maxmemory, used);
    }
    ev_timer_add(server.loop, 0, evict_after_config, NULL);
}

/* The value stays as set (up to 2^32-1, as in Redis); the loop grows only
 * as far as the fd limit lets descriptors go. */
static void apply_maxclients(void)
{
    int want = server_loop_size();
    if (server.loop && ev_setsize(server.loop) < want) {
        ev_resize(server.loop, want);
    }
}

/* The TLS files and context settings: a change is applied once per CONFIG
 * SET (config_commit), since a new certificate and its key are only
 * valid together. At start-up main configures TLS after reading them. */
static int tls_dirty;

static void apply_tls(void)
{
    if (server.loop) {
        tls_dirty = 1;
    }
}

int config_commit(char *err, size_t errlen)
{
    if (!tls_dirty) {
        return 0;
    }
    tls_dirty = 0;
    if (!tls_server_wanted()) {
        return 0;
    }
    char why[512];
    if (tls_server_configure(why, sizeof(why)) < 0) {
        log_msg(LOG_WARNING, "%s", why);
        snprintf(err, errlen, "Unable to update TLS configuration. Check server logs.");
        return -1;
    }
    return 0;
}

void config_commit_abandon(void)
{
    tls_dirty = 0;
}

/* requirepass and masterauth: binary-safe (a password may hold a NUL, as
 * in Redis), kept as str; config_set_len sets them from any bytes. */
static void set_password(str *field, const char *val, size_t len)
{
    str_free(*field);
    *field = str_new(val, len);
    if (field == &server.cfg.requirepass) {
        acl_apply_requirepass();
    }
}

static int set_requirepass(const char *val, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    set_password(&server.cfg.requirepass, val, strlen(val));
    return 0;
}

static str get_requirepass(void)
{
    return str_new(server.cfg.requirepass, server.cfg.requirepass ? str_len(server.cfg.requirepass) : 0);
}

static int set_masterauth(const char *val, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    set_password(&server.cfg.masterauth, val, strlen(val));
    return 0;
}

static str get_masterauth(void)
{
    return str_new(server.cfg.masterauth, server.cfg.masterauth ? str_len(server.cfg.masterauth) : 0);
}

/* A port number as CONFIG SET takes one: 0 with *port, or -1 with the
 * error. */
static int parse_port(const char *val, int *port, char *err, size_t errlen)
{
    long long v;
    if (!util_parse_ll(val, strlen(val), &v)) {
        snprintf(err, errlen, "argument couldn't be parsed into an integer");
        return -1;
    }
    if (v < 0 || v > 65535) {
        snprintf(err, errlen, "argument must be between 0 and 65535 inclusive");
        return -1;
    }
    *port = (int)v;
    return 0;
}

/* port and bind: at run time the listeners move (as in Redis). */
static int set_port(const char *val, char *err, size_t errlen)
{
    int port;
    if (parse_port(val, &port, err, errlen) < 0) {
        return -1;
    }
    if (!server.loop) {
        server.cfg.port = port;
        return 0;
    }
    return server_set_listen(port, server.cfg.bind ? server.cfg.bind : "", err, errlen);
}

static str get_port(void)
{
    return str_from_ll(server.cfg.port);
}

static int set_bind(const char *val, char *err, size_t errlen)
{
    /* Words separated by single spaces, as CONFIG GET shows them. */
    str norm = str_empty(64);
    const char *p = val;
    while (*p) {
        while (*p == ' ') {
            p++;
        }
        size_t n = strcspn(p, " ");
        if (n) {
            norm = str_append(str_len(norm) ? str_append(norm, " ", 1) : norm, p, n);
        }
        p += n;
    }
    int rc = 0;
    if (!server.loop) {
        alloc_free(server.cfg.bind);
        server.cfg.bind = alloc_strdup(norm);
    } else {
        rc = server_set_listen(server.cfg.port, norm, err, errlen);
    }
    str_free(norm);
    return rc;
}

static str get_bind(void)
{
    return str_append_cstr(str_empty(32), server.cfg.bind ? server.cfg.bind : "");
}

/* metrics-port and metrics-bind: at run time the endpoint moves. */
static int set_metrics_port(const char *val, char *err, size_t errlen)
{
    int port;
    if (parse_port(val, &port, err, errlen) < 0) {
        return -1;
    }
    if (!server.loop) {
        server.cfg.metrics_port = port;
        return 0;
    }
    return metrics_move(port, server.cfg.metrics_bind ? server.cfg.metrics_bind : "", err, errlen);
}

static str get_metrics_port(void)
{
    return str_from_ll(server.cfg.metrics_port);
}

static int set_metrics_bind(const char *val, char *err, size_t errlen)
{
    if (!server.loop) {
        alloc_free(server.cfg.metrics_bind);
        server.cfg.metrics_bind = alloc_strdup(val);
        return 0;
    }
    return metrics_move(server.cfg.metrics_port, val, err, errlen);
}

static str get_metrics_bind(void)
{
    return str_append_cstr(str_empty(32), server.cfg.metrics_bind ? server.cfg.metrics_bind : "");
}

/* io-backend: at run time the ring is opened or closed between two
 * batches (no operation is ever left in flight across them). */
static int set_io_backend(const char *val, char *err, size_t errlen)
{
    const config_enum *e = enum_find(enum_io_backend, val);
    if (!e) {
        enum_error(enum_io_backend, err, errlen);
        return -1;
    }
    if (server.loop) {
        if (e->val == IO_BACKEND_EPOLL) {
            uring_close();
        } else {
            int rc = uring_open();
            if (rc < 0 && e->val == IO_BACKEND_URING) {
                snprintf(err, errlen, "the kernel refuses io_uring (%s)", strerror(-rc));
                return -1;
            }
        }
    }
    server.cfg.io_backend = e->val;
    return 0;
}

static str get_io_backend(void)
{
    const char *name = enum_name(enum_io_backend, server.cfg.io_backend);
    return str_new(name, strlen(name));
}

/* tls-port: at run time the listeners move (Redis rebinds too). */
static int set_tls_port(const char *val, char *err, size_t errlen)
{
    int port;
    if (parse_port(val, &port, err, errlen) < 0) {
        return -1;
    }
    if (!server.loop) {
        server.cfg.tls_port = port;
        return 0;
    }
    return tls_server_set_port(port, err, errlen);
}

static str get_tls_port(void)
{
    return str_from_ll(server.cfg.tls_port);
}

/* shutdown-on-sigint / shutdown-on-sigterm: any of default (no flag),
 * save, nosave, now, force (not save with nosave), as SHUTDOWN's flags. */
static const config_enum shutdown_words[] = {
    {"default", 0},        {"save", SHUTDOWN_SAVE},   {"nosave", SHUTDOWN_NOSAVE},
    {"now", SHUTDOWN_NOW}, {"force", SHUTDOWN_FORCE}, {NULL, 0}};

static int parse_shutdown_flags(const char *val, int *out, char *err, size_t errlen)
{
    int flags = 0, words = 0;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", val);
    for (char *save, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        const config_enum *e = enum_find(shutdown_words, w);
        if (!e) {
            enum_error(shutdown_words, err, errlen);
            return -1;
        }
        words++;
        flags |= e->val;
    }
    if (words == 0) {
        enum_error(shutdown_words, err, errlen);
        return -1;
    }
    if ((flags & SHUTDOWN_SAVE) && (flags & SHUTDOWN_NOSAVE)) {
        snprintf(err, errlen, "shutdown options SAVE and NOSAVE can't be used simultaneously");
        return -1;
    }
    *out = flags;
    return 0;
}

/* The flags' words in Redis's order, or "default" for none. */
static str shutdown_flags_text(int flags)
{
    str s = str_empty(32);
    for (int i = 1; shutdown_words[i].name; i++) {
        if (flags & shutdown_words[i].val) {
            s = str_printf(s, "%s%s", str_len(s) ? " " : "", shutdown_words[i].name);
        }
    }
    return str_len(s) ? s : str_append_cstr(s, "default");
}

static int set_shutdown_on_sigint(const char *val, char *err, size_t errlen)
{
    return parse_shutdown_flags(val, &server.cfg.shutdown_on_sigint, err, errlen);
}

static str get_shutdown_on_sigint(void)
{
    return shutdown_flags_text(server.cfg.shutdown_on_sigint);
}

static int set_shutdown_on_sigterm(const char *val, char *err, size_t errlen)
{
    return parse_shutdown_flags(val, &server.cfg.shutdown_on_sigterm, err, errlen);
}

static str get_shutdown_on_sigterm(void)
{
    return shutdown_flags_text(server.cfg.shutdown_on_sigterm);
}

static const config_enum enum_supervised[] = {{"upstart", SUPERVISED_UPSTART},
                                              {"systemd", SUPERVISED_SYSTEMD},
                                              {"auto", SUPERVISED_AUTO},
                                              {"no", SUPERVISED_NO},
                                              {NULL, 0}};
/* The value is the index log_set_syslog takes. */
static const config_enum enum_syslog_facility[] = {{"user", 0},   {"local0", 1}, {"local1", 2}, {"local2", 3},
                                                   {"local3", 4}, {"local4", 5}, {"local5", 6}, {"local6", 7},
                                                   {"local7", 8}, {NULL, 0}};

static void apply_syslog(void)
{
    log_set_syslog(server.cfg.syslog_enabled, server.cfg.syslog_ident, server.cfg.syslog_facility);
}

/* Redis 7.0 directives of features Keel does not have, or has in its own
 * way: accepted and shown by CONFIG GET with Redis's types and defaults,
 * so a redis.conf moves over unchanged, but they change nothing (the
 * cluster ones change nothing in a standalone Redis either). README.md
 * lists them. */
static struct {
    long long socket_mark_id, cluster_node_timeout;
    unsigned long long cluster_link_sendbuf_limit;
    int aof_disable_auto_gc, crash_log, crash_memcheck;
    char *ignore_warnings, *server_cpulist, *bio_cpulist, *aof_rewrite_cpulist, *bgsave_cpulist;
    int cluster_port, cluster_announce_port, cluster_announce_bus_port, cluster_announce_tls_port;
    int cluster_require_full_coverage, cluster_replica_no_failover, cluster_replica_validity_factor;
    int cluster_migration_barrier, cluster_allow_replica_migration, cluster_allow_reads_when_down;
    int cluster_allow_pubsubshard_when_down, cluster_preferred_endpoint_type;
    char *cluster_config_file, *cluster_announce_ip, *cluster_announce_hostname;
} inert;

#define I(field) (&inert.field)

static const config_enum enum_propagation_error[] = {{"ignore", PROPAGATION_ERR_IGNORE},
                                                     {"panic", PROPAGATION_ERR_PANIC},
                                                     {"panic-on-replicas", PROPAGATION_ERR_PANIC_ON_REPLICAS},
                                                     {NULL, 0}};
static const config_enum enum_endpoint_type[] = {{"ip", 0}, {"hostname", 1}, {"unknown-endpoint", 2}, {NULL, 0}};

/* activedefrag: Keel moves blocks by asking the stock jemalloc where they
 * sit (base/alloc.h), so it needs no patched allocator; a build on another
 * allocator (the sanitizer build) refuses "yes" with Redis's words. */
static int check_activedefrag(const char *val, char *err, size_t errlen)
{
    if (yes_no(val) == 1 && !alloc_defrag_supported()) {
        snprintf(err, errlen,
                 "Active defragmentation cannot be enabled: it requires a Redis server compiled with a "
                 "modified Jemalloc like the one shipped by default with the Redis source distribution");
        return -1;
    }
    return 0;
}

/* cluster-enabled: Keel has no cluster mode, so only "no". */
static int set_cluster_enabled(const char *val, char *err, size_t errlen)
{
    int i = yes_no(val);
    if (i != 0) {
        snprintf(err, errlen,
                 i < 0 ? "argument must be 'yes' or 'no'"
                       : "Keel has no cluster mode: shard with twemproxy (docs/SCALING.md)");
        return -1;
    }
    return 0;
}

static str get_cluster_enabled(void)
{
    return str_new("no", 2);
}

/* maxmemory-clients: bytes, or "N%" of maxmemory, as Redis reads it.
 * Redis keeps a percent as a negative number in the same signed field, so
 * a byte count past 2^63 reads as a percent there; that is mirrored. */
static int set_maxmemory_clients(const char *val, char *err, size_t errlen)
{
    size_t len = strlen(val);
    unsigned long long bytes;
    long long v;
    if (parse_memory(val, &bytes)) {
        v = (long long)bytes;
    } else if (len > 1 && val[len - 1] == '%' && util_parse_ll(val, len - 1, &v) && v >= 0) {
        v = -v;
    } else {
        snprintf(err, errlen, "argument must be a memory or percent value");
        return -1;
    }
    if (v < -100) {
        snprintf(err, errlen, "percentage argument must be less or equal to 100");
        return -1;
    }
    server.cfg.maxmemory_clients = v < 0 ? 0 : v;
    server.cfg.maxmemory_clients_perc = v < 0 ? (int)-v : 0;
    return 0;
}

static str get_maxmemory_clients(void)
{
    if (server.cfg.maxmemory_clients_perc) {
        return str_printf(str_empty(8), "%d%%", server.cfg.maxmemory_clients_perc);
    }
    return str_from_ll(server.cfg.maxmemory_clients);
}

/* oom-score-adj-values: three integers in [-2000, 2000] (for the primary,
 * replicas and background children); shown as plain numbers. */
static int set_oom_values(const char *val, char *err, size_t errlen)
{
    int n;
    char **w = split_words(val, &n);
    long long v[3];
    const char *bad = n != 3 ? "wrong number of arguments" : NULL;
    for (int i = 0; !bad && i < 3; i++) {
        char *end;
        v[i] = strtoll(w[i], &end, 10);
        if (*end || v[i] < -2000 || v[i] > 2000) {
            bad = "Invalid oom-score-adj-values, elements must be between -2000 and 2000.";
        }
    }
    free_words(w, n);
    if (bad) {
        snprintf(err, errlen, "%s", bad);
        return -1;
    }
    char *old = server.cfg.oom_score_adj_values;
    server.cfg.oom_score_adj_values = alloc_mem(64);
    snprintf(server.cfg.oom_score_adj_values, 64, "%lld %lld %lld", v[0], v[1], v[2]);
    if (server.loop && oom_score_apply(OOM_CLASS_CURRENT) < 0) {
        alloc_free(server.cfg.oom_score_adj_values);
        server.cfg.oom_score_adj_values = old;
        snprintf(err, errlen, "Failed to set current oom_score_adj. Check server logs.");
        return -1;
    }
    alloc_free(old);
    return 0;
}

/* oom-score-adj: applied at once; a score the kernel refuses leaves the
 * mode as it was. */
static int set_oom_mode(const char *val, char *err, size_t errlen)
{
    const config_enum *e = enum_find(enum_oom_score_adj, val);
    if (!e) {
        enum_error(enum_oom_score_adj, err, errlen);
        return -1;
    }
    char *old = server.cfg.oom_score_adj;
    server.cfg.oom_score_adj = alloc_strdup(enum_name(enum_oom_score_adj, e->val));
    if (server.loop && oom_score_apply(OOM_CLASS_CURRENT) < 0) {
        alloc_free(server.cfg.oom_score_adj);
        server.cfg.oom_score_adj = old;
        oom_score_apply(OOM_CLASS_CURRENT);
        snprintf(err, errlen, "Failed to set current oom_score_adj. Check server logs.");
        return -1;
    }
    alloc_free(old);
    return 0;
}

static str get_oom_mode(void)
{
    return str_append_cstr(str_empty(16), server.cfg.oom_score_adj ? server.cfg.oom_score_adj : "no");
}

static str get_oom_values(void)
{
    const char *v = server.cfg.oom_score_adj_values;
    return str_new(v, strlen(v));
}

/* Valid, as Redis decides: it expands with an empty title into something. */
static int check_proc_title(const char *val, char *err, size_t errlen)
{
    str t = proctitle_expand(val, "");
    int ok = t && str_len(t) > 0;
    str_free(t);
    if (!ok) {
        snprintf(err, errlen, "template format is invalid or contains unknown variables");
        return -1;
    }
    return 0;
}

/* cluster-announce-hostname: what Redis lets a hostname hold. */
static int check_hostname(const char *val, char *err, size_t errlen)
{
    if (strlen(val) >= 256) {
        snprintf(err, errlen, "Hostnames must be less than 256 characters");
        return -1;
    }
    for (const char *p = val; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.') {
            snprintf(err, errlen, "Hostnames may only contain alphanumeric characters, hyphens or dots");
            return -1;
        }
    }
    return 0;
}

#define S(field) (&server.cfg.field)

static config_def defs[] = {
    {"port", NULL, CFG_SPECIAL, NULL, 0, 0, "6379", 1, NULL, set_port, get_port, NULL},
    {"bind", NULL, CFG_SPECIAL, NULL, 0, 0, "* -::*", 1, NULL, set_bind, get_bind, NULL},
    {"metrics-port", NULL, CFG_SPECIAL, NULL, 0, 0, "0", 1, NULL, set_metrics_port, get_metrics_port, NULL},
    {"metrics-bind", NULL, CFG_SPECIAL, NULL, 0, 0, "127.0.0.1", 1, NULL, set_metrics_bind, get_metrics_bind, NULL},
    {"unixsocket", NULL, CFG_STR, S(unixsocket), 0, 0, "", 0, NULL, NULL, NULL, NULL},
    {"unixsocketperm", NULL, CFG_INT, S(unixsocketperm), 0, 0777, "0", 0, NULL, NULL, NULL, NULL},
    {"requirepass", NULL, CFG_SPECIAL, NULL, 0, 0, "", 1, NULL, set_requirepass, get_requirepass, NULL},
    {"aclfile", NULL, CFG_STR, S(aclfile), 0, 0, "", 0, NULL, NULL, NULL, NULL},
    {"acl-pubsub-default", NULL, CFG_ENUM, S(acl_pubsub_default), 0, 0, "resetchannels", 1, enum_pubsub_default, NULL,
     NULL, NULL},
    {"maxclients", NULL, CFG_LL, S(maxclients), 1, UINT32_MAX, "10000", 1, NULL, NULL, NULL, apply_maxclients},
    {"timeout", NULL, CFG_INT, S(timeout), 0, INT_MAX, "0", 1, NULL, NULL, NULL, NULL},
    {"tcp-keepalive", NULL, CFG_INT, S(tcp_keepalive), 0, INT_MAX, "300", 1, NULL, NULL, NULL, NULL},
    {"tcp-backlog", NULL, CFG_INT, S(tcp_backlog), 0, INT_MAX, "511", 0, NULL, NULL, NULL, NULL},
    {"databases", NULL, CFG_INT, S(databases), 1, INT_MAX, "16", 0, NULL, NULL, NULL, NULL},
    {"hz", NULL, CFG_INT, S(hz), 0, INT_MAX, "10", 1, NULL, NULL, NULL, apply_hz},
    {"watchdog-period", NULL, CFG_INT, S(watchdog_period), 0, INT_MAX, "0", 1, NULL, NULL, NULL, apply_watchdog,
     CFG_HIDDEN},
    {"io-threads", NULL, CFG_INT, S(io_threads), 1, 128, "1", 0, NULL, NULL, NULL, NULL},
    {"io-threads-do-reads", NULL, CFG_BOOL, S(io_threads_do_reads), 0, 1, "no", 0, NULL, NULL, NULL, NULL},
    {"io-backend", NULL, CFG_SPECIAL, NULL, 0, 0, "auto", 1, NULL, set_io_backend, get_io_backend, NULL},
    {"io-threads-min-clients", NULL, CFG_INT, S(io_threads_min_clients), 0, INT_MAX, "0", 1, NULL, NULL, NULL, NULL},
    {"busy-poll-us", NULL, CFG_INT, S(busy_poll_us), 0, 10000, "100", 1, NULL, NULL, NULL, apply_busy_poll},
    {"dynamic-hz", NULL, CFG_BOOL, S(dynamic_hz), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"loglevel", NULL, CFG_ENUM, S(loglevel), 0, 0, "notice", 1, enum_loglevel, NULL, NULL, apply_loglevel},
    {"logfile", NULL, CFG_STR, S(logfile), 0, 0, "", 0, NULL, NULL, NULL, NULL},
    {"dir", NULL, CFG_SPECIAL, NULL, 0, 0, "", 1, NULL, set_dir, get_dir, NULL, CFG_PROTECTED | CFG_DENY_LOADING},
    {"daemonize", NULL, CFG_BOOL, S(daemonize), 0, 1, "no", 0, NULL, NULL, NULL, NULL},
    {"pidfile", NULL, CFG_STR, S(pidfile), 0, 0, "", 0, NULL, NULL, NULL, NULL},
    {"protected-mode", NULL, CFG_BOOL, S(protected_mode), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"maxmemory", NULL, CFG_UMEM, S(maxmemory), 0, 0, "0", 1, NULL, NULL, NULL, apply_maxmemory},
    {"maxmemory-policy", NULL, CFG_ENUM, S(maxmemory_policy), 0, 0, "noeviction", 1, enum_maxmemory_policy, NULL, NULL,
     apply_lfu},
    {"maxmemory-samples", NULL, CFG_INT, S(maxmemory_samples), 1, INT_MAX, "5", 1, NULL, NULL, NULL, NULL},
    {"maxmemory-eviction-tenacity", NULL, CFG_INT, S(maxmemory_eviction_tenacity), 0, 100, "10", 1, NULL, NULL, NULL,
     NULL},
    {"lfu-log-factor", NULL, CFG_INT, S(lfu_log_factor), 0, INT_MAX, "10", 1, NULL, NULL, NULL, apply_lfu},
    {"lfu-decay-time", NULL, CFG_INT, S(lfu_decay_time), 0, INT_MAX, "1", 1, NULL, NULL, NULL, apply_lfu},
    {"proto-max-bulk-len", NULL, CFG_MEM, S(proto_max_bulk_len), 1024 * 1024, LLONG_MAX, "512mb", 1, NULL, NULL, NULL,
     NULL},
    {"client-query-buffer-limit", NULL, CFG_MEM, S(client_query_buffer_limit), 1024 * 1024, LLONG_MAX, "1gb", 1, NULL,
     NULL, NULL, NULL},
    {"client-output-buffer-limit", NULL, CFG_SPECIAL, NULL, 0, 0,
     "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60", 1, NULL, set_obuf, get_obuf, NULL},
    {"enable-debug-command", NULL, CFG_ENUM, S(enable_debug_command), 0, 0, "no", 0, enum_debug, NULL, NULL, NULL},
    {"enable-module-command", NULL, CFG_ENUM, S(enable_module_command), 0, 0, "no", 0, enum_debug, NULL, NULL, NULL},
    {"enable-protected-configs", NULL, CFG_ENUM, S(enable_protected_configs), 0, 0, "no", 0, enum_debug, NULL, NULL,
     NULL},
    {"lazyfree-lazy-user-del", NULL, CFG_BOOL, S(lazyfree_lazy_user_del), 0, 1, "no", 1, NULL, NULL, NULL, NULL},
    {"lazyfree-lazy-user-flush", NULL, CFG_BOOL, S(lazyfree_lazy_user_flush), 0, 1, "no", 1, NULL, NULL, NULL, NULL},
    {"lazyfree-lazy-expire", NULL, CFG_BOOL, S(lazyfree_lazy_expire), 0, 1, "no", 1, NULL, NULL, NULL, NULL},
    {"lazyfree-lazy-eviction", NULL, CFG_BOOL, S(lazyfree_lazy_eviction), 0, 1, "no", 1, NULL, NULL, NULL, NULL},
    {"lazyfree-lazy-server-del", NULL, CFG_BOOL, S(lazyfree_lazy_server_del), 0, 1, "no", 1, NULL, NULL, NULL, NULL},
    {"notify-keyspace-events", NULL, CFG_SPECIAL, NULL, 0, 0, "", 1, NULL, set_notify, get_notify, NULL},
    {"save", NULL, CFG_STR, S(save), 0, 0, "3600 1 300 100 60 10000", 1, NULL, NULL, NULL, NULL},
    {"appendonly", NULL, CFG_BOOL, S(appendonly), 0, 1, "no", 1, NULL, NULL, NULL, apply_appendonly, CFG_DENY_LOADING},
    {"appendfsync", NULL, CFG_STR, S(appendfsync), 0, 0, "everysec", 1, enum_appendfsync, NULL, NULL, NULL},
    {"appendfilename", NULL, CFG_STR, S(appendfilename), 0, 0, "appendonly.aof", 0, NULL, NULL, NULL, NULL},
    {"appenddirname", NULL, CFG_STR, S(appenddirname), 0, 0, "appendonlydir", 0, NULL, NULL, NULL, NULL},
    {"auto-aof-rewrite-percentage", NULL, CFG_INT, S(auto_aof_rewrite_percentage), 0, INT_MAX, "100", 1, NULL, NULL,
     NULL, NULL},
    {"auto-aof-rewrite-min-size", NULL, CFG_MEM, S(auto_aof_rewrite_min_size), 0, LLONG_MAX, "64mb", 1, NULL, NULL,
     NULL, NULL},
    {"aof-load-truncated", NULL, CFG_BOOL, S(aof_load_truncated), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"dbfilename", NULL, CFG_SPECIAL, NULL, 0, 0, "dump.rdb", 1, NULL, set_dbfilename, get_dbfilename, NULL,
     CFG_PROTECTED},
    {"rdbcompression", NULL, CFG_BOOL, S(rdbcompression), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"bgsave-forkless", NULL, CFG_BOOL, S(bgsave_forkless), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"rdb-key-save-delay", NULL, CFG_INT, S(rdb_key_save_delay), INT_MIN, INT_MAX, "0", 1, NULL, NULL, NULL, NULL,
     CFG_HIDDEN},
    {"key-load-delay", NULL, CFG_INT, S(key_load_delay), INT_MIN, INT_MAX, "0", 1, NULL, NULL, NULL, NULL, CFG_HIDDEN},
    {"loading-process-events-interval-bytes", NULL, CFG_INT, S(loading_events_interval), 1024, INT_MAX, "2097152", 1,
     NULL, NULL, NULL, NULL, CFG_HIDDEN},
    {"stop-writes-on-bgsave-error", NULL, CFG_BOOL, S(stop_writes_on_bgsave_error), 0, 1, "yes", 1, NULL, NULL, NULL,
     NULL},
    {"rdbchecksum", NULL, CFG_BOOL, S(rdbchecksum), 0, 1, "yes", 0, NULL, NULL, NULL, NULL},
    {"list-max-listpack-size", "list-max-ziplist-size", CFG_LL, S(list_max_listpack_size), INT_MIN, INT_MAX, "-2", 1,
     NULL, NULL, NULL, NULL},
    {"list-compress-depth", NULL, CFG_INT, S(list_compress_depth), 0, INT_MAX, "0", 1, NULL, NULL, NULL, NULL},
    {"hash-max-listpack-entries", "hash-max-ziplist-entries", CFG_LL, S(hash_max_listpack_entries), 0, LLONG_MAX, "128",
     1, NULL, NULL, NULL, NULL},
    {"hash-max-listpack-value", "hash-max-ziplist-value", CFG_MEM, S(hash_max_listpack_value), 0, LLONG_MAX, "64", 1,
     NULL, NULL, NULL, NULL},
    {"set-max-intset-entries", NULL, CFG_LL, S(set_max_intset_entries), 0, LLONG_MAX, "512", 1, NULL, NULL, NULL, NULL},
    {"set-max-listpack-entries", NULL, CFG_LL, S(set_max_listpack_entries), 0, LLONG_MAX, "128", 1, NULL, NULL, NULL,
     NULL},
    {"set-max-listpack-value", NULL, CFG_LL, S(set_max_listpack_value), 0, LLONG_MAX, "64", 1, NULL, NULL, NULL, NULL},
    {"zset-max-listpack-entries", "zset-max-ziplist-entries", CFG_LL, S(zset_max_listpack_entries), 0, LLONG_MAX, "128",
     1, NULL, NULL, NULL, NULL},
    {"zset-max-listpack-value", "zset-max-ziplist-value", CFG_MEM, S(zset_max_listpack_value), 0, LLONG_MAX, "64", 1,
     NULL, NULL, NULL, NULL},
    {"stream-node-max-bytes", NULL, CFG_MEM, S(stream_node_max_bytes), 0, LLONG_MAX, "4096", 1, NULL, NULL, NULL, NULL},
    {"stream-node-max-entries", NULL, CFG_LL, S(stream_node_max_entries), 0, LLONG_MAX, "100", 1, NULL, NULL, NULL,
     NULL},
    {"stream-idmp-duration", NULL, CFG_LL, S(stream_idmp_duration), 1, IDMP_DURATION_MAX, "100", 1, NULL, NULL, NULL,
     apply_stream_idmp},
    {"stream-idmp-maxsize", NULL, CFG_LL, S(stream_idmp_maxsize), 1, IDMP_MAXSIZE_MAX, "100", 1, NULL, NULL, NULL,
     apply_stream_idmp},
    {"busy-reply-threshold", "lua-time-limit", CFG_LL, S(busy_reply_threshold), 0, LLONG_MAX, "5000", 1, NULL, NULL,
     NULL, NULL},
    {"tracking-table-max-keys", NULL, CFG_LL, S(tracking_table_max_keys), 0, LLONG_MAX, "1000000", 1, NULL, NULL, NULL,
     NULL},
    {"slowlog-log-slower-than", NULL, CFG_LL, S(slowlog_log_slower_than), -1, LLONG_MAX, "10000", 1, NULL, NULL, NULL,
     NULL},
    {"slowlog-max-len", NULL, CFG_LL, S(slowlog_max_len), 0, LONG_MAX, "128", 1, NULL, NULL, NULL, slowlog_trim},
    {"latency-tracking", NULL, CFG_BOOL, S(latency_tracking), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"latency-tracking-info-percentiles", NULL, CFG_SPECIAL, NULL, 0, 0, "50 99 99.9", 1, NULL, set_percentiles,
     get_percentiles, NULL},
    {"latency-monitor-threshold", NULL, CFG_LL, S(latency_monitor_threshold), 0, LLONG_MAX, "0", 1, NULL, NULL, NULL,
     NULL},
    {"replicaof", "slaveof", CFG_SPECIAL, NULL, 0, 0, "", 0, NULL, set_replicaof, get_replicaof, NULL},
    {"replica-read-only", "slave-read-only", CFG_BOOL, S(replica_read_only), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"repl-diskless-sync", NULL, CFG_BOOL, S(repl_diskless_sync), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"repl-backlog-size", NULL, CFG_MEM, S(repl_backlog_size), 1, LLONG_MAX, "1mb", 1, NULL, NULL, NULL,
     apply_backlog_size},
    {"masterauth", NULL, CFG_SPECIAL, NULL, 0, 0, "", 1, NULL, set_masterauth, get_masterauth, NULL},
    {"sanitize-dump-payload", NULL, CFG_STR, S(sanitize_dump_payload), 0, 0, "no", 1, enum_sanitize, NULL, NULL, NULL},
    {"masteruser", NULL, CFG_STR, S(masteruser), 0, 0, "", 1, NULL, NULL, NULL, NULL},
    {"min-replicas-to-write", "min-slaves-to-write", CFG_INT, S(min_replicas_to_write), 0, INT_MAX, "0", 1, NULL, NULL,
     NULL, NULL},
    {"min-replicas-max-lag", "min-slaves-max-lag", CFG_INT, S(min_replicas_max_lag), 0, INT_MAX, "10", 1, NULL, NULL,
     NULL, NULL},
    {"repl-ping-replica-period", "repl-ping-slave-period", CFG_INT, S(repl_ping_replica_period), 1, INT_MAX, "10", 1,
     NULL, NULL, NULL, NULL},
    {"repl-timeout", NULL, CFG_INT, S(repl_timeout), 1, INT_MAX, "60", 1, NULL, NULL, NULL, NULL},
    {"repl-backlog-ttl", NULL, CFG_LL, S(repl_backlog_ttl), 0, LLONG_MAX, "3600", 1, NULL, NULL, NULL, NULL},
    {"replica-announce-ip", "slave-announce-ip", CFG_STR, S(replica_announce_ip), 0, 0, "", 1, NULL, NULL, NULL, NULL},
    {"replica-announce-port", "slave-announce-port", CFG_INT, S(replica_announce_port), 0, 65535, "0", 1, NULL, NULL,
     NULL, NULL},
    {"replica-announced", NULL, CFG_BOOL, S(replica_announced), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"aof-use-rdb-preamble", NULL, CFG_BOOL, S(aof_use_rdb_preamble), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"aof-timestamp-enabled", NULL, CFG_BOOL, S(aof_timestamp_enabled), 0, 1, "no", 1, NULL, NULL, NULL, NULL},
    {"no-appendfsync-on-rewrite", NULL, CFG_BOOL, S(no_appendfsync_on_rewrite), 0, 1, "no", 1, NULL, NULL, NULL, NULL},
    {"rdb-save-incremental-fsync", NULL, CFG_BOOL, S(rdb_save_incremental_fsync), 0, 1, "yes", 1, NULL, NULL, NULL,
     NULL},
    {"aof-rewrite-incremental-fsync", NULL, CFG_BOOL, S(aof_rewrite_incremental_fsync), 0, 1, "yes", 1, NULL, NULL,
     NULL, NULL},
    {"rdb-del-sync-files", NULL, CFG_BOOL, S(rdb_del_sync_files), 0, 1, "no", 1, NULL, NULL, NULL, NULL},
    {"activerehashing", NULL, CFG_BOOL, S(activerehashing), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"replica-serve-stale-data", "slave-serve-stale-data", CFG_BOOL, S(replica_serve_stale_data), 0, 1, "yes", 1, NULL,
     NULL, NULL, NULL},
    {"repl-diskless-sync-delay", NULL, CFG_INT, S(repl_diskless_sync_delay), 0, INT_MAX, "5", 1, NULL, NULL, NULL,
     NULL},
    {"repl-diskless-sync-max-replicas", NULL, CFG_INT, S(repl_diskless_sync_max_replicas), 0, INT_MAX, "0", 1, NULL,
     NULL, NULL, NULL},
    {"repl-diskless-load", NULL, CFG_STR, S(repl_diskless_load), 0, 0, "disabled", 1, enum_diskless_load, NULL, NULL,
     NULL},
    {"repl-disable-tcp-nodelay", NULL, CFG_BOOL, S(repl_disable_tcp_nodelay), 0, 1, "no", 1, NULL, NULL, NULL, NULL},
    {"replica-priority", "slave-priority", CFG_INT, S(replica_priority), 0, INT_MAX, "100", 1, NULL, NULL, NULL, NULL},
    {"replica-lazy-flush", "slave-lazy-flush", CFG_BOOL, S(replica_lazy_flush), 0, 1, "no", 1, NULL, NULL, NULL, NULL},
    {"acllog-max-len", NULL, CFG_LL, S(acllog_max_len), 0, LLONG_MAX, "128", 1, NULL, NULL, NULL, NULL},
    {"hll-sparse-max-bytes", NULL, CFG_MEM, S(hll_sparse_max_bytes), 0, LLONG_MAX, "3000", 1, NULL, NULL, NULL, NULL},
    {"always-show-logo", NULL, CFG_BOOL, S(always_show_logo), 0, 1, "no", 0, NULL, NULL, NULL, NULL},
    {"set-proc-title", NULL, CFG_BOOL, S(set_proc_title), 0, 1, "yes", 0, NULL, NULL, NULL, NULL},
    {"proc-title-template", NULL, CFG_STR, S(proc_title_template), 0, 0, "{title} {listen-addr} {server-mode}", 1, NULL,
     check_proc_title, NULL, proctitle_update},
    {"oom-score-adj", NULL, CFG_SPECIAL, NULL, 0, 0, "no", 1, NULL, set_oom_mode, get_oom_mode, NULL},
    {"oom-score-adj-values", NULL, CFG_SPECIAL, NULL, 0, 0, "0 200 800", 1, NULL, set_oom_values, get_oom_values, NULL},
    {"disable-thp", NULL, CFG_BOOL, S(disable_thp), 0, 1, "yes", 0, NULL, NULL, NULL, NULL},
    {"jemalloc-bg-thread", NULL, CFG_BOOL, S(jemalloc_bg_thread), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"supervised", NULL, CFG_ENUM, S(supervised), 0, 0, "no", 0, enum_supervised, NULL, NULL, NULL},
    {"active-expire-effort", NULL, CFG_INT, S(active_expire_effort), 1, 10, "1", 1, NULL, NULL, NULL, NULL},
    {"shutdown-on-sigint", NULL, CFG_SPECIAL, NULL, 0, 0, "default", 1, NULL, set_shutdown_on_sigint,
     get_shutdown_on_sigint, NULL},
    {"shutdown-on-sigterm", NULL, CFG_SPECIAL, NULL, 0, 0, "default", 1, NULL, set_shutdown_on_sigterm,
     get_shutdown_on_sigterm, NULL},
    {"syslog-enabled", NULL, CFG_BOOL, S(syslog_enabled), 0, 1, "no", 0, NULL, NULL, NULL, apply_syslog},
    {"syslog-ident", NULL, CFG_STR, S(syslog_ident), 0, 0, "redis", 0, NULL, NULL, NULL, apply_syslog},
    {"syslog-facility", NULL, CFG_ENUM, S(syslog_facility), 0, 0, "local0", 0, enum_syslog_facility, NULL, NULL,
     apply_syslog},
    {"activedefrag", NULL, CFG_BOOL, S(activedefrag), 0, 1, "no", 1, NULL, check_activedefrag, NULL, NULL},
    {"active-defrag-ignore-bytes", NULL, CFG_MEM, S(defrag_ignore_bytes), 1, LLONG_MAX, "100mb", 1, NULL, NULL, NULL,
     NULL},
    {"active-defrag-threshold-lower", NULL, CFG_INT, S(defrag_lower), 0, 1000, "10", 1, NULL, NULL, NULL, NULL},
    {"active-defrag-threshold-upper", NULL, CFG_INT, S(defrag_upper), 0, 1000, "100", 1, NULL, NULL, NULL, NULL},
    {"active-defrag-cycle-min", NULL, CFG_INT, S(defrag_cycle_min), 1, 99, "1", 1, NULL, NULL, NULL, NULL},
    {"active-defrag-cycle-max", NULL, CFG_INT, S(defrag_cycle_max), 1, 99, "25", 1, NULL, NULL, NULL, NULL},
    {"active-defrag-max-scan-fields", NULL, CFG_LL, S(defrag_max_scan_fields), 1, LLONG_MAX, "1000", 1, NULL, NULL,
     NULL, NULL},
    {"maxmemory-clients", NULL, CFG_SPECIAL, NULL, 0, 0, "0", 1, NULL, set_maxmemory_clients, get_maxmemory_clients,
     NULL},
    {"aof-disable-auto-gc", NULL, CFG_BOOL, I(aof_disable_auto_gc), 0, 1, "no", 1, NULL, NULL, NULL, NULL},
    {"crash-log-enabled", NULL, CFG_BOOL, I(crash_log), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"crash-memcheck-enabled", NULL, CFG_BOOL, I(crash_memcheck), 0, 1, "yes", 1, NULL, NULL, NULL, NULL},
    {"use-exit-on-panic", NULL, CFG_BOOL, S(use_exit_on_panic), 0, 1, "no", 1, NULL, NULL, NULL, NULL, CFG_HIDDEN},
    {"replica-ignore-disk-write-errors", NULL, CFG_BOOL, S(replica_ignore_disk_errors), 0, 1, "no", 1, NULL, NULL, NULL,
     NULL},
    {"replica-ignore-maxmemory", "slave-ignore-maxmemory", CFG_BOOL, S(replica_ignore_maxmemory), 0, 1, "yes", 1, NULL,
     NULL, NULL, NULL},
    {"propagation-error-behavior", NULL, CFG_ENUM, S(propagation_error_behavior), 0, 0, "ignore", 1,
     enum_propagation_error, NULL, NULL, NULL},
    {"shutdown-timeout", NULL, CFG_INT, S(shutdown_timeout), 0, INT_MAX, "10", 1, NULL, NULL, NULL, NULL},
    {"socket-mark-id", NULL, CFG_LL, I(socket_mark_id), 0, UINT32_MAX, "0", 0, NULL, NULL, NULL, NULL},
    {"bind-source-addr", NULL, CFG_STR, S(bind_source_addr), 0, 0, "", 1, NULL, NULL, NULL, NULL},
    {"ignore-warnings", NULL, CFG_STR, I(ignore_warnings), 0, 0, "", 1, NULL, NULL, NULL, NULL},
    {"server_cpulist", NULL, CFG_STR, I(server_cpulist), 0, 0, "", 0, NULL, NULL, NULL, NULL},
    {"bio_cpulist", NULL, CFG_STR, I(bio_cpulist), 0, 0, "", 0, NULL, NULL, NULL, NULL},
    {"aof_rewrite_cpulist", NULL, CFG_STR, I(aof_rewrite_cpulist), 0, 0, "", 0, NULL, NULL, NULL, NULL},
    {"bgsave_cpulist", NULL, CFG_STR, I(bgsave_cpulist), 0, 0, "", 0, NULL, NULL, NULL, NULL},
    {"cluster-enabled", NULL, CFG_SPECIAL, NULL, 0, 0, "no", 0, NULL, set_cluster_enabled, get_cluster_enabled, NULL},
    {"cluster-config-file", NULL, CFG_STR, I(cluster_config_file), 0, 0, "nodes.conf", 0, NULL, NULL, NULL, NULL},
    {"cluster-port", NULL, CFG_INT, I(cluster_port), 0, 65535, "0", 0, NULL, NULL, NULL, NULL},
    {"cluster-node-timeout", NULL, CFG_LL, I(cluster_node_timeout), 0, LLONG_MAX, "15000", 1, NULL, NULL, NULL, NULL},
    {"cluster-announce-ip", NULL, CFG_STR, I(cluster_announce_ip), 0, 0, "", 1, NULL, NULL, NULL, NULL},
    {"cluster-announce-hostname", NULL, CFG_STR, I(cluster_announce_hostname), 0, 0, "", 1, NULL, check_hostname, NULL,
     NULL},
    {"cluster-announce-port", NULL, CFG_INT, I(cluster_announce_port), 0, 65535, "0", 1, NULL, NULL, NULL, NULL},
    {"cluster-announce-bus-port", NULL, CFG_INT, I(cluster_announce_bus_port), 0, 65535, "0", 1, NULL, NULL, NULL,
     NULL},
    {"cluster-announce-tls-port", NULL, CFG_INT, I(cluster_announce_tls_port), 0, 65535, "0", 1, NULL, NULL, NULL,
     NULL},
    {"cluster-preferred-endpoint-type", NULL, CFG_ENUM, I(cluster_preferred_endpoint_type), 0, 0, "ip", 1,
     enum_endpoint_type, NULL, NULL, NULL},
    {"cluster-require-full-coverage", NULL, CFG_BOOL, I(cluster_require_full_coverage), 0, 1, "yes", 1, NULL, NULL,
     NULL, NULL},
    {"cluster-replica-no-failover", "cluster-slave-no-failover", CFG_BOOL, I(cluster_replica_no_failover), 0, 1, "no",
     1, NULL, NULL, NULL, NULL},
    {"cluster-replica-validity-factor", "cluster-slave-validity-factor", CFG_INT, I(cluster_replica_validity_factor), 0,
     INT_MAX, "10", 1, NULL, NULL, NULL, NULL},
    {"cluster-migration-barrier", NULL, CFG_INT, I(cluster_migration_barrier), 0, INT_MAX, "1", 1, NULL, NULL, NULL,
     NULL},
    {"cluster-allow-replica-migration", NULL, CFG_BOOL, I(cluster_allow_replica_migration), 0, 1, "yes", 1, NULL, NULL,
     NULL, NULL},
    {"cluster-allow-reads-when-down", NULL, CFG_BOOL, I(cluster_allow_reads_when_down), 0, 1, "no", 1, NULL, NULL, NULL,
     NULL},
    {"cluster-allow-pubsubshard-when-down", NULL, CFG_BOOL, I(cluster_allow_pubsubshard_when_down), 0, 1, "yes", 1,
     NULL, NULL, NULL, NULL},
    {"cluster-link-sendbuf-limit", NULL, CFG_UMEM, I(cluster_link_sendbuf_limit), 0, 0, "0", 1, NULL, NULL, NULL, NULL},
    {"tls-port", NULL, CFG_SPECIAL, NULL, 0, 0, "0", 1, NULL, set_tls_port, get_tls_port, NULL},
    {"tls-cert-file", NULL, CFG_STR, S(tls_cert_file), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-key-file", NULL, CFG_STR, S(tls_key_file), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-key-file-pass", NULL, CFG_STR, S(tls_key_file_pass), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-client-cert-file", NULL, CFG_STR, S(tls_client_cert_file), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-client-key-file", NULL, CFG_STR, S(tls_client_key_file), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-client-key-file-pass", NULL, CFG_STR, S(tls_client_key_file_pass), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-dh-params-file", NULL, CFG_STR, S(tls_dh_params_file), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-ca-cert-file", NULL, CFG_STR, S(tls_ca_cert_file), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-ca-cert-dir", NULL, CFG_STR, S(tls_ca_cert_dir), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-auth-clients", NULL, CFG_ENUM, S(tls_auth_clients), 0, 0, "yes", 1, enum_tls_auth, NULL, NULL, NULL},
    {"tls-auth-clients-user", NULL, CFG_ENUM, S(tls_auth_clients_user), 0, 0, "off", 1, enum_tls_auth_user, NULL, NULL,
     NULL},
    {"tls-protocols", NULL, CFG_STR, S(tls_protocols), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-ciphers", NULL, CFG_STR, S(tls_ciphers), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-ciphersuites", NULL, CFG_STR, S(tls_ciphersuites), 0, 0, "", 1, NULL, NULL, NULL, apply_tls},
    {"tls-prefer-server-ciphers", NULL, CFG_BOOL, S(tls_prefer_server_ciphers), 0, 1, "no", 1, NULL, NULL, NULL,
     apply_tls},
    {"tls-session-caching", NULL, CFG_BOOL, S(tls_session_caching), 0, 1, "yes", 1, NULL, NULL, NULL, apply_tls},
    {"tls-session-cache-size", NULL, CFG_LL, S(tls_session_cache_size), 0, INT_MAX, "20480", 1, NULL, NULL, NULL,
     apply_tls},
    {"tls-session-cache-timeout", NULL, CFG_LL, S(tls_session_cache_timeout), 0, INT_MAX, "300", 1, NULL, NULL, NULL,
     apply_tls},
    {"tls-replication", NULL, CFG_BOOL, S(tls_replication), 0, 1, "no", 1, NULL, NULL, NULL, apply_tls},
    {"tls-cluster", NULL, CFG_BOOL, S(tls_cluster), 0, 1, "no", 1, NULL, NULL, NULL, apply_tls},
};

#define NDEFS ((int)(sizeof(defs) / sizeof(defs[0])))

static config_def *find_def(const char *name)
{
    for (int i = 0; i < NDEFS; i++) {
        if (strcasecmp(defs[i].name, name) == 0 || (defs[i].alias && strcasecmp(defs[i].alias, name) == 0)) {
            return &defs[i];
        }
    }
    return NULL;
}

int config_deferred(const char *name)
{
    config_def *d = find_def(name);
    return d && d->apply == apply_tls;
}

/* save: "" (none) or "<seconds> <changes>" pairs, seconds >= 1 and
 * changes >= 0, separated by single spaces, as Redis checks them. */
static int save_points_valid(const char *val)
{
    if (!*val) {
        return 1;
    }
    int n = 0;
    for (const char *p = val;; n++) {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        long long v;
        if (!util_parse_ll(p, len, &v) || v < (n % 2 == 0 ? 1 : 0)) {
            return 0;
        }
        if (!sp) {
            break;
        }
        p = sp + 1;
    }
    return n % 2 == 1;
}

static int set_def(config_def *d, const char *val, char *err, size_t errlen)
{
    long long v;
    switch (d->type) {
    case CFG_BOOL: {
        int i = yes_no(val);
        if (i < 0) {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        if (d->set && d->set(val, err, errlen) < 0) {
            return -1;
        }
        *(int *)d->ptr = i;
        break;
    }
    case CFG_INT:
    case CFG_LL:
        if (d->ptr == &server.cfg.unixsocketperm) {
            /* A file mode: always octal, as in Redis ("700" is 0700). */
            char *end;
            v = strtoll(val, &end, 8);
            if (!*val || *end || *val == '-' || *val == '+') {
                snprintf(err, errlen, "argument couldn't be parsed into an integer");
                return -1;
            }
        } else if (!util_parse_ll(val, strlen(val), &v)) {
            snprintf(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        if (v < d->min || v > d->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive", d->min, d->max);
            return -1;
        }
        if (d->type == CFG_INT) {
            *(int *)d->ptr = (int)v;
        } else {
            *(long long *)d->ptr = v;
        }
        break;
    case CFG_MEM:
    case CFG_UMEM: {
        unsigned long long u;
        if (!parse_memory(val, &u)) {
            snprintf(err, errlen, "argument must be a memory value");
            return -1;
        }
        if (d->type == CFG_UMEM) {
            *(unsigned long long *)d->ptr = u;
            break;
        }
        /* (compared unsigned: past 2^63 is above any max, as in Redis) */
        if (u < (unsigned long long)d->min || u > (unsigned long long)d->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive", d->min, d->max);
            return -1;
        }
        *(long long *)d->ptr = (long long)u;
        break;
    }
    case CFG_STR: {
        /* An enum's word is stored as CONFIG GET shows it ("Always" as "always"). */
        const config_enum *e = d->enums ? enum_find(d->enums, val) : NULL;
        if (d->enums && !e) {
            enum_error(d->enums, err, errlen);
            return -1;
        }
        if (d->ptr == &server.cfg.save && !save_points_valid(val)) {
            snprintf(err, errlen, "Invalid save parameters");
            return -1;
        }
        if (d->set && d->set(val, err, errlen) < 0) {
            return -1;
        }
        alloc_free(*(char **)d->ptr);
        *(char **)d->ptr = alloc_strdup(e ? enum_name(d->enums, e->val) : val);
        break;
    }
    case CFG_ENUM: {
        const config_enum *e = enum_find(d->enums, val);
        if (!e) {
            enum_error(d->enums, err, errlen);
            return -1;
        }
        *(int *)d->ptr = e->val;
        break;
    }
    case CFG_SPECIAL:
        if (d->set(val, err, errlen) < 0) {
            return -1;
        }
        break;
    }
    if (d->apply) {
        d->apply();
    }
    return 0;
}

static str get_def(config_def *d)
{
    char buf[64];
    switch (d->type) {
    case CFG_BOOL: return str_new(*(int *)d->ptr ? "yes" : "no", *(int *)d->ptr ? 3 : 2);
    case CFG_INT:
        if (d->ptr == &server.cfg.unixsocketperm) {
            snprintf(buf, sizeof(buf), "%o", *(int *)d->ptr);
            return str_new(buf, strlen(buf));
        }
        return str_from_ll(*(int *)d->ptr);
    case CFG_LL:
    case CFG_MEM: return str_from_ll(*(long long *)d->ptr);
    case CFG_UMEM: return str_printf(str_empty(24), "%llu", *(unsigned long long *)d->ptr);
    case CFG_STR: {
        const char *s = *(char **)d->ptr;
        return str_new(s ? s : "", s ? strlen(s) : 0);
    }
    case CFG_ENUM: {
        const char *s = enum_name(d->enums, *(int *)d->ptr);
        return str_new(s, strlen(s));
    }
    default: return d->get();
    }
}

/* Each directive's default as CONFIG GET renders it, so CONFIG REWRITE can
 * tell a changed value from a default one whatever spelling set it. */
static str default_vals[NDEFS];

/* Whether a "save" directive was read since the defaults were set. */
static int save_directive_seen;

void config_defaults(void)
{
    char err[256];
    save_directive_seen = 0;
    for (int i = 0; i < NDEFS; i++) {
        if (set_def(&defs[i], defs[i].dflt, err, sizeof(err)) < 0) {
            PANIC("bad default for %s: %s", defs[i].name, err);
        }
        str_free(default_vals[i]);
        default_vals[i] = get_def(&defs[i]);
    }
    server.cfg.active_expire = 1;
    server.cfg.list_plain_min = LIST_PLAIN_MIN_DEFAULT;
}

/* "rename-command FROM TO" (TO may be empty): a start-up directive only,
 * unknown to CONFIG SET and GET as in Redis. The loader hands over the
 * arguments joined by one space, so "FLUSHALL \"\"" arrives as "FLUSHALL ". */
static int rename_command(const char *value, char *err, size_t errlen)
{
    const char *sp = strchr(value, ' ');
    if (!sp || strchr(sp + 1, ' ')) {
        return -2; /* not two arguments */
    }
    const char *msg;
    if (cmd_table_rename(value, (size_t)(sp - value), sp + 1, strlen(sp + 1), &msg) < 0) {
        snprintf(err, errlen, "%s", msg);
        return -1;
    }
    return 0;
}

int config_set_directive(const char *name, const char *value, size_t len, char *err, size_t errlen)
{
    /* As in Redis 7: the first "save" replaces the default points, later
     * ones add theirs ("save \"\"" clears them all). */
    if (strcasecmp(name, "save") == 0 && save_directive_seen && value[0] && server.cfg.save && server.cfg.save[0]) {
        str joined = str_printf(str_empty(64), "%s %s", server.cfg.save, value);
        int rc = config_set(name, joined, err, errlen, 1);
        str_free(joined);
        return rc;
    }
    if (strcasecmp(name, "save") == 0) {
        save_directive_seen = 1;
    }
    return config_set_len(name, value, len, err, errlen, 1);
}

int config_set_len(const char *name, const char *value, size_t len, char *err, size_t errlen, int at_startup)
{
    if (memchr(value, '\0', len)) {
        if (strcasecmp(name, "requirepass") == 0 || strcasecmp(name, "masterauth") == 0) {
            set_password(strcasecmp(name, "requirepass") == 0 ? &server.cfg.requirepass : &server.cfg.masterauth, value,
                         len);
            return 0;
        }
    }
    if (memchr(value, '\0', len) && !find_def(name)) {
        /* A module's string parameter is binary, as in Redis. */
        int rc = module_config_set(name, value, len, err, errlen, at_startup);
        if (rc != -2) {
            return rc;
        }
    }
    return config_set(name, value, err, errlen, at_startup); /* (up to a NUL, as a C string) */
}

int config_set(const char *name, const char *value, char *err, size_t errlen, int at_startup)
{
    if (at_startup && strcasecmp(name, "rename-command") == 0) {
        return rename_command(value, err, errlen);
    }
    if (at_startup && strcasecmp(name, "loadmodule") == 0) {
        module_queue_load(value); /* loaded once the server is set up */
        return 0;
    }
    if (at_startup && strcasecmp(name, "user") == 0) {
        /* "--user alice on >pw": the command line's form of a user line. */
        str args = NULL;
        size_t *off = NULL, *lens = NULL, cap = 0;
        long n = resp_split_args(value, strlen(value), &args, &off, &lens, &cap);
        int rc = 0;
        if (n < 1 || n > 256) {
            snprintf(err, errlen, "Bad directive or wrong number of arguments");
            rc = -1;
        } else {
            sv uargs[256];
            for (long i = 0; i < n; i++) {
                uargs[i] = (sv){args + off[i], lens[i]};
            }
            acl_config_user_line(uargs, (int)n, "(command line)", 0);
        }
        str_free(args);
        alloc_free(off);
        alloc_free(lens);
        return rc;
    }
    config_def *d = find_def(name);
    if (!d) {
        int rc = module_config_set(name, value, strlen(value), err, errlen, at_startup);
        if (rc != -2) {
            return rc;
        }
        snprintf(err, errlen, "Unknown option or number of arguments for CONFIG SET - '%.64s'", name);
        return -2;
    }
    if (!at_startup && !d->mutable_) {
        snprintf(err, errlen, "can't set immutable config");
        return -1;
    }
    return set_def(d, value, err, errlen);
}

int config_is_protected(const char *name)
{
    config_def *d = find_def(name);
    return d ? (d->flags & CFG_PROTECTED) != 0 : module_config_protected(name);
}

int config_denied_while_loading(const char *name)
{
    config_def *d = find_def(name);
    return d && (d->flags & CFG_DENY_LOADING) && (server.loading || server.async_loading);
}

str config_get_value(const char *name, int *found)
{
    config_def *d = find_def(name);
    if (!d) {
        return module_config_get(name, found);
    }
    *found = 1;
    return get_def(d);
}

/* The directive a name or alias of len bytes (any case) names; *k is 0
 * for its name, 1 for its alias. */
static int find_name(const char *p, size_t len, int *k)
{
    for (int i = 0; i < NDEFS; i++) {
        const char *names[2] = {defs[i].name, defs[i].alias};
        for (*k = 0; *k < 2; (*k)++) {
            if (names[*k] && strlen(names[*k]) == len && strncasecmp(names[*k], p, len) == 0) {
                return i;
            }
        }
    }
    return -1;
}

static void reply_param(client *c, const char *name, size_t len, config_def *d)
{
    str v = get_def(d);
    reply_bulk(R(c), name, len);
    reply_bulk(R(c), v, str_len(v));
    str_free(v);
}

/* CONFIG GET, as Redis 7.0 answers it: a pattern without glob characters
 * names one directive or alias, hidden ones too, and the reply echoes it
 * as typed ("HZ"); a glob matches names and aliases in any case, hidden
 * ones never, and the reply gives them in lower case. A name answers once
 * however many patterns reach it, spelled as the first one did. */
void config_get_matching(client *c, sv *patterns, int n)
{
    size_t h = reply_defer(R(c));
    long long pairs = 0;
    unsigned char(*seen)[2] = alloc_zero(sizeof(*seen) * NDEFS);
    for (int p = 0; p < n; p++) {
        sv pat = patterns[p];
        if (!memchr(pat.ptr, '*', pat.len) && !memchr(pat.ptr, '?', pat.len) && !memchr(pat.ptr, '[', pat.len)) {
            int k, i = find_name(pat.ptr, pat.len, &k);
            if (i >= 0 && !seen[i][k]) {
                seen[i][k] = 1;
                reply_param(c, pat.ptr, pat.len, &defs[i]);
                pairs++;
            }
            continue;
        }
        for (int i = 0; i < NDEFS; i++) {
            const char *names[2] = {defs[i].name, defs[i].alias};
            for (int k = 0; k < 2 && !(defs[i].flags & CFG_HIDDEN); k++) {
                if (names[k] && !seen[i][k] && util_glob_match(pat.ptr, pat.len, names[k], strlen(names[k]), 1)) {
                    seen[i][k] = 1;
                    reply_param(c, names[k], strlen(names[k]), &defs[i]);
                    pairs++;
                }
            }
        }
    }
    alloc_free(seen);
    pairs += module_config_reply_matching(c, patterns, n);
    reply_defer_map(R(c), h, pairs);
}

/* Deep enough for any real layout, shallow enough to stop a file that
 * includes itself. */
#define MAX_INCLUDE_DEPTH 16

static int load_file(const char *path, int depth, char *err, size_t errlen);

/* "include pattern": every file the glob matches, in sorted order, as if
 * its lines stood here (Redis 7 takes glob patterns too). A pattern
 * without wildcards must name a readable file. */
static int load_include(const char *pattern, int depth, char *msg, size_t msglen, char *err, size_t errlen)
{
    if (depth >= MAX_INCLUDE_DEPTH) {
        snprintf(msg, msglen, "Too many nested includes (limit %d)", MAX_INCLUDE_DEPTH);
        return -1;
    }
    glob_t g;
    int gr = glob(pattern, 0, NULL, &g);
    if (gr == GLOB_NOMATCH && strpbrk(pattern, "*?[") == NULL) {
        snprintf(msg, msglen, "Fatal error, can't open config file '%.200s': %s", pattern, strerror(ENOENT));
        return -1;
    }
    if (gr != 0 && gr != GLOB_NOMATCH) {
        snprintf(msg, msglen, "Can't expand include pattern '%.200s'", pattern);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; gr == 0 && i < g.gl_pathc && rc == 0; i++) {
        rc = load_file(g.gl_pathv[i], depth + 1, err, errlen);
    }
    if (gr == 0) {
        globfree(&g);
    }
    return rc;
}

static int load_text(const char *path, const char *text, size_t len, int depth, char *err, size_t errlen);
static int multi_word(const config_def *d);

int config_load_file(const char *path, char *err, size_t errlen)
{
    return load_file(path, 0, err, errlen);
}

int config_load_string(const char *text, size_t len, char *err, size_t errlen)
{
    return load_text("(string)", text, len, 0, err, errlen);
}

int config_load_options(const char *text, size_t len, char *err, size_t errlen)
{
    return load_text(NULL, text, len, 0, err, errlen);
}

const char *config_name_at(int i)
{
    return i >= 0 && i < NDEFS ? defs[i].name : NULL;
}

/* Everything f holds; *bad is set when reading failed. */
static str read_stream(FILE *f, int *bad)
{
    str text = str_empty(4096);
    char buf[16 * 1024];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        text = str_append(text, buf, n);
    }
    *bad = ferror(f);
    return text;
}

/* The whole file (or stdin for "-"), then its lines. */
static int load_file(const char *path, int depth, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "Fatal error, can't open config file '%s'", path);
        return -1;
    }
    int bad;
    str text = read_stream(f, &bad);
    if (f != stdin) {
        fclose(f);
    }
    int rc;
    if (bad) {
        snprintf(err, errlen, "Fatal error, can't read config file '%s'", path);
        rc = -1;
    } else {
        rc = load_text(path, text, str_len(text), depth, err, errlen);
    }
    str_free(text);
    return rc;
}

/* Reads redis.conf syntax: one directive per line, arguments split with
 * quoting rules; the directive's arguments are joined by spaces (so
 * "save 900 1 300 10" stores "900 1 300 10"). */
static int load_text(const char *path, const char *text, size_t len, int depth, char *err, size_t errlen)
{
    int lineno = 0, rc = 0;
    str args = NULL, line = str_empty(256);
    size_t *off = NULL, *lens = NULL, cap = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t llen = nl ? (size_t)(nl - (text + at)) : len - at;
        str_clear(line);
        line = str_append(line, text + at, llen);
        at += llen + (nl != NULL);
        lineno++;
        /* A NUL ends the line, as it did when lines were C strings. */
        size_t ln = strlen(line);
        while (ln && (line[ln - 1] == '\n' || line[ln - 1] == '\r')) {
            line[--ln] = '\0';
        }
        char *p = line;
        while (isspace((unsigned char)*p)) {
            p++;
        }
        if (*p == '#' || *p == '\0') {
            continue;
        }
        if (args) {
            str_clear(args);
        }
        long n = resp_split_args(p, strlen(p), &args, &off, &lens, &cap);
        char msg[512] = "";
        if (n < 0) {
            snprintf(msg, sizeof(msg), "Unbalanced quotes in configuration line");
        } else if (n == 2 && lens[0] == 7 && strncasecmp(args + off[0], "include", 7) == 0) {
            char pattern[PATH_MAX];
            int r = -1;
            if (lens[1] >= sizeof(pattern)) {
                snprintf(msg, sizeof(msg), "include path too long");
            } else {
                snprintf(pattern, sizeof(pattern), "%.*s", (int)lens[1], args + off[1]);
                r = load_include(pattern, depth, msg, sizeof(msg), err, errlen);
            }
            if (r < 0 && !msg[0]) {
                rc = -1; /* the included file's own error is already in err */
                break;
            }
        } else if (n >= 1 && lens[0] == 4 && strncasecmp(args + off[0], "user", 4) == 0) {
            /* A user's rules, applied once the command table exists. */
            sv uargs[256];
            if (n < 2 || n > 257) {
                snprintf(msg, sizeof(msg), "Bad directive or wrong number of arguments");
            } else {
                for (long i = 1; i < n; i++) {
                    uargs[i - 1] = (sv){args + off[i], lens[i]};
                }
                acl_config_user_line(uargs, (int)n - 1, path ? path : "(command line)", lineno);
            }
        } else if (n < 2) {
            /* A directive of several words may have none ("save" alone
             * clears the points; an empty list gets its own error); one of
             * a single value needs it, as in Redis. */
            config_def *d = NULL;
            if (n == 1) {
                char name[256];
                snprintf(name, sizeof(name), "%.*s", (int)lens[0], args + off[0]);
                d = find_def(name);
            }
            if (d && multi_word(d) && d->set != set_replicaof) {
                if (config_set_directive(d->name, "", 0, msg, sizeof(msg)) == 0) {
                    continue;
                }
            } else {
                snprintf(msg, sizeof(msg), "%s",
                         d ? "wrong number of arguments" : "Bad directive or wrong number of arguments");
            }
        } else {
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)lens[0], args + off[0]);
            config_def *d = find_def(name);
            /* One value, or for replicaof exactly two (host and port; an
             * empty one, which older Keel rewrites wrote, reads as none). */
            if (d && ((n > 2 && !multi_word(d)) || (d->set == set_replicaof && n != 3 && lens[1] > 0))) {
                snprintf(msg, sizeof(msg), "wrong number of arguments");
                goto failed;
            }
            str val = str_empty(64);
            /* A module's arguments stay apart: each is quoted. */
            int quote = strcasecmp(name, "loadmodule") == 0;
            for (long i = 1; i < n; i++) {
                if (i > 1) {
                    val = str_append(val, " ", 1);
                }
                val = quote ? str_append_quoted(val, args + off[i], lens[i]) : str_append(val, args + off[i], lens[i]);
            }
            char e[200];
            int r = config_set_directive(name, val, str_len(val), e, sizeof(e));
            str_free(val);
            if (r == -2) {
                snprintf(msg, sizeof(msg), "Bad directive or wrong number of arguments");
            } else if (r < 0) {
                snprintf(msg, sizeof(msg), "%s", e);
            }
        }
    failed:
        if (msg[0] && !path) { /* the command line's options */
            snprintf(err, errlen, "\n*** FATAL CONFIG FILE ERROR (Keel %s) ***\n>>> '%s'\n%s", KEEL_VERSION, p, msg);
            rc = -1;
            break;
        }
        if (msg[0]) {
            snprintf(err, errlen,
                     "\n*** FATAL CONFIG FILE ERROR (Keel %s) ***\nReading the configuration file '%s', at line "
                     "%d\n>>> '%s'\n%s",
                     KEEL_VERSION, path, lineno, p, msg);
            rc = -1;
            break;
        }
    }
    str_free(args);
    str_free(line);
    alloc_free(off);
    alloc_free(lens);
    return rc;
}

/* ---- CONFIG REWRITE ---- */

#define REWRITE_SIGNATURE "# Generated by CONFIG REWRITE"

/* Directives whose value is a list of words the file spells as separate
 * arguments ("save 3600 1 300 100", "bind 127.0.0.1 -::1"); the loader
 * joins them back with single spaces. */
static int multi_word(const config_def *d)
{
    static const char *const names[] = {"save",
                                        "bind",
                                        "client-output-buffer-limit",
                                        "replicaof",
                                        "oom-score-adj-values",
                                        "shutdown-on-sigint",
                                        "shutdown-on-sigterm",
                                        "latency-tracking-info-percentiles",
                                        NULL};
    for (int i = 0; names[i]; i++) {
        if (strcmp(d->name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Appends one argument so resp_split_args reads it back byte for byte:
 * bare when that is unambiguous, else double-quoted with escapes. */
static str append_arg(str out, const char *p, size_t len)
{
    int plain = len > 0;
    for (size_t i = 0; i < len && plain; i++) {
        unsigned char ch = (unsigned char)p[i];
        plain = isgraph(ch) && ch != '"' && ch != '\'' && ch != '\\';
    }
    if (plain) {
        return str_append(out, p, len);
    }
    return str_append_quoted(out, p, len);
}

/* "name value\n" for one directive with its current value. */
static str append_directive(str out, config_def *d)
{
    str val = get_def(d);
    if (d->set == set_replicaof && str_len(val) == 0) {
        str_free(val); /* not a replica: no line, as Redis rewrites it */
        return out;
    }
    if (d->type == CFG_MEM || d->type == CFG_UMEM) {
        /* Operators wrote "100mb": keep whole units readable. */
        unsigned long long v =
            d->type == CFG_UMEM ? *(unsigned long long *)d->ptr : (unsigned long long)*(long long *)d->ptr;
        static const struct {
            unsigned long long unit;
            const char *suffix;
        } units[] = {{1ULL << 30, "gb"}, {1ULL << 20, "mb"}, {1ULL << 10, "kb"}};
        for (size_t i = 0; v > 0 && i < sizeof(units) / sizeof(units[0]); i++) {
            if (v % units[i].unit == 0) {
                str_clear(val);
                val = str_printf(val, "%llu%s", v / units[i].unit, units[i].suffix);
                break;
            }
        }
    }
    size_t len = str_len(val);
    out = str_append_cstr(out, d->name);
    if (multi_word(d) && len > 0) {
        for (size_t i = 0; i < len;) {
            while (i < len && val[i] == ' ') {
                i++;
            }
            size_t start = i;
            while (i < len && val[i] != ' ') {
                i++;
            }
            if (i > start) {
                out = str_append(out, " ", 1);
                out = append_arg(out, val + start, i - start);
            }
        }
    } else {
        out = str_append(out, " ", 1);
        out = append_arg(out, val, len);
    }
    str_free(val);
    return str_append(out, "\n", 1);
}

/* The whole old file, or an empty string when it no longer exists (the
 * rewrite then starts from scratch); NULL with errno set on other errors. */
static str read_whole_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return errno == ENOENT ? str_empty(0) : NULL;
    }
    int bad;
    str s = read_stream(f, &bad);
    fclose(f);
    if (bad) {
        str_free(s);
        errno = EIO;
        return NULL;
    }
    return s;
}

/* Builds the new file text: comments, blank lines and lines the loader
 * would not take as a directive stay verbatim; a directive's first line
 * gets its current value and later duplicates go; directives absent from
 * the file are appended when their value is not the default. */
/* Every ACL user as a "user" line, as Redis's rewrite writes them (none
 * when an aclfile holds the users). */
static str append_users(str out)
{
    if (server.cfg.aclfile && server.cfg.aclfile[0]) {
        return out;
    }
    for (int i = 0; i < acl_user_count(); i++) {
        out = acl_user_describe(out, acl_user_at(i));
        out = str_append(out, "\n", 1);
    }
    return out;
}

static str rewrite_content(const char *old, int force_all)
{
    module_config_rewrite_begin();
    str out = str_empty(strlen(old) + 1024);
    int seen[NDEFS] = {0};
    int has_signature = 0, users_written = 0, modules_written = 0;
    str args = NULL;
    size_t *off = NULL, *lens = NULL, cap = 0;
    for (const char *line = old; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *next = nl ? nl + 1 : line + len;
        size_t plen = len;
        while (plen && line[plen - 1] == '\r') {
            plen--;
        }
        const char *p = line;
        while (p < line + plen && isspace((unsigned char)*p)) {
            p++;
        }
        config_def *d = NULL;
        int is_user = 0, is_loadmodule = 0, is_gone_module_config = 0;
        str module_line = NULL;
        if (p < line + plen && *p != '#') {
            if (args) {
                str_clear(args);
            }
            long n = resp_split_args(p, (size_t)(line + plen - p), &args, &off, &lens, &cap);
            if (n > 0 && lens[0] < 256) {
                char name[256];
                snprintf(name, sizeof(name), "%.*s", (int)lens[0], args + off[0]);
                d = find_def(name);
                is_user = strcasecmp(name, "user") == 0;
                is_loadmodule = strcasecmp(name, "loadmodule") == 0;
                module_line = d ? NULL : module_config_directive(name);
                /* A parameter of a module no longer loaded: kept as a
                 * comment, so the file still starts, as in Redis. */
                is_gone_module_config = !d && !module_line && strchr(name, '.') != NULL;
            }
        } else if (plen == strlen(REWRITE_SIGNATURE) && memcmp(line, REWRITE_SIGNATURE, plen) == 0) {
            has_signature = 1;
        }
        if (is_user) {
            /* The users replace the first user line; the others go. */
            if (!users_written) {
                out = append_users(out);
                users_written = 1;
            }
        } else if (is_loadmodule) {
            /* The modules loaded now replace the first loadmodule line (one
             * unloaded since goes, one loaded since comes), as Redis. */
            if (!modules_written) {
                out = module_loadmodule_lines(out);
                modules_written = 1;
            }
        } else if (module_line) {
            out = str_append(out, module_line, str_len(module_line));
            out = str_append(out, "\n", 1);
            str_free(module_line);
        } else if (is_gone_module_config) {
            out = str_append_cstr(out, "# ??? ");
            out = str_append(out, line, len);
            out = str_append(out, "\n", 1);
        } else if (!d) {
            out = str_append(out, line, len);
            out = str_append(out, "\n", 1);
        } else if (!seen[d - defs]) {
            seen[d - defs] = 1;
            out = append_directive(out, d);
        }
        line = next;
    }
    str_free(args);
    alloc_free(off);
    alloc_free(lens);
    for (int i = 0; i < NDEFS; i++) {
        if (seen[i]) {
            continue;
        }
        str cur = get_def(&defs[i]);
        int changed = str_len(cur) != str_len(default_vals[i]) || memcmp(cur, default_vals[i], str_len(cur)) != 0;
        str_free(cur);
        if (changed || force_all) {
            if (!has_signature) {
                out = str_append_cstr(out, REWRITE_SIGNATURE "\n");
                has_signature = 1;
            }
            out = append_directive(out, &defs[i]);
        }
    }
    if (!modules_written && module_count() > 0) {
        if (!has_signature) {
            out = str_append_cstr(out, REWRITE_SIGNATURE "\n");
            has_signature = 1;
        }
        out = module_loadmodule_lines(out);
    }
    out = module_config_rewrite_rest(out, &has_signature, REWRITE_SIGNATURE);
    if (!users_written && !(server.cfg.aclfile && server.cfg.aclfile[0])) {
        if (!has_signature) {
            out = str_append_cstr(out, REWRITE_SIGNATURE "\n");
        }
        out = append_users(out);
    }
    return out;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Rewrites the config file in place of the old one: the new text goes to a
 * temporary file in the same directory, is fsynced and renamed over the
 * original, so a crash or error leaves either the old file or the new one. */
int config_rewrite(const char *path, int force_all, char *err, size_t errlen)
{
    str old = read_whole_file(path);
    if (!old) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    str content = rewrite_content(old, force_all);
    str_free(old);

    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
    size_t plen = strlen(path);
    char *tmp = alloc_mem(plen + 32);
    snprintf(tmp, plen + 32, "%s.rewrite-XXXXXX", path);
    int fd = mkstemp(tmp), saved = 0, ok = 0;
    if (fd >= 0) {
        ok = fchmod(fd, mode) == 0 && write_all(fd, content, str_len(content)) == 0 && fsync(fd) == 0;
        saved = errno;
        if (close(fd) < 0 && ok) {
            ok = 0;
            saved = errno;
        }
        if (ok && rename(tmp, path) < 0) {
            ok = 0;
            saved = errno;
        }
        if (!ok) {
            unlink(tmp);
        }
    } else {
        saved = errno;
    }
    if (ok) {
        /* Make the rename itself durable; failing here loses nothing. */
        const char *slash = strrchr(path, '/');
        char *dir = slash ? alloc_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : alloc_strdup(".");
        int dfd = open(dir, O_RDONLY);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        alloc_free(dir);
    } else {
        snprintf(err, errlen, "%s", strerror(saved));
    }
    alloc_free(tmp);
    str_free(content);
    return ok ? 0 : -1;
}

void config_rewrite_reply(client *c, int force_all)
{
    char err[256];
    if (!server.config_file) {
        reply_err(c, "ERR The server is running without a config file");
    } else if (config_rewrite(server.config_file, force_all, err, sizeof(err)) < 0) {
        if (force_all) {
            reply_errf(c, "ERR CONFIG-REWRITE-FORCE-ALL failed: %s", err);
            return;
        }
        log_msg(LOG_WARNING, "CONFIG REWRITE failed: %s", err);
        reply_errf(c, "ERR Rewriting config file: %s", err);
    } else {
        if (!force_all) {
            log_msg(LOG_NOTICE, "CONFIG REWRITE executed with success.");
        }
        reply_ok(R(c));
    }
}
