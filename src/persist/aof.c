/* aof: Redis 7's multi-part append-only file. See aof.h.
 *
 * Files, in `appenddirname` under `dir`:
 *   <appendfilename>.manifest        "file <name> seq <n> type <b|h|i>" lines
 *   <appendfilename>.<n>.base.rdb    the snapshot the log starts from
 *   <appendfilename>.<n>.incr.aof    RESP commands (SELECT when the db changes)
 * Loading replays the base and then every incremental file through the
 * command table on a client without a socket. A last command cut short (a
 * crash mid-write) is removed when aof-load-truncated is yes, as Redis
 * does; anything malformed before the end stops start-up, naming the file
 * and the offset. Under `everysec` a helper thread runs fdatasync once a
 * second, so the event loop never waits for the disk. */
#include "persist/aof.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "module/module.h"
#include "persist/rdb.h"
#include "persist/snapshot.h"
#include "proto/resp_parse.h"
#include "repl/repl.h"
#include "server/child.h"
#include "server/latency.h"
#include "server/persistence.h"
#include "server/server.h"

enum { FSYNC_ALWAYS, FSYNC_EVERYSEC, FSYNC_NO };

static struct {
    int on;
    int fd;              /* the incremental file being appended to */
    str buf;             /* commands not yet written */
    int db;              /* the db the file's last SELECT chose */
    int loading;         /* replaying: nothing is appended */
    long long size;      /* bytes in the incremental file */
    int write_ok;        /* the last write succeeded */
    char write_err[160]; /* the MISCONF text while it did not */
    long long fsyncs_delayed;
    int64_t last_fsync_ms;
    /* background fsync */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int fsync_fd;           /* -1: nothing to do */
    _Atomic int fsync_busy; /* read unlocked by the latency events and INFO */
    /* WAITAOF's positions, in bytes of commands ever fed to the log (they
     * run on across files): fed, written to the file, and known to be on
     * disk; with the replication offset each covers (a replica's FACK). */
    long long fed, written, written_reploff;
    _Atomic long long synced, synced_reploff;
    long long job_seq, job_reploff; /* what the background fsync covers */
    int history, job_history;       /* replication offsets of another history never count */
    int base_pending;               /* appendonly turned on: nothing counts as synced
                                       until the first base is in a manifest */
    int thread_started;
    int registered; /* the propagation listener is installed */
    /* the files of the manifest in force */
    long long base_seq, incr_seq;
    /* The base's name as the manifest gave it ("": Redis 7's pattern): an
     * AOF of Redis 6 moved in as the base keeps its old name. */
    char base_name[256];
    long long *old_incrs; /* incremental files a rewrite will retire */
    int nold_incrs;
    /* rewrites */
    int rewrite_scheduled;
    long long rewrites;
    long long rewrite_failures; /* consecutive, since the last success */
    int64_t rewrite_start_ms;   /* of the running rewrite */
    long long last_rewrite_secs;
    int rewrite_timed;   /* a rewrite has ended (else INFO says -1) */
    int rewrite_offline; /* the running rewrite is BGREWRITEAOF with the AOF off */
    int last_rewrite_ok;
    int rewriting;
    long long base_size; /* the log's size after the last rewrite (or start) */
    long long rewrite_base_seq;
    /* Which bases are commands (aof-use-rdb-preamble no) rather than RDB:
     * the current one and the one a rewrite is writing. */
    int base_commands, rewrite_commands;
    long long last_ts; /* second of the last "#TS:" annotation; 0 in a new file */
} aof = {.fd = -1, .db = -1, .write_ok = 1, .fsync_fd = -1, .last_rewrite_ok = 1};

static int policy(void)
{
    const char *p = server.cfg.appendfsync ? server.cfg.appendfsync : "everysec";
    return strcmp(p, "always") == 0 ? FSYNC_ALWAYS : strcmp(p, "no") == 0 ? FSYNC_NO : FSYNC_EVERYSEC;
}

static const char *dirname_cfg(void)
{
    return server.cfg.appenddirname && server.cfg.appenddirname[0] ? server.cfg.appenddirname : "appendonlydir";
}

static const char *basename_cfg(void)
{
    return server.cfg.appendfilename && server.cfg.appendfilename[0] ? server.cfg.appendfilename : "appendonly.aof";
}

static void file_name(char *out, size_t cap, long long seq, int base);
static void path_in_dir(char *out, size_t cap, const char *name);
static int busy(void);

/* no-appendfsync-on-rewrite yes: no fsync while a snapshot or rewrite
 * writes to the same disk (Redis's trade of durability for latency). */
static int fsync_paused(void)
{
    return server.cfg.no_appendfsync_on_rewrite && busy();
}

/* ---- what is on disk (WAITAOF) ---- */

/* Everything fed up to seq, and the replication stream up to reploff, is
 * on disk. Both only grow; the fsync thread and the main thread both call
 * this, under aof.lock when the thread runs. */
static void note_synced(long long seq, long long reploff)
{
    if (seq > aof.synced) {
        aof.synced = seq;
    }
    if (reploff > aof.synced_reploff) {
        aof.synced_reploff = reploff;
    }
}

/* note_synced from the main thread. */
static void synced_through(long long seq, long long reploff)
{
    if (aof.thread_started) {
        pthread_mutex_lock(&aof.lock);
    }
    note_synced(seq, reploff);
    if (aof.thread_started) {
        pthread_mutex_unlock(&aof.lock);
    }
}

/* After a synchronous fsync of everything written. */
static void synced_all_written(void)
{
    synced_through(aof.written, aof.written_reploff);
}

void aof_new_history(void)
{
    if (aof.thread_started) {
        pthread_mutex_lock(&aof.lock);
    }
    aof.history++;
    aof.synced_reploff = 0;
    aof.written_reploff = 0;
    aof.base_pending = aof.on;
    if (aof.thread_started) {
        pthread_mutex_unlock(&aof.lock);
    }
}

long long aof_fed(void)
{
    return aof.fed;
}

int aof_synced_through(long long seq)
{
    return aof.on && !aof.base_pending && aof.synced >= seq;
}

long long aof_fsynced_reploff(void)
{
    return aof.on && !aof.base_pending ? (long long)aof.synced_reploff : -1;
}

/* ---- the background fsync thread ---- */

static void *fsync_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&aof.lock);
    for (;;) {
        while (aof.fsync_fd < 0) {
            pthread_cond_wait(&aof.cond, &aof.lock);
        }
        int fd = aof.fsync_fd;
        long long seq = aof.job_seq, reploff = aof.job_reploff;
        int history = aof.job_history;
        aof.fsync_fd = -1;
        aof.fsync_busy = 1;
        pthread_mutex_unlock(&aof.lock);
        int ok = fdatasync(fd) == 0;
        pthread_mutex_lock(&aof.lock);
        aof.fsync_busy = 0;
        if (ok) {
            note_synced(seq, history == aof.history ? reploff : -1);
        }
    }
    return NULL;
}

static void start_fsync_thread(void)
{
    if (aof.thread_started) {
        return;
    }
    pthread_mutex_init(&aof.lock, NULL);
    pthread_cond_init(&aof.cond, NULL);
    if (pthread_create(&aof.thread, NULL, fsync_main, NULL) == 0) {
        pthread_detach(aof.thread);
        aof.thread_started = 1;
    }
}

