/* log: one line per message, "pid:role dd Mon yyyy hh:mm:ss.mmm <c> text". */
#include "base/log.h"

#include "base/log_syslog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int min_level = LOG_NOTICE;
static FILE *out;
static int to_syslog;

void log_set_syslog(int on, const char *ident, int facility)
{
    if (to_syslog) {
        log_syslog_close();
    }
    to_syslog = on;
    if (on) {
        log_syslog_open(ident && *ident ? ident : "redis", facility);
    }
}

static const char *names[] = {"debug", "verbose", "notice", "warning", "nothing"};

void log_set_level(int level)
{
    min_level = level;
}

int log_get_level(void)
{
    return min_level;
}

int log_set_file(const char *path)
{
    if (!path || !*path) {
        if (out && out != stdout) {
            fclose(out);
        }
        out = stdout;
        return 0;
    }
    FILE *f = fopen(path, "a");
    if (!f) {
        return -1;
    }
    if (out && out != stdout) {
        fclose(out);
    }
    out = f;
    return 0;
}

volatile int log_panicking;

int log_fd(void)
{
    return fileno(out ? out : stdout);
}

int log_level_from_name(const char *name)
{
    for (int i = 0; i <= LOG_NOTHING; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *log_level_name(int level)
{
    return level >= 0 && level <= LOG_NOTHING ? names[level] : "notice";
}

/* Decimal digits of v at the end of buf (which ends at end): their start. */
static char *digits_before(char *end, unsigned long long v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

void log_from_signal(int level, const char *msg)
{
    if (level < min_level) {
        return;
    }
    char line[512], pid[24] = {0}, now[24] = {0};
    size_t n = 0;
    const char *parts[] = {digits_before(pid + sizeof(pid) - 1, (unsigned long long)getpid()), ":signal-handler (",
                           digits_before(now + sizeof(now) - 1, (unsigned long long)time(NULL)), ") ", msg};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        for (const char *p = parts[i]; *p && n < sizeof(line) - 1; p++) {
            line[n++] = *p;
        }
    }
    line[n++] = '\n';
    ssize_t w = write(log_fd(), line, n);
    (void)w;
}

void log_msg(int level, const char *fmt, ...)
{
    if (level < min_level) {
        return;
    }
    FILE *f = out ? out : stdout;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    time_t t = tv.tv_sec;
    localtime_r(&t, &tm);
    char ts[64];
    size_t n = strftime(ts, sizeof(ts), "%d %b %Y %H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03d", (int)(tv.tv_usec / 1000));
    static const char marks[] = ".-*#";
    fprintf(f, "%d:M %s %c %s\n", (int)getpid(), ts, marks[level < 4 ? level : 3], msg);
    fflush(f);
    if (to_syslog) {
        log_syslog_line(level, msg);
    }
}
