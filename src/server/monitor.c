/* monitor: see monitor.h. Monitors are kept in a small array; a client
 * leaves it when it is freed. A monitor that does not read is bounded by
 * the normal class of client-output-buffer-limit, as in Redis. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "base/alloc.h"
#include "server/monitor.h"

int monitor_count;
static client **monitors;
static int monitors_cap;

static void monitor_remove(client *c)
{
    if (!(c->flags & CLIENT_MONITOR)) {
        return;
    }
    for (int i = 0; i < monitor_count; i++) {
        if (monitors[i] == c) {
            monitors[i] = monitors[--monitor_count];
            break;
        }
    }
}

void cmd_monitor(client *c)
{
    if (c->flags & CLIENT_MONITOR) {
        return; /* already one: Redis ignores the repeat */
    }
    if (c->flags & (CLIENT_MULTI | CLIENT_FAKE)) {
        reply_err(c, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    static int hooked;
    if (!hooked) {
        client_register_cleanup(monitor_remove);
        hooked = 1;
    }
    if (monitor_count == monitors_cap) {
        monitors_cap = monitors_cap ? monitors_cap * 2 : 4;
        monitors = alloc_resize(monitors, sizeof(*monitors) * (size_t)monitors_cap);
    }
    monitors[monitor_count++] = c;
    c->flags |= CLIENT_MONITOR;
    reply_ok(R(c));
}

/* Configs whose values Redis keeps out of logs. */
static int sensitive_config(sv name)
{
    static const char *const names[] = {"requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (sv_eq_ci(name, names[i])) {
            return 1;
        }
    }
    return 0;
}

/* Arguments that Redis never shows: AUTH's, HELLO's after AUTH,
 * MIGRATE's after AUTH or AUTH2, ACL SETUSER's and the values CONFIG SET
 * gives passwords. */
const sv *monitor_redact(client *c, const sv *argv, int argc, sv *out)
{
    (void)c;
    int redacted = 0;
    for (int i = 0; i < argc; i++) {
        out[i] = argv[i];
    }
    if (argc >= 2 && sv_eq_ci(argv[0], "auth")) {
        for (int i = 1; i < argc; i++) {
            out[i] = SV("(redacted)");
        }
        redacted = 1;
    } else if (argc >= 2 && sv_eq_ci(argv[0], "hello")) {
        for (int i = 1; i + 2 < argc; i++) {
            if (sv_eq_ci(argv[i], "auth")) {
                out[i + 1] = out[i + 2] = SV("(redacted)");
                redacted = 1;
                break;
            }
        }
    } else if (argc > 2 && sv_eq_ci(argv[0], "acl") && sv_eq_ci(argv[1], "setuser")) {
        for (int i = 2; i < argc; i++) {
            out[i] = SV("(redacted)");
        }
        redacted = 1;
    } else if (argc > 3 && sv_eq_ci(argv[0], "config") && sv_eq_ci(argv[1], "set")) {
        for (int i = 2; i + 1 < argc; i += 2) {
            if (sensitive_config(argv[i])) {
                out[i + 1] = SV("(redacted)");
                redacted = 1;
            }
        }
    } else if (argc > 6 && sv_eq_ci(argv[0], "migrate")) {
        /* options after the first six, until KEYS */
        for (int i = 6; i < argc && !sv_eq_ci(argv[i], "keys"); i++) {
            int n = sv_eq_ci(argv[i], "auth") ? 1 : sv_eq_ci(argv[i], "auth2") ? 2 : 0;
            for (int j = 1; j <= n && i + j < argc; j++) {
                out[i + j] = SV("(redacted)");
                redacted = 1;
            }
            i += n;
        }
    }
    return redacted ? out : argv;
}

void monitor_feed(client *c, const sv *argv, int argc)
{
    if (monitor_count == 0) {
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    const char *who = (c->flags & CLIENT_IN_SCRIPT) ? "lua" : c->fd < 0 ? "?:0" : c->addr;
    char unixaddr[160];
    if ((c->flags & CLIENT_UNIX) && c->fd >= 0) {
        /* Redis shows a unix socket peer as "unix:<path>". */
        snprintf(unixaddr, sizeof(unixaddr), "unix:%s", server.cfg.unixsocket ? server.cfg.unixsocket : "");
        who = unixaddr;
    }
    str line = str_printf(str_empty(128), "%ld.%06ld [%d %s]", (long)tv.tv_sec, (long)tv.tv_usec, c->db->id, who);
    sv tmp[8];
    sv *red = argc <= 8 ? tmp : alloc_mem(sizeof(sv) * (size_t)argc);
    const sv *show = monitor_redact(c, argv, argc, red);
    for (int i = 0; i < argc; i++) {
        line = str_append(line, " ", 1);
        line = str_append_quoted(line, show[i].ptr, show[i].len);
    }
    if (red != tmp) {
        alloc_free(red);
    }
    for (int i = 0; i < monitor_count; i++) {
        client *m = monitors[i];
        reply_status_len(R(m), line, str_len(line));
        client_pending_write(m);
        client_check_obuf(m);
    }
    str_free(line);
}