/* ---- appending ---- */

/* The propagation listener: every write, in the order it happened. */
static void aof_feed(int dbid, sv *argv, int argc)
{
    if (!aof.on || aof.loading) {
        return;
    }
    /* aof-timestamp-enabled: a "#TS:<unix seconds>" line before the first
     * write of each second, as Redis writes them (replay skips them). */
    if (server.cfg.aof_timestamp_enabled) {
        long long now = server_ms() / 1000;
        if (now > aof.last_ts) {
            aof.buf = str_printf(aof.buf, "#TS:%lld\r\n", now);
            aof.last_ts = now;
        }
    }
    size_t before = str_len(aof.buf);
    aof.buf = resp_append_command_in_db(aof.buf, &aof.db, dbid, argv, argc);
    aof.fed += (long long)(str_len(aof.buf) - before);
}

/* DEBUG AOF-WRITE-ERROR: writes fail with ENOSPC (tests of a full disk). */
static int debug_fail_writes;

void aof_debug_fail_writes(int on)
{
    debug_fail_writes = on;
}

/* DEBUG AOF-FLUSH-SLEEP: each write of the buffer first waits this long
 * (Redis's hook for tests of the fsync-always reply barrier). */
static long long debug_flush_sleep_us;

void aof_debug_flush_sleep(long long us)
{
    debug_flush_sleep_us = us > 0 ? us : 0;
}

void aof_flush(void)
{
    if (!aof.on) {
        return;
    }
    if (str_len(aof.buf) == 0) {
        /* Idle with everything on disk: the replication stream since then
         * brought nothing for the log (pings, acks), so it is covered too. */
        if (aof.synced == aof.fed && aof.synced_reploff < repl.offset) {
            synced_through(aof.fed, repl.offset);
        }
        return;
    }
    size_t done = 0, len = str_len(aof.buf);
    if (debug_flush_sleep_us) {
        usleep((useconds_t)(debug_flush_sleep_us < 10000000 ? debug_flush_sleep_us : 10000000));
    }
    int64_t start = util_mono_us();
    while (done < len) {
        ssize_t n = debug_fail_writes ? (errno = ENOSPC, -1) : write(aof.fd, aof.buf + done, len - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (aof.write_ok) {
                log_msg(LOG_WARNING, "Error writing to the AOF file: %s", strerror(errno));
            }
            snprintf(aof.write_err, sizeof(aof.write_err), "MISCONF Errors writing to the AOF file: %s",
                     strerror(errno));
            aof.write_ok = 0;
            break;
        }
        done += (size_t)n;
    }
    aof.size += (long long)done;
    /* Redis's latency events for the write: what else was going on, and
     * the write itself. */
    int64_t ms = (util_mono_us() - start) / 1000;
    latency_add(aof.fsync_busy ? "aof-write-pending-fsync" : busy() ? "aof-write-active-child" : "aof-write-alone", ms);
    latency_add("aof-write", ms);
    if (done < len && policy() == FSYNC_ALWAYS) {
        /* The replies waiting for this write must never say it is safe. */
        log_msg(LOG_WARNING, "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
        exit(1);
    }
    /* Keep what could not be written: it is retried on the next flush. */
    memmove(aof.buf, aof.buf + done, len - done);
    str_set_len(aof.buf, len - done);
    aof.written += (long long)done;
    if (done == len) {
        aof.written_reploff = repl.offset;
        if (!aof.write_ok) {
            log_msg(LOG_WARNING, "AOF write error looks solved, Keel can write again.");
        }
        aof.write_ok = 1;
    }
    if (done && policy() == FSYNC_ALWAYS && !fsync_paused()) {
        start = util_mono_us();
        int rc = fdatasync(aof.fd);
        latency_add("aof-fsync-always", (util_mono_us() - start) / 1000);
        if (rc != 0) {
            log_msg(LOG_WARNING, "Can't persist the AOF on disk: fdatasync: %s", strerror(errno));
            snprintf(aof.write_err, sizeof(aof.write_err), "MISCONF Errors writing to the AOF file: %s",
                     strerror(errno));
            aof.write_ok = 0;
        } else {
            synced_all_written();
        }
        aof.last_fsync_ms = server_ms();
    }
}

const char *aof_write_error(void)
{
    return aof.on && !aof.write_ok ? aof.write_err : NULL;
}

/* The log's size: the base file and the incremental files. */
static long long current_size(void)
{
    long long total = aof.size;
    char name[512], path[PATH_MAX];
    struct stat st;
    if (aof.base_seq > 0) {
        file_name(name, sizeof(name), aof.base_seq, 1);
        path_in_dir(path, sizeof(path), name);
        if (stat(path, &st) == 0) {
            total += (long long)st.st_size;
        }
    }
    for (int i = 0; i < aof.nold_incrs; i++) {
        file_name(name, sizeof(name), aof.old_incrs[i], 0);
        path_in_dir(path, sizeof(path), name);
        if (stat(path, &st) == 0) {
            total += (long long)st.st_size;
        }
    }
    return total;
}

/* auto-aof-rewrite-percentage / -min-size: rewrite when the log has grown
 * by that percentage since the last rewrite, as Redis does. */
static void auto_rewrite(void)
{
    if (!aof.on || aof.rewriting || aof.rewrite_scheduled || busy() || server.cfg.auto_aof_rewrite_percentage <= 0) {
        return;
    }
    long long size = current_size(), base = aof.base_size ? aof.base_size : 1;
    if (size < server.cfg.auto_aof_rewrite_min_size) {
        return;
    }
    if ((size - base) * 100 / base >= server.cfg.auto_aof_rewrite_percentage) {
        log_msg(LOG_NOTICE, "Starting automatic rewriting of AOF on %lld%% growth", (size - base) * 100 / base);
        aof_rewrite();
    }
}

void aof_cron(void)
{
    auto_rewrite();
    if (!aof.on || policy() != FSYNC_EVERYSEC) {
        return;
    }
    int64_t now = server_ms();
    if (now - aof.last_fsync_ms < 1000) {
        return;
    }
    if (fsync_paused()) {
        return;
    }
    pthread_mutex_lock(&aof.lock);
    if (aof.fsync_busy || aof.fsync_fd >= 0) {
        aof.fsyncs_delayed++; /* the disk is slower than a second: note it, as Redis does */
    } else if (aof.synced < aof.written) {
        aof.fsync_fd = aof.fd;
        aof.job_seq = aof.written;
        aof.job_reploff = aof.written_reploff;
        aof.job_history = aof.history;
        pthread_cond_signal(&aof.cond);
        aof.last_fsync_ms = now;
    }
    pthread_mutex_unlock(&aof.lock);
}

int aof_initial_rewrite_pending(void)
{
    return aof.on && aof.base_pending;
}

void aof_stop(void)
{
    if (!aof.on) {
        return;
    }
    aof_flush();
    if (fsync(aof.fd) == 0) {
        synced_all_written();
    }
}

size_t aof_buffer_memory(void)
{
    return aof.buf ? str_mem(aof.buf) : 0;
}

str aof_info(str s)
{
    s = str_printf(s,
                   "aof_enabled:%d\r\n"
                   "aof_rewrite_in_progress:%d\r\n"
                   "aof_rewrite_scheduled:%d\r\n"
                   "aof_last_rewrite_time_sec:%lld\r\n"
                   "aof_current_rewrite_time_sec:%lld\r\n"
                   "aof_last_bgrewrite_status:%s\r\n"
                   "aof_rewrites:%lld\r\n"
                   "aof_rewrites_consecutive_failures:%lld\r\n"
                   "aof_last_write_status:%s\r\n"
                   "aof_last_cow_size:%zu\r\n",
                   aof.on, aof.rewriting, aof.rewrite_scheduled, aof.rewrite_timed ? aof.last_rewrite_secs : -1LL,
                   aof.rewriting ? (long long)((server_ms() - aof.rewrite_start_ms) / 1000) : -1LL,
                   aof.last_rewrite_ok ? "ok" : "err", aof.rewrites, aof.rewrite_failures, aof.write_ok ? "ok" : "err",
                   child_cow_info()->last_aof);
    if (aof.on) {
        s = str_printf(s,
                       "aof_current_size:%lld\r\naof_base_size:%lld\r\naof_pending_rewrite:%d\r\n"
                       "aof_buffer_length:%zu\r\naof_pending_bio_fsync:%d\r\naof_delayed_fsync:%lld\r\n",
                       current_size(), aof.base_size, aof.rewrite_scheduled, str_len(aof.buf), aof.fsync_busy,
                       aof.fsyncs_delayed);
    }
    return s;
}

/* ---- the manifest ---- */

typedef struct manifest_file {
    char name[256];
    long long seq;
    char type; /* 'b' base, 'h' history, 'i' incremental */
} manifest_file;

typedef struct manifest {
    manifest_file *files;
    int n;
} manifest;

/* One manifest line: "file <name> seq <n> type <b|h|i>", in any order,
 * the name quoted as Redis quotes it when it has spaces; keys Keel does not
 * know are skipped (a later version's). 0, or -1 with why in err. */
static int manifest_line(const char *line, size_t len, manifest_file *mf, const char **err)
{
    str args = NULL;
    size_t *off = NULL, *lens = NULL, cap = 0;
    long n = resp_split_args(line, len, &args, &off, &lens, &cap);
    int have_file = 0, have_seq = 0, have_type = 0, rc = 0;
    *err = "Invalid AOF manifest file format";
    if (n < 6 || n % 2) {
        rc = -1;
    }
    for (long k = 0; rc == 0 && k + 1 < n; k += 2) {
        sv key = {args + off[k], lens[k]}, v = {args + off[k + 1], lens[k + 1]};
        if (sv_eq_ci(key, "file")) {
            if (v.len == 0 || v.len >= sizeof(mf->name) || memchr(v.ptr, '/', v.len) || memchr(v.ptr, '\0', v.len)) {
                rc = -1;
            } else {
                memcpy(mf->name, v.ptr, v.len);
                mf->name[v.len] = '\0';
                have_file = 1;
            }
        } else if (sv_eq_ci(key, "seq")) {
            rc = util_parse_ll(v.ptr, v.len, &mf->seq) && mf->seq > 0 ? 0 : -1;
            have_seq = 1;
        } else if (sv_eq_ci(key, "type")) {
            if (v.len != 1 || (v.ptr[0] != 'b' && v.ptr[0] != 'h' && v.ptr[0] != 'i')) {
                *err = "Unknown AOF file type";
                rc = -1;
            }
            mf->type = v.len ? v.ptr[0] : 0;
            have_type = 1;
        }
    }
    str_free(args);
    alloc_free(off);
    alloc_free(lens);
    return rc == 0 && have_file && have_seq && have_type ? 0 : -1;
}

/* Parses the manifest at path; 1 ok, 0 no such file, -1 malformed (logged
 * with Redis's words, so the operator knows what to fix). As Redis: blank
 * or over-long lines, a second base, incremental files out of order and an
 * empty manifest are refused rather than loaded in part. */
static int manifest_read(const char *path, manifest *m)
{
    m->files = NULL;
    m->n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        return errno == ENOENT ? 0 : -1;
    }
    enum { MAX_LINE = 1024 };
    char line[MAX_LINE + 2];
    const char *err = NULL;
    int bases = 0;
    long long last_incr = 0;
    while (!err && fgets(line, sizeof(line), f)) {
        size_t l = strlen(line);
        if (l > MAX_LINE && line[l - 1] != '\n') {
            err = "The AOF manifest file contains too long line";
            break;
        }
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) {
            line[--l] = '\0';
        }
        if (l > 0 && line[0] == '#') {
            continue;
        }
        manifest_file mf = {{0}, 0, 0};
        if (manifest_line(line, l, &mf, &err) < 0) {
            break;
        }
        err = NULL;
        if (mf.type == 'b' && ++bases > 1) {
            err = "Found duplicate base file information";
        } else if (mf.type == 'i' && mf.seq <= last_incr) {
            err = "Found a non-monotonic sequence number";
        }
        last_incr = mf.type == 'i' ? mf.seq : last_incr;
        m->files = alloc_resize(m->files, sizeof(manifest_file) * (size_t)(m->n + 1));
        m->files[m->n++] = mf;
    }
    fclose(f);
    if (!err && m->n == 0) {
        err = "Found an empty AOF manifest";
    }
    if (err) {
        log_msg(LOG_WARNING, "%s: %s", err, path);
        return -1;
    }
    return 1;
}

