/* keys: where a command line's keys are, and what the command does to each.
 *
 * The command table's SPEC lines (Redis 7's key specs) say it for almost
 * every command: a begin search (a fixed index, or the argument after a
 * keyword) and a find-keys rule (a range, or a count followed by keys).
 * A KEYS line names a finder for the few whose syntax must be parsed (SORT's
 * STORE) or whose key flags depend on the arguments (SET ... GET, BITFIELD).
 * COMMAND GETKEYS / GETKEYSANDFLAGS and the ACL key checks all read keys
 * through keys_find, so they agree with each other and with Redis. */
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "cmd/cmd.h"

static int arg_is_ci(sv a, const char *word)
{
    size_t n = strlen(word);
    return a.len == n && strncasecmp(a.ptr, word, n) == 0;
}

/* The index of a spec's first key; 0 when it has none in this argv (the
 * keyword is absent) and -1 when the spec cannot say. The keyword is never
 * the last argument: a key must follow it. */
static int spec_begin(const key_spec *s, const sv *argv, int argc)
{
    switch (s->begin) {
    case KS_BEGIN_INDEX: return s->begin_at < argc ? s->begin_at : -1;
    case KS_BEGIN_KEYWORD:
        if (s->begin_at >= 0) {
            for (int i = s->begin_at; i < argc - 1; i++) {
                if (arg_is_ci(argv[i], s->keyword)) {
                    return i + 1;
                }
            }
        } else {
            for (int i = argc + s->begin_at; i > 0 && i < argc - 1; i--) {
                if (arg_is_ci(argv[i], s->keyword)) {
                    return i + 1;
                }
            }
        }
        return 0;
    default: return -1;
    }
}

/* Appends the keys of one spec from first on. Returns how many, or -1 when
 * argv does not hold what the spec promises (a bad count, keys past the
 * end): then the whole command line has no usable keys, as in Redis. */
static int spec_keys(const key_spec *s, const sv *argv, int argc, int first, key_ref *out, int room)
{
    int last, step;
    if (s->find == KS_FIND_RANGE) {
        step = s->b;
        if (s->a >= 0) {
            last = first + s->a;
        } else if (s->c <= 1) {
            last = argc + s->a;
        } else {
            last = first + (argc - first) / s->c + s->a;
        }
    } else if (s->find == KS_FIND_KEYNUM) {
        long long count;
        int at = first + s->a;
        /* No keys at all is as unusable as a bad count (Redis: "ZUNIONSTORE
         * d 0 a" has no keys, not just d). */
        if (at >= argc || !util_parse_ll(argv[at].ptr, argv[at].len, &count) || count <= 0 || count > argc) {
            return -1;
        }
        step = s->c;
        first += s->b;
        last = first + ((int)count - 1) * step;
    } else {
        return 0; /* unknown: the keys derive from data (SORT's BY/GET) */
    }
    if (last >= argc || step <= 0) {
        return -1;
    }
    int n = 0;
    for (int i = first; i <= last && n < room; i += step) {
        out[n].pos = i;
        out[n].flags = s->flags;
        n++;
    }
    return n;
}

/* The keys of every spec in turn; -1 when one cannot say. strict: an
 * unknown spec, or an INCOMPLETE one that applies, cannot say either
 * (otherwise they add what they find and the rest goes on). */
static int specs_keys(const command *cmd, const sv *argv, int argc, key_ref *out, int strict)
{
    int n = 0;
    for (int i = 0; i < cmd->nspecs; i++) {
        const key_spec *s = &cmd->specs[i];
        if (s->flags & KS_NOT_KEY) {
            continue;
        }
        int first = spec_begin(s, argv, argc);
        if (first == 0 || (first < 0 && s->begin == KS_BEGIN_UNKNOWN && !strict)) {
            continue;
        }
        if (strict && (first < 0 || s->find == KS_FIND_UNKNOWN || (s->flags & KS_INCOMPLETE))) {
            return -1;
        }
        int got = first < 0 ? -1 : spec_keys(s, argv, argc, first, out + n, argc - n);
        if (got < 0) {
            return -1;
        }
        n += got;
    }
    return n;
}

int keys_find(const command *cmd, const sv *argv, int argc, key_ref *out)
{
    if (cmd->keys) {
        return cmd->keys(cmd, argv, argc, out, argc);
    }
    int n = specs_keys(cmd, argv, argc, out, 0);
    return n < 0 ? 0 : n;
}

int keys_find_by_specs(const command *cmd, const sv *argv, int argc, key_ref *out)
{
    int for_keys = 0;
    for (int i = 0; i < cmd->nspecs; i++) {
        if (cmd->specs[i].flags & KS_VARIABLE_FLAGS) {
            return -1;
        }
        for_keys |= !(cmd->specs[i].flags & KS_NOT_KEY);
    }
    return for_keys ? specs_keys(cmd, argv, argc, out, 1) : -1;
}

int keys_has_any(const command *cmd)
{
    if (cmd->keys) {
        return 1;
    }
    for (int i = 0; i < cmd->nspecs; i++) {
        if (!(cmd->specs[i].flags & KS_NOT_KEY)) {
            return 1;
        }
    }
    return 0;
}

/* ---- finders (KEYS lines) ---- */

/* SET key value [... GET | IFEQ/IFNE/IFDEQ/IFDNE ...]: the value is read
 * only with GET or a compare condition; otherwise it is overwritten unread
 * (Redis's OW update). */
int keys_set(const command *cmd, const sv *argv, int argc, key_ref *out, int max)
{
    if (max < 1 || argc < 2) {
        return 0;
    }
    out[0].pos = 1;
    out[0].flags = KS_OW | KS_UPDATE;
    for (int i = 3; i < argc; i++) {
        if (arg_is_ci(argv[i], "get") || arg_is_ci(argv[i], "ifeq") || arg_is_ci(argv[i], "ifne") ||
            arg_is_ci(argv[i], "ifdeq") || arg_is_ci(argv[i], "ifdne")) {
            out[0].flags = cmd->specs[0].flags & ~KS_VARIABLE_FLAGS;
        }
    }
    return 1;
}

/* BITFIELD key [GET type offset | OVERFLOW how]...: only reads unless an
 * operation writes. Anything that is not a complete GET or OVERFLOW counts
 * as a write (a SET, an INCRBY, or a line the command will refuse), so the
 * ACL check never lets a write through under read permission. */
int keys_bitfield(const command *cmd, const sv *argv, int argc, key_ref *out, int max)
{
    if (max < 1 || argc < 2) {
        return 0;
    }
    uint32_t flags = KS_RO | KS_ACCESS;
    for (int i = 2; i < argc; i++) {
        int rest = argc - i - 1;
        if (arg_is_ci(argv[i], "get") && rest >= 2) {
            i += 2;
        } else if (arg_is_ci(argv[i], "overflow") && rest >= 1) {
            i += 1;
        } else {
            flags = cmd->specs[0].flags & ~KS_VARIABLE_FLAGS;
            break;
        }
    }
    out[0].pos = 1;
    out[0].flags = flags;
    return 1;
}
