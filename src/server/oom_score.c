#include "server/oom_score.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "repl/repl.h"
#include "server/server.h"

#define OOM_PATH "/proc/self/oom_score_adj"

/* Whether Keel changed the score, and the score from before, which "no"
 * puts back (a score set by someone else while Keel was off stays). */
static int adjusted;
static int base;

static int mode(void)
{
    const char *m = server.cfg.oom_score_adj ? server.cfg.oom_score_adj : "no";
    return strcmp(m, "absolute") == 0 ? 2 : strcmp(m, "no") == 0 ? 0 : 1;
}

static int class_value(int process_class)
{
    long v[3] = {0, 200, 800};
    const char *s = server.cfg.oom_score_adj_values;
    if (s) {
        sscanf(s, "%ld %ld %ld", &v[0], &v[1], &v[2]);
    }
    return (int)v[process_class];
}

int oom_score_apply(int process_class)
{
    if (process_class == OOM_CLASS_CURRENT) {
        process_class = repl_is_replica() ? OOM_CLASS_REPLICA : OOM_CLASS_PRIMARY;
    }
    int m = mode(), val;
    if (m != 0) {
        if (!adjusted) {
            char buf[32] = {0};
            int fd = open(OOM_PATH, O_RDONLY);
            if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0) {
                log_msg(LOG_WARNING, "Unable to read oom_score_adj: %s", strerror(errno));
                if (fd >= 0) {
                    close(fd);
                }
                return -1;
            }
            close(fd);
            base = atoi(buf);
            adjusted = 1;
        }
        val = class_value(process_class) + (m == 1 ? base : 0);
        val = val > 1000 ? 1000 : val < -1000 ? -1000 : val;
    } else if (adjusted) {
        adjusted = 0;
        val = base;
    } else {
        return 0;
    }
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%d\n", val);
    int fd = open(OOM_PATH, O_WRONLY);
    if (fd < 0 || write(fd, buf, (size_t)len) != len) {
        log_msg(LOG_WARNING, "Unable to write oom_score_adj: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    close(fd);
    return 0;
}
