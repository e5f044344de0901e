/* keys: key finders shared by the movable-key commands whose keys follow a
 * count (EVAL, FCALL, *MPOP, ZUNION..., SINTERCARD) or a STREAMS keyword
 * (XREAD, XREADGROUP). Table lines KEYS(handler, finder) attach them;
 * COMMAND GETKEYS and the ACL checks both read keys through them. */
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "cmd/cmd.h"

/* "numkeys key..." with numkeys at argv[at]; nothing when the count is not
 * a number or asks for more arguments than there are. */
static int numkeys_at(const sv *argv, int argc, int at, int *pos, int max)
{
    long long n;
    if (at >= argc || !util_parse_ll(argv[at].ptr, argv[at].len, &n) || n < 0 || n > argc - at - 1) {
        return 0;
    }
    int k = 0;
    for (int i = 0; i < n && k < max; i++) {
        pos[k++] = at + 1 + i;
    }
    return k;
}

int keys_numkeys1(const sv *argv, int argc, int *pos, int max)
{
    return numkeys_at(argv, argc, 1, pos, max);
}

int keys_numkeys2(const sv *argv, int argc, int *pos, int max)
{
    return numkeys_at(argv, argc, 2, pos, max);
}

/* ZUNIONSTORE dest numkeys key...: the destination first. */
int keys_store_numkeys(const sv *argv, int argc, int *pos, int max)
{
    if (max < 1) {
        return 0;
    }
    /* A bad count leaves no keys at all (the command fails anyway). */
    int n = numkeys_at(argv, argc, 2, pos + 1, max - 1);
    if (n == 0) {
        return 0;
    }
    pos[0] = 1;
    return 1 + n;
}

/* XREAD/XREADGROUP ... STREAMS key... id...: the first half after STREAMS. */
int keys_streams(const sv *argv, int argc, int *pos, int max)
{
    for (int i = 1; i < argc; i++) {
        if (argv[i].len == 7 && strncasecmp(argv[i].ptr, "streams", 7) == 0) {
            int rest = argc - i - 1;
            int k = 0;
            for (int j = 0; j < rest / 2 && k < max; j++) {
                pos[k++] = i + 1 + j;
            }
            return k;
        }
    }
    return 0;
}
