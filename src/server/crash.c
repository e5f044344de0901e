/* crash: a report in the log when the server dies of a fatal signal
 * (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT from a failed assertion), as
 * Redis writes one: the signal, the faulting address, the command that was
 * running and the stack trace, then the default action (a core dump where
 * the system keeps one). The frames show as keel-server(+offset): resolve
 * them with `addr2line -f -e keel-server offset` (the binary keeps its
 * debug information). Sanitizer builds keep their own, better reports. */
#include "server/crash.h"

#include <execinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "server/server.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KEEL_OWN_CRASH_REPORT 0
#else
#define KEEL_OWN_CRASH_REPORT 1
#endif

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

/* One line straight to the log's descriptor: nothing allocated, no lock
 * taken (the crash may have happened inside the allocator or stdio). */
static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0) {
        ssize_t w = write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        (void)w;
    }
}

static void report(int sig, siginfo_t *info, void *uc)
{
    (void)uc;
    int fd = log_fd();
    int pid = (int)getpid();
    say(fd, "\n\n=== KEEL BUG REPORT START: Cut & paste starting from here ===\n");
    say(fd, "%d:M # Keel %s crashed by signal: %d (%s), si_code: %d\n", pid, KEEL_VERSION, sig, strsignal(sig),
        info ? info->si_code : 0);
    if (info && info->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL)) {
        say(fd, "%d:M # Accessing address: %p\n", pid, info->si_addr);
    }
    client *c = server.current_client;
    if (c && c->cmd) {
        say(fd, "%d:M # Running command: %s (client id=%llu addr=%.128s)\n", pid, c->cmd->name,
            (unsigned long long)c->id, c->addr);
    }
    say(fd, "\n------ STACK TRACE ------\n");
    void *frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, fd);
    say(fd, "\n=== KEEL BUG REPORT END. Make sure to include from START to END. ===\n\n");
    /* The handler was reset on entry: the same signal now ends the process
     * the default way. */
    signal(sig, SIG_DFL);
    raise(sig);
}

void crash_install(void)
{
    if (!KEEL_OWN_CRASH_REPORT) {
        return;
    }
    /* A stack of its own, so a stack overflow can still be reported. */
    static char alt[64 * 1024];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt), .ss_flags = 0};
    sigaltstack(&ss, NULL);
    /* backtrace() loads libgcc on its first call: done now, not in the
     * handler. */
    void *warm[1];
    backtrace(warm, 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = report;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
    for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++) {
        sigaction(fatal_signals[i], &sa, NULL);
    }
}