/* "file <name>": quoted when the name has spaces or quotes, as Redis. */
static str manifest_name(str text, const char *name)
{
    text = str_append_cstr(text, "file ");
    if (strpbrk(name, " \t\"'\\")) {
        return str_append_quoted(text, name, strlen(name));
    }
    return str_append_cstr(text, name);
}

static int write_file_synced(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return -1;
    }
    int ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    int dfd = open(dirname_cfg(), O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself must survive a crash */
        close(dfd);
    }
    return 0;
}

/* ---- replay ---- */

/* A strict reader of RESP arrays of bulk strings from a file. */
typedef struct cmd_reader {
    FILE *f;
    long long pos, size;
} cmd_reader;

enum { READ_OK, READ_EOF, READ_SHORT, READ_BAD };

static int read_line_ll(cmd_reader *r, char lead, long long *v)
{
    int c = fgetc(r->f);
    if (c == EOF) {
        return READ_SHORT;
    }
    if (c != lead) {
        return READ_BAD;
    }
    r->pos++;
    long long n = 0;
    int digits = 0;
    for (;;) {
        c = fgetc(r->f);
        if (c == EOF) {
            return READ_SHORT;
        }
        r->pos++;
        if (c == '\r') {
            break;
        }
        if (c < '0' || c > '9' || digits >= 18) {
            return READ_BAD; /* 18 digits at most: n * 10 + 9 cannot overflow */
        }
        n = n * 10 + (c - '0');
        digits++;
    }
    c = fgetc(r->f);
    if (c == EOF) {
        return READ_SHORT;
    }
    r->pos++;
    if (c != '\n' || digits == 0) {
        return READ_BAD;
    }
    *v = n;
    return READ_OK;
}

