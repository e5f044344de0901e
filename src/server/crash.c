/* crash: a report in the log when the server dies of a fatal signal
 * (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT from a failed assertion), as
 * Redis writes one: the signal, the faulting address, the command that was
 * running and the stack trace, then the default action (a core dump where
 * the system keeps one). Frames in Keel's own code are named from the
 * binary's symbol table, static functions included (read at start-up: the
 * handler may not allocate or open files); frames elsewhere show as
 * library(+offset). Sanitizer builds keep their own, better reports of
 * fatal signals; the stack printer still serves the watchdog there. */
#include "server/crash.h"

#include <elf.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* The binary's functions, sorted by address; the names point into a
 * read-only mapping of the file, whose pages are read only when a report
 * names a frame. */
typedef struct func_sym {
    uintptr_t addr; /* as linked; the running address is this plus bias */
    uintptr_t size;
    const char *name;
} func_sym;
static func_sym *funcs;
static size_t nfuncs;
static uintptr_t bias;

static int by_addr(const void *a, const void *b)
{
    uintptr_t x = ((const func_sym *)a)->addr, y = ((const func_sym *)b)->addr;
    return x < y ? -1 : x > y;
}

/* Reads .symtab of /proc/self/exe (absent from a stripped binary: then
 * every frame keeps backtrace's own form). */
static void load_symbols(void)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    size_t len = (size_t)st.st_size;
    const unsigned char *img = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (img == MAP_FAILED) {
        return;
    }
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff);
    int ok = memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
             eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) <= len;
    const Elf64_Shdr *symtab = NULL;
    for (int i = 0; ok && i < eh->e_shnum; i++) {
        if (sh[i].sh_type == SHT_SYMTAB && sh[i].sh_link < eh->e_shnum) {
            symtab = &sh[i];
        }
    }
    const Elf64_Shdr *strtab = symtab ? &sh[symtab->sh_link] : NULL;
    if (!symtab || symtab->sh_offset + symtab->sh_size > len || strtab->sh_offset + strtab->sh_size > len) {
        munmap((void *)img, len);
        return;
    }
    const Elf64_Sym *sym = (const Elf64_Sym *)(img + symtab->sh_offset);
    size_t n = symtab->sh_size / sizeof(Elf64_Sym);
    const char *names = (const char *)(img + strtab->sh_offset);
    funcs = malloc(n * sizeof(*funcs)); /* outside used_memory: not data */
    uintptr_t self = 0;
    for (size_t i = 0; funcs && i < n; i++) {
        if (ELF64_ST_TYPE(sym[i].st_info) != STT_FUNC || sym[i].st_value == 0 || sym[i].st_name >= strtab->sh_size) {
            continue;
        }
        funcs[nfuncs++] = (func_sym){sym[i].st_value, sym[i].st_size, names + sym[i].st_name};
        if (strcmp(names + sym[i].st_name, "crash_install") == 0) {
            self = sym[i].st_value;
        }
    }
    if (!self) {
        free(funcs);
        funcs = NULL;
        nfuncs = 0;
        munmap((void *)img, len);
        return;
    }
    bias = (uintptr_t)&crash_install - self;
    qsort(funcs, nfuncs, sizeof(*funcs), by_addr);
    /* The symbol table was read once; its pages need not stay resident. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t from = symtab->sh_offset & ~(page - 1);
    madvise((void *)(img + from), symtab->sh_offset + symtab->sh_size - from, MADV_DONTNEED);
}

static const func_sym *find_func(uintptr_t pc)
{
    size_t lo = 0, hi = nfuncs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (funcs[mid].addr + bias <= pc) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        return NULL;
    }
    const func_sym *f = &funcs[lo - 1];
    return pc < f->addr + bias + (f->size ? f->size : 1) ? f : NULL;
}

void crash_log_stack(int fd)
{
    void *frames[64];
    int n = backtrace(frames, 64);
    for (int i = 1; i < n; i++) { /* frame 0 is this function */
        uintptr_t pc = (uintptr_t)frames[i];
        /* A return address may be one past a call ending its function. */
        const func_sym *f = find_func(pc - 1);
        if (f) {
            say(fd, "keel-server(%s+0x%lx) [%p]\n", f->name, (unsigned long)(pc - f->addr - bias), frames[i]);
        } else {
            backtrace_symbols_fd(&frames[i], 1, fd);
        }
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
    crash_log_stack(fd);
    say(fd, "\n=== KEEL BUG REPORT END. Make sure to include from START to END. ===\n\n");
    if (log_panicking && server.cfg.use_exit_on_panic) {
        _exit(1); /* Redis's test knob: a PANIC or ASSERT exits, no core */
    }
    /* The handler was reset on entry: the same signal now ends the process
     * the default way. */
    signal(sig, SIG_DFL);
    raise(sig);
}

void crash_install(void)
{
    load_symbols();
    /* backtrace() loads libgcc on its first call: done now, not in the
     * handler. */
    void *warm[1];
    backtrace(warm, 1);
    if (!KEEL_OWN_CRASH_REPORT) {
        return;
    }
    /* A stack of its own, so a stack overflow can still be reported. */
    static char alt[64 * 1024];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt), .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = report;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
    for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++) {
        sigaction(fatal_signals[i], &sa, NULL);
    }
}