/* One command: argv strings (owned) into *out. */
static int read_command(cmd_reader *r, str **out, int *argc)
{
    int c = fgetc(r->f);
    /* Annotations ("#TS:..." lines of aof-timestamp-enabled) are skipped;
     * one cut short is a torn tail like any other. */
    while (c == '#') {
        r->pos++;
        while ((c = fgetc(r->f)) != EOF && c != '\n') {
            r->pos++;
        }
        if (c == EOF) {
            return READ_SHORT;
        }
        r->pos++;
        c = fgetc(r->f);
    }
    if (c == EOF) {
        return READ_EOF;
    }
    ungetc(c, r->f);
    long long n;
    int rc = read_line_ll(r, '*', &n);
    if (rc != READ_OK) {
        return rc;
    }
    /* Every argument takes at least 4 bytes ("$0\r\n" is shorter than
     * "$0\r\n\r\n"): a count beyond that is not a command. */
    if (n < 1 || n > (r->size - r->pos) / 4 + 1) {
        return n < 1 ? READ_BAD : READ_SHORT;
    }
    str *argv = alloc_mem(sizeof(str) * (size_t)n);
    int got = 0;
    for (; got < n; got++) {
        long long len;
        rc = read_line_ll(r, '$', &len);
        if (rc != READ_OK) {
            break;
        }
        if (len > r->size - r->pos) {
            rc = READ_SHORT;
            break;
        }
        str s = str_empty((size_t)len);
        str_set_len(s, (size_t)len);
        char crlf[2];
        if (fread(s, 1, (size_t)len, r->f) != (size_t)len || fread(crlf, 1, 2, r->f) != 2) {
            str_free(s);
            rc = READ_SHORT;
            break;
        }
        r->pos += len + 2;
        if (crlf[0] != '\r' || crlf[1] != '\n') {
            str_free(s);
            rc = READ_BAD;
            break;
        }
        argv[got] = s;
    }
    if (got < n) {
        for (int i = 0; i < got; i++) {
            str_free(argv[i]);
        }
        alloc_free(argv);
        return rc;
    }
    *out = argv;
    *argc = (int)n;
    return READ_OK;
}

static void free_argv(str *argv, int argc)
{
    for (int i = 0; i < argc; i++) {
        str_free(argv[i]);
    }
    alloc_free(argv);
}

static client *replay_client;

/* Runs one logged command; -1 if the command (or a container's
 * subcommand) is unknown, -2 if its argument count is wrong for it
 * (handlers trust dispatch's arity gate, which a replay does not pass
 * through). */
static int replay(str *argv, int argc)
{
    client *c = replay_client;
    command *cmd = cmd_lookup(argv[0], str_len(argv[0]));
    if (!cmd) {
        /* The log holds internal names too (DEL, PEXPIREAT, MULTI), and
         * they must load whatever rename-command did to them. */
        cmd = cmd_lookup_original(argv[0], str_len(argv[0]));
    }
    if (!cmd) {
        return -1;
    }
    if (cmd->arity > 0 ? argc != cmd->arity : argc < -cmd->arity) {
        return -2;
    }
    if (cmd->nsubs && argc >= 2) {
        /* A container's subcommand, checked as dispatch checks it. */
        sv sub_argv[2] = {{argv[0], str_len(argv[0])}, {argv[1], str_len(argv[1])}};
        command *sub = cmd_resolve(cmd, sub_argv, 2);
        if (!sub) {
            return -1;
        }
        if (sub->arity > 0 ? argc != sub->arity : argc < -sub->arity) {
            return -2;
        }
        cmd = sub;
    }
    if (argc > c->argv_cap) {
        c->argv_cap = argc;
        c->argv = alloc_resize(c->argv, sizeof(sv) * (size_t)argc);
    }
    for (int i = 0; i < argc; i++) {
        c->argv[i] = (sv){argv[i], str_len(argv[i])};
    }
    c->argc = argc;
    server_update_time();
    db_set_time(server.now_ms);
    dispatch_call(c, cmd);
    client_end_command(c);
    c->out.len = 0; /* replies of a replay go nowhere */
    c->out.sent = 0;
    return 0;
}

typedef struct pending_cmd {
    str *argv;
    int argc;
} pending_cmd;

/* Replays an incremental (or command-form base) file. The last file may
 * end in a command cut short; it is cut off when allowed. */
static int replay_file(const char *path, long long from, int last)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        log_msg(LOG_WARNING, "Can't open the append-only file %s for reading: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    fstat(fileno(f), &st);
    if (from > 0 && fseeko(f, (off_t)from, SEEK_SET) != 0) {
        log_msg(LOG_WARNING, "Can't seek in the append-only file %s: %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    cmd_reader r = {f, from, (long long)st.st_size};
    long long valid = 0, cmds = 0;
    /* MULTI ... EXEC replays whole or not at all. */
    pending_cmd *tx = NULL;
    int ntx = 0, in_tx = 0;
    long long tx_start = 0;
    int rc;
    for (;;) {
        str *argv;
        int argc;
        long long start = r.pos;
        rc = read_command(&r, &argv, &argc);
        if (rc != READ_OK) {
            break;
        }
        int is_multi = str_len(argv[0]) == 5 && strncasecmp(argv[0], "MULTI", 5) == 0;
        int is_exec = str_len(argv[0]) == 4 && strncasecmp(argv[0], "EXEC", 4) == 0;
        if (is_multi) {
            in_tx = 1;
            tx_start = start;
            free_argv(argv, argc);
        } else if (is_exec && in_tx) {
            for (int i = 0; i < ntx; i++) {
                if (replay(tx[i].argv, tx[i].argc) < 0) {
                    rc = READ_BAD;
                }
                free_argv(tx[i].argv, tx[i].argc);
            }
            ntx = 0;
            in_tx = 0;
            free_argv(argv, argc);
            valid = r.pos;
        } else if (in_tx) {
            tx = alloc_resize(tx, sizeof(pending_cmd) * (size_t)(ntx + 1));
            tx[ntx].argv = argv;
            tx[ntx++].argc = argc;
        } else {
            int bad = replay(argv, argc);
            if (bad < 0) {
                if (bad == -1) {
                    log_msg(LOG_WARNING, "Unknown command '%.*s' reading the append only file %s",
                            (int)str_len(argv[0]), argv[0], path);
                } else {
                    log_msg(LOG_WARNING,
                            "Bad file format reading the append only file %s: wrong number of arguments for '%.*s'",
                            path, (int)str_len(argv[0]), argv[0]);
                }
                free_argv(argv, argc);
                fclose(f);
                alloc_free(tx);
                return -1;
            }
            free_argv(argv, argc);
            valid = r.pos;
        }
        if ((++cmds & 1023) == 1) { /* from the first command on */
            persistence_loading_progress(r.pos, r.size, 1);
        }
        if (server.cfg.key_load_delay) {
            rdb_debug_delay(server.cfg.key_load_delay); /* Redis's test knob: per command here */
        }
        if (rc == READ_BAD) {
            break;
        }
    }
    for (int i = 0; i < ntx; i++) {
        free_argv(tx[i].argv, tx[i].argc);
    }
    alloc_free(tx);
    fclose(f);
    if (rc == READ_EOF && in_tx) {
        rc = READ_SHORT; /* a transaction without its EXEC: as if cut short */
        valid = tx_start;
    }
    if (rc == READ_BAD) {
        log_msg(LOG_WARNING,
                "Bad file format reading the append only file %s at offset %lld: make a backup of your AOF file, "
                "then use keel-check-aof --fix <filename.manifest>",
                path, valid);
        return -1;
    }
    if (rc == READ_SHORT) {
        if (!last || !server.cfg.aof_load_truncated) {
            log_msg(LOG_WARNING,
                    "Unexpected end of file reading the append only file %s at offset %lld. You can: 1) Make a "
                    "backup of your AOF file, then use keel-check-aof --fix <filename.manifest>. 2) Alternatively "
                    "you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                    path, valid);
            return -1;
        }
        log_msg(LOG_WARNING, "!!! Warning: short read while loading the AOF file %s!!!", path);
        log_msg(LOG_WARNING, "!!! Truncating the AOF %s at offset %lld !!!", path, valid);
        if (truncate(path, valid) != 0) {
            log_msg(LOG_WARNING, "Error truncating the AOF file %s: %s", path, strerror(errno));
            return -1;
        }
        log_msg(LOG_WARNING, "AOF %s loaded anyway because aof-load-truncated is enabled", path);
    }
    log_msg(LOG_NOTICE, "DB loaded from incr file %s: %lld commands", path, cmds);
    return 0;
}

/* A base file: an RDB snapshot or (aof-use-rdb-preamble no) commands;
 * an AOF of Redis 6 moved in as the base may go on with commands after
 * its RDB preamble. last: no incremental file follows (a torn command at
 * the end may then be cut off, as in Redis). */
static int load_base(const char *path, int last)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        log_msg(LOG_WARNING, "Can't open the AOF base file %s for reading: %s", path, strerror(errno));
        return -1;
    }
    char sig[5] = {0};
    size_t n = fread(sig, 1, 5, f);
    fclose(f);
    if (n == 5 && memcmp(sig, "REDIS", 5) == 0) {
        char err[512];
        uint64_t end = 0;
        if (rdb_load_file_end(path, &end, err, sizeof(err)) != 0) {
            log_msg(LOG_WARNING, "Error loading the AOF base file %s: %s", path, err);
            return -1;
        }
        log_msg(LOG_NOTICE, "DB loaded from base file %s", path);
        struct stat st;
        if (stat(path, &st) == 0 && (uint64_t)st.st_size > end) {
            return replay_file(path, (long long)end, last);
        }
        return 0;
    }
    return replay_file(path, 0, last);
}

static void path_in_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dirname_cfg(), name);
}

static void manifest_path(char out[PATH_MAX])
{
    char name[512];
    snprintf(name, sizeof(name), "%s.manifest", basename_cfg());
    path_in_dir(out, PATH_MAX, name);
}

static long long top_seq(const manifest *m)
{
    long long top = 0;
    for (int i = 0; i < m->n; i++) {
        top = m->files[i].seq > top ? m->files[i].seq : top;
    }
    return top;
}

static long long top_incr_seq(const manifest *m)
{
    long long top = 0;
    for (int i = 0; i < m->n; i++) {
        top = m->files[i].type != 'b' && m->files[i].seq > top ? m->files[i].seq : top;
    }
    return top;
}

/* The highest sequence number the manifest on disk uses (0: none), so new
 * files never take an old name. */
static long long manifest_top_seq(void)
{
    char mpath[PATH_MAX];
    manifest_path(mpath);
    manifest m;
    long long top = manifest_read(mpath, &m) == 1 ? top_seq(&m) : 0;
    alloc_free(m.files);
    return top;
}

/* Redis's names: <appendfilename>.<seq>.incr.aof, and .base.rdb or, for
 * a base written as commands, .base.aof. */
static void file_name(char *out, size_t cap, long long seq, int base)
{
    if (base && seq == aof.base_seq && aof.base_name[0]) {
        snprintf(out, cap, "%s", aof.base_name);
        return;
    }
    int commands = base && (seq == aof.rewrite_base_seq ? aof.rewrite_commands : aof.base_commands);
    snprintf(out, cap, "%s.%lld.%s", basename_cfg(), seq, !base ? "incr.aof" : commands ? "base.aof" : "base.rdb");
}

/* The form a new base is written in. */
static rdb_form base_form(void)
{
    return server.cfg.aof_use_rdb_preamble ? RDB_FORM_RDB : RDB_FORM_COMMANDS;
}

/* Writes the manifest: the base (if any), the retired incremental files a
 * rewrite has not yet replaced, and the current incremental file. */
static int write_manifest(long long base_seq, const long long *incrs, int nincrs, long long incr_seq)
{
    str text = str_empty(256);
    char name[512];
    if (base_seq > 0) {
        file_name(name, sizeof(name), base_seq, 1);
        text = str_printf(manifest_name(text, name), " seq %lld type b\n", base_seq);
    }
    for (int i = 0; i < nincrs; i++) {
        file_name(name, sizeof(name), incrs[i], 0);
        text = str_printf(manifest_name(text, name), " seq %lld type i\n", incrs[i]);
    }
    if (incr_seq > 0) { /* none after a rewrite with the AOF off */
        file_name(name, sizeof(name), incr_seq, 0);
        text = str_printf(manifest_name(text, name), " seq %lld type i\n", incr_seq);
    }
    char mpath[PATH_MAX];
    manifest_path(mpath);
    int rc = write_file_synced(mpath, text, str_len(text));
    if (rc < 0) {
        log_msg(LOG_WARNING, "Can't write the AOF manifest %s: %s", mpath, strerror(errno));
    }
    str_free(text);
    return rc;
}

/* Starts appending to a new (empty) incremental file of sequence seq. */
static int open_new_incr(long long seq)
{
    char name[512], path[PATH_MAX];
    file_name(name, sizeof(name), seq, 0);
    path_in_dir(path, sizeof(path), name);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        log_msg(LOG_WARNING, "Can't create the AOF file %s: %s", path, strerror(errno));
        return -1;
    }
    if (aof.fd >= 0) {
        aof_flush();
        if (fsync(aof.fd) == 0) {
            synced_all_written();
        }
        close(aof.fd);
    }
    aof.fd = fd;
    aof.size = 0;
    aof.db = -1;     /* the new file starts with a SELECT */
    aof.last_ts = 0; /* and, with timestamps on, a "#TS:" line */
    aof.incr_seq = seq;
    return 0;
}

/* ---- rewrites ---- */

static int rewrite_child(void)
{
    char name[512], path[PATH_MAX], err[512];
    file_name(name, sizeof(name), aof.rewrite_base_seq, 1);
    path_in_dir(path, sizeof(path), name);
    if (rdb_save_file(path, aof.rewrite_commands ? RDB_FORM_COMMANDS : RDB_FORM_RDB, err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "AOF rewrite: %s", err);
        return -1;
    }
    return 0;
}

static void unlink_file(long long seq, int base)
{
    char name[512], path[PATH_MAX];
    file_name(name, sizeof(name), seq, base);
    path_in_dir(path, sizeof(path), name);
    unlink(path);
}

static void rewrite_done_offline(int ok);
static void unlink_manifest_files(const manifest *m, long long keep_seq);

/* The files an earlier run of the log left (CONFIG SET appendonly no, then
 * yes): the first rewrite after the log is back replaces them. */
static manifest stale_files;

/* INFO aof_last_bgrewrite_status and aof_rewrites_consecutive_failures. */
static void rewrite_outcome(int ok)
{
    aof.last_rewrite_ok = ok;
    aof.rewrite_failures = ok ? 0 : aof.rewrite_failures + 1;
}

static void rewrite_done(int ok)
{
    module_event_persistence(ok ? 3 : 4); /* ENDED or FAILED */
    if (aof.rewrite_offline) {
        rewrite_done_offline(ok);
        return;
    }
    aof.rewriting = 0;
    aof.last_rewrite_secs = (server_ms() - aof.rewrite_start_ms) / 1000;
    aof.rewrite_timed = 1;
    rewrite_outcome(ok);
    if (!ok || !aof.on) {
        log_msg(LOG_WARNING, "Background AOF rewrite failed");
        unlink_file(aof.rewrite_base_seq, 1);
        return;
    }
    /* The new base holds everything up to the current incremental file:
     * the older files can go once the manifest says so. Installing the
     * manifest (written, synced, renamed over the old one) is Redis's
     * "aof-rename" latency event. */
    int64_t start = util_mono_us();
    int installed = write_manifest(aof.rewrite_base_seq, NULL, 0, aof.incr_seq);
    latency_add("aof-rename", (util_mono_us() - start) / 1000);
    if (installed < 0) {
        rewrite_outcome(0);
        unlink_file(aof.rewrite_base_seq, 1);
        return;
    }
    if (aof.base_seq > 0) {
        unlink_file(aof.base_seq, 1);
    }
    for (int i = 0; i < aof.nold_incrs; i++) {
        unlink_file(aof.old_incrs[i], 0);
    }
    aof.nold_incrs = 0;
    unlink_manifest_files(&stale_files, -1);
    alloc_free(stale_files.files);
    stale_files.files = NULL;
    stale_files.n = 0;
    aof.base_seq = aof.rewrite_base_seq;
    aof.base_name[0] = '\0';
    aof.base_commands = aof.rewrite_commands;
    aof.rewrites++;
    aof.base_size = current_size();
    aof.base_pending = 0;
    log_msg(LOG_NOTICE, "Background AOF rewrite finished successfully");
}

/* The files a manifest names (what an offline rewrite replaces). */
static void unlink_manifest_files(const manifest *m, long long keep_seq)
{
    for (int i = 0; i < m->n; i++) {
        if (!(m->files[i].type == 'b' && m->files[i].seq == keep_seq)) {
            char path[PATH_MAX];
            path_in_dir(path, sizeof(path), m->files[i].name);
            unlink(path);
        }
    }
}

static void rewrite_done_offline(int ok)
{
    aof.rewrite_offline = 0;
    aof.rewriting = 0;
    aof.last_rewrite_secs = (server_ms() - aof.rewrite_start_ms) / 1000;
    aof.rewrite_timed = 1;
    rewrite_outcome(ok);
    if (!ok) {
        log_msg(LOG_WARNING, "Background AOF rewrite failed");
        unlink_file(aof.rewrite_base_seq, 1);
        return;
    }
    char mpath[PATH_MAX];
    manifest_path(mpath);
    manifest old;
    int had = manifest_read(mpath, &old) == 1;
    if (write_manifest(aof.rewrite_base_seq, NULL, 0, 0) < 0) {
        rewrite_outcome(0);
        unlink_file(aof.rewrite_base_seq, 1);
    } else {
        if (had) {
            unlink_manifest_files(&old, aof.rewrite_base_seq);
        }
        aof.rewrites++;
        log_msg(LOG_NOTICE, "Background AOF rewrite finished successfully");
    }
    alloc_free(old.files);
}

/* The new base: a forkless snapshot, or a forked child writing it. */
static int start_base_writer(void)
{
    int rc;
    aof.rewrite_commands = base_form() == RDB_FORM_COMMANDS;
    if (server.cfg.bgsave_forkless) {
        char name[512], path[PATH_MAX];
        file_name(name, sizeof(name), aof.rewrite_base_seq, 1);
        path_in_dir(path, sizeof(path), name);
        rc = snapshot_start(path, base_form(), rewrite_done);
    } else {
        rc = child_start(CHILD_AOF, rewrite_child, rewrite_done);
    }
    if (rc == 0) {
        aof.rewriting = 1;
        aof.rewrite_start_ms = server_ms();
        module_event_persistence(1); /* AOF_START */
        log_msg(LOG_NOTICE, "Background append only file rewriting started");
    }
    return rc;
}

static int busy(void)
{
    return child_running() != CHILD_NONE || snapshot_running();
}

int aof_rewriting(void)
{
    return aof.rewriting;
}

/* BGREWRITEAOF with the AOF off, as Redis 7 does it: a new base from
 * memory and a manifest naming it alone (the files it replaces go). */
static int rewrite_offline(void)
{
    if (mkdir(dirname_cfg(), 0755) != 0 && errno != EEXIST) {
        log_msg(LOG_WARNING, "Can't create the AOF directory %s: %s", dirname_cfg(), strerror(errno));
        return -1;
    }
    long long top = manifest_top_seq();
    aof.rewrite_base_seq = top + 1;
    aof.rewrite_offline = 1;
    if (start_base_writer() < 0) {
        aof.rewrite_offline = 0;
        return -1;
    }
    aof.rewrite_scheduled = 0;
    return 0;
}

int aof_rewrite(void)
{
    /* Inside EXEC the base would hold the transaction's first half and the
     * new incremental file all of it (replayed twice): after it, as Redis. */
    if (busy() || server.in_exec) {
        aof.rewrite_scheduled = 1;
        return 1;
    }
    if (!aof.on) {
        return rewrite_offline();
    }
    /* Writes from now on go to a new incremental file; the current one
     * joins the files the rewrite replaces. The manifest lists them all
     * meanwhile, so a crash during the rewrite loses nothing. */
    aof.old_incrs = alloc_resize(aof.old_incrs, sizeof(long long) * (size_t)(aof.nold_incrs + 1));
    aof.old_incrs[aof.nold_incrs++] = aof.incr_seq;
    if (open_new_incr(aof.incr_seq + 1) < 0 ||
        write_manifest(aof.base_seq, aof.old_incrs, aof.nold_incrs, aof.incr_seq) < 0) {
        return -1;
    }
    aof.rewrite_base_seq = aof.base_seq + 1;
    if (start_base_writer() < 0) {
        return -1;
    }
    aof.rewrite_scheduled = 0;
    return 0;
}

int aof_rewrite_run_scheduled(void)
{
    if (!aof.rewrite_scheduled || busy()) {
        return 0;
    }
    aof_rewrite();
    return 1;
}

/* ---- start ---- */

static void install_listener(void)
{
    if (!aof.registered) {
        propagate_register(aof_feed, PROPAGATE_AOF);
        aof.registered = 1;
    }
    start_fsync_thread();
}

int aof_enable(void)
{
    if (aof.on) {
        return 0;
    }
    if (server.loading || aof.rewrite_offline) {
        return -1; /* the log starts from a complete dataset only, and
                      an offline rewrite is about to replace the manifest */
    }
    if (mkdir(dirname_cfg(), 0755) != 0 && errno != EEXIST) {
        log_msg(LOG_WARNING, "Can't create the AOF directory %s: %s", dirname_cfg(), strerror(errno));
        return -1;
    }
    /* Fresh files after whatever an earlier run left in the directory,
     * which go once the first rewrite has replaced them. */
    char mpath[PATH_MAX];
    manifest_path(mpath);
    alloc_free(stale_files.files);
    if (manifest_read(mpath, &stale_files) != 1) {
        alloc_free(stale_files.files);
        stale_files.files = NULL;
        stale_files.n = 0;
    }
    long long top = manifest_top_seq();
    aof.buf = aof.buf ? aof.buf : str_empty(4096);
    aof.nold_incrs = 0;
    aof.base_seq = top;
    aof.base_name[0] = '\0';
    if (open_new_incr(top + 1) < 0) {
        return -1;
    }
    aof.on = 1;
    aof.base_pending = 1;
    aof.last_fsync_ms = server_ms();
    install_listener();
    /* The base comes from a rewrite of what is in memory now. */
    aof.rewrite_base_seq = top + 1;
    if (busy() || server.in_exec) {
        log_msg(LOG_NOTICE, "AOF was enabled but there is already another background operation. An AOF background "
                            "was scheduled to start when possible.");
        aof.rewrite_scheduled = 1;
        return 0;
    }
    if (start_base_writer() < 0) {
        aof.on = 0;
        return -1;
    }
    return 0;
}

void aof_disable(void)
{
    if (!aof.on) {
        return;
    }
    aof_flush();
    if (fsync(aof.fd) == 0) {
        synced_all_written();
    }
    close(aof.fd);
    aof.fd = -1;
    aof.on = 0;
    if (child_running() == CHILD_AOF) {
        log_msg(LOG_NOTICE, "Killing running AOF rewrite child: %ld", (long)child_pid());
        child_kill();
    }
    if (aof.rewriting && snapshot_running()) {
        log_msg(LOG_NOTICE, "Stopping the running AOF rewrite (a forkless one: no child)");
        snapshot_abort();
    }
    aof.rewrite_scheduled = 0;
}

/* Replays run on a client of their own while nothing is appended. */
static void replay_begin(void)
{
    replay_client = client_new(-1, CLIENT_FAKE | CLIENT_REPLAY);
    replay_client->authenticated = 1;
    aof.loading = 1;
}

static void replay_end(void)
{
    aof.loading = 0;
    client_free(replay_client);
    replay_client = NULL;
}

/* Loads the files a manifest names: the base, then the incremental files
 * in order (a torn tail is allowed in the last file only). With track, the
 * base and the older incremental files are remembered for appending.
 * Returns the index of the last incremental file (-1: none), -2 on error. */
static int load_files(const manifest *m, int track)
{
    int last_incr = -1;
    for (int i = 0; i < m->n; i++) {
        if (m->files[i].type == 'i') {
            last_incr = i;
        }
    }
    for (int i = 0; i < m->n; i++) {
        char path[PATH_MAX];
        path_in_dir(path, sizeof(path), m->files[i].name);
        int ok = 0;
        if (m->files[i].type == 'b') {
            ok = load_base(path, last_incr < 0);
            if (track) {
                aof.base_seq = m->files[i].seq;
                snprintf(aof.base_name, sizeof(aof.base_name), "%s", m->files[i].name);
                size_t len = strlen(m->files[i].name);
                aof.base_commands = len >= 9 && strcmp(m->files[i].name + len - 9, ".base.aof") == 0;
            }
        } else if (m->files[i].type == 'i') {
            ok = replay_file(path, 0, i == last_incr);
            if (track && i != last_incr) {
                aof.old_incrs = alloc_resize(aof.old_incrs, sizeof(long long) * (size_t)(aof.nold_incrs + 1));
                aof.old_incrs[aof.nold_incrs++] = m->files[i].seq;
            }
        }
        if (ok < 0) {
            return -2;
        }
    }
    return last_incr;
}

int aof_reload(void)
{
    if (aof.on) {
        aof_flush();
        fsync(aof.fd);
    }
    char mpath[PATH_MAX];
    manifest_path(mpath);
    manifest m;
    int rc = manifest_read(mpath, &m);
    if (rc == 1) {
        replay_begin();
        propagate_suspend(1);
        rc = load_files(&m, 0) == -2 ? -1 : 0;
        propagate_suspend(0);
        replay_end();
    }
    alloc_free(m.files);
    return rc < 0 ? -1 : 0;
}

int aof_on_disk(void)
{
    char mpath[PATH_MAX];
    manifest_path(mpath);
    return access(mpath, F_OK) == 0;
}

/* Redis before 7 kept the log in one file, <appendfilename> in the
 * working directory. As Redis 7 does, it becomes the base of a new
 * manifest and moves into the AOF directory; a start that died between
 * writing the manifest and the move finishes the move. 0, or -1. */
static int upgrade_single_file(void)
{
    const char *old = basename_cfg();
    if (access(old, F_OK) != 0) {
        return 0;
    }
    char mpath[PATH_MAX], moved[PATH_MAX];
    manifest_path(mpath);
    path_in_dir(moved, sizeof(moved), old);
    manifest m;
    int rc = manifest_read(mpath, &m);
    int interrupted =
        rc == 1 && m.n == 1 && m.files[0].type == 'b' && strcmp(m.files[0].name, old) == 0 && access(moved, F_OK) != 0;
    alloc_free(m.files);
    if (rc != 0 && !interrupted) {
        return 0;
    }
    if (mkdir(dirname_cfg(), 0755) != 0 && errno != EEXIST) {
        log_msg(LOG_WARNING, "Can't create the AOF directory %s: %s", dirname_cfg(), strerror(errno));
        return -1;
    }
    if (rc == 0) {
        str text = str_append_cstr(manifest_name(str_empty(64), old), " seq 1 type b\n");
        int wrote = write_file_synced(mpath, text, str_len(text));
        str_free(text);
        if (wrote < 0) {
            log_msg(LOG_WARNING, "Can't write the AOF manifest %s: %s", mpath, strerror(errno));
            return -1;
        }
    }
    if (rename(old, moved) != 0) {
        log_msg(LOG_WARNING, "Error moving the old AOF file %s into the AOF directory: %s", old, strerror(errno));
        return -1;
    }
    int dfd = open(dirname_cfg(), O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    log_msg(LOG_NOTICE, "Successfully migrated an old-style AOF file (%s) into the AOF directory (%s).", old,
            dirname_cfg());
    return 0;
}

int aof_start(void)
{
    char mpath[PATH_MAX];
    manifest_path(mpath);
    if (upgrade_single_file() < 0) {
        return -1;
    }
    manifest m;
    int rc = manifest_read(mpath, &m);
    if (rc < 0) {
        log_msg(LOG_WARNING, "The AOF manifest %s is malformed", mpath);
        alloc_free(m.files);
        return -1;
    }
    replay_begin();
    int ok = 0;
    if (rc == 1) {
        /* The last incremental file is the one appended to from now on. */
        int last_incr = load_files(&m, 1);
        ok = last_incr == -2 ? -1 : 0;
        if (ok == 0 && last_incr < 0) {
            /* A base alone (BGREWRITEAOF with the AOF off, an upgraded
             * Redis 6 file): appends go to a new incremental file, numbered
             * apart from the bases as Redis does. */
            long long incr = top_incr_seq(&m) + 1;
            ok = open_new_incr(incr) < 0 || write_manifest(aof.base_seq, NULL, 0, incr) < 0 ? -1 : 0;
        } else if (ok == 0) {
            char path[PATH_MAX];
            path_in_dir(path, sizeof(path), m.files[last_incr].name);
            aof.fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
            if (aof.fd < 0) {
                log_msg(LOG_WARNING, "Can't open the AOF file %s for appending: %s", path, strerror(errno));
                ok = -1;
            } else {
                struct stat st;
                fstat(aof.fd, &st);
                aof.size = (long long)st.st_size;
                aof.incr_seq = m.files[last_incr].seq;
            }
        }
    } else {
        /* No AOF yet: start from the snapshot, if any, and make the AOF's
         * base from it right away (synchronously: nothing else runs yet). */
        char err[512];
        const char *rdb = server.cfg.dbfilename && server.cfg.dbfilename[0] ? server.cfg.dbfilename : "dump.rdb";
        if (rdb_load_file(rdb, err, sizeof(err)) < 0) {
            log_msg(LOG_WARNING, "Fatal error loading the DB (%s): %s. Exiting.", rdb, err);
            ok = -1;
        } else if (mkdir(dirname_cfg(), 0755) != 0 && errno != EEXIST) {
            log_msg(LOG_WARNING, "Can't create the AOF directory %s: %s", dirname_cfg(), strerror(errno));
            ok = -1;
        } else {
            char name[512], path[PATH_MAX];
            aof.base_commands = base_form() == RDB_FORM_COMMANDS;
            file_name(name, sizeof(name), 1, 1);
            path_in_dir(path, sizeof(path), name);
            module_event_persistence(5); /* SYNC_AOF_START */
            int saved = rdb_save_file(path, base_form(), err, sizeof(err));
            module_event_persistence(saved < 0 ? 4 : 3);
            if (saved < 0) {
                log_msg(LOG_WARNING, "Can't write the AOF base file %s: %s", path, err);
                ok = -1;
            } else if (open_new_incr(1) < 0 || write_manifest(1, NULL, 0, 1) < 0) {
                ok = -1;
            } else {
                aof.base_seq = 1;
                aof.base_name[0] = '\0';
                log_msg(LOG_NOTICE, "Creating AOF base file %s on server start", name);
            }
        }
    }
    alloc_free(m.files);
    replay_end();
    if (ok < 0) {
        return -1;
    }
    aof.buf = str_empty(4096);
    aof.db = -1;
    aof.on = 1;
    aof.last_fsync_ms = server_ms();
    aof.base_size = current_size();
    install_listener();
    return 0;
}

/* ---- keel-check-aof ---- */

/* Checks the commands of a file from offset from (0, or where an RDB
 * preamble ended); with fix, cuts it back to its last complete command.
 * Returns 0 when the file is (now) valid. */
static int check_commands(const char *path, long long from, int fix)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("Cannot open file %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    fstat(fileno(f), &st);
    if (fseeko(f, from, SEEK_SET) != 0) {
        printf("Cannot seek in file %s: %s\n", path, strerror(errno));
        fclose(f);
        return -1;
    }
    cmd_reader r = {f, from, (long long)st.st_size};
    long long valid = from, cmds = 0;
    int rc;
    for (;;) {
        str *argv;
        int argc;
        rc = read_command(&r, &argv, &argc);
        if (rc != READ_OK) {
            break;
        }
        free_argv(argv, argc);
        valid = r.pos;
        cmds++;
    }
    fclose(f);
    printf("AOF analyzed: filename=%s, size=%lld, ok_up_to=%lld, commands=%lld, diff=%lld\n", path,
           (long long)st.st_size, valid, cmds, (long long)st.st_size - valid);
    if (rc == READ_EOF) {
        printf("AOF %s is valid\n", path);
        return 0;
    }
    printf("AOF %s %s at offset %lld\n", path, rc == READ_SHORT ? "is truncated" : "has a format error", valid);
    if (!fix) {
        return -1;
    }
    if (truncate(path, valid) != 0) {
        printf("Failed to truncate AOF %s: %s\n", path, strerror(errno));
        return -1;
    }
    printf("Successfully truncated AOF %s\n", path);
    return 0;
}

/* One file, by what it holds: commands (an incremental file, or a base
 * written with aof-use-rdb-preamble no), an RDB (a base), or an RDB and
 * commands after it (Redis 6's single file with a preamble). The RDB is
 * walked value by value with the server's own loader, so a corrupt value
 * shows as well as a wrong checksum. */
static int check_file(const char *path, int fix)
{
    FILE *f = fopen(path, "r");
    char sig[5] = {0};
    if (f) {
        (void)!fread(sig, 1, 5, f);
        fclose(f);
    }
    if (memcmp(sig, "REDIS", 5) != 0) {
        return check_commands(path, 0, fix);
    }
    uint64_t end;
    char err[512];
    if (rdb_check_file(path, &end, err, sizeof(err)) < 0) {
        printf("RDB %s is not valid: %s\n", path, err);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size == end) {
        printf("RDB base %s is valid\n", path);
        return 0;
    }
    printf("RDB preamble of %s is valid (%llu bytes), commands follow\n", path, (unsigned long long)end);
    return check_commands(path, (long long)end, fix);
}

int aof_check(const char *path, int fix)
{
    size_t l = strlen(path);
    int is_manifest = l > 9 && strcmp(path + l - 9, ".manifest") == 0;
    if (!is_manifest) {
        return check_file(path, fix);
    }
    manifest m;
    if (manifest_read(path, &m) != 1) {
        printf("Invalid AOF manifest file format: %s\n", path);
        alloc_free(m.files);
        return -1;
    }
    /* The files are named relative to the manifest's directory. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
    } else {
        strcpy(dir, ".");
    }
    int rc = 0, last_incr = -1;
    for (int i = 0; i < m.n; i++) {
        if (m.files[i].type == 'i') {
            last_incr = i;
        }
    }
    for (int i = 0; i < m.n; i++) {
        char p[PATH_MAX + 300];
        snprintf(p, sizeof(p), "%s/%s", dir, m.files[i].name);
        if (m.files[i].type == 'b') {
            rc |= check_file(p, 0) < 0;
        } else if (m.files[i].type == 'i') {
            /* Only the last file may be cut back: a cut elsewhere would drop
             * the writes of the files after it. */
            rc |= check_commands(p, 0, fix && i == last_incr) < 0;
        }
    }
    alloc_free(m.files);
    printf(rc ? "The AOF has errors\n" : "All AOF files and manifest are valid\n");
    return rc ? -1 : 0;
}
