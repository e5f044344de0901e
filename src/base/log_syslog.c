/* log_syslog: the syslog(3) side of logging. Levels map as Redis maps
 * them: debug to LOG_DEBUG, verbose to LOG_INFO, notice to LOG_NOTICE,
 * warning to LOG_WARNING. */
#include "base/log_syslog.h"

#include <syslog.h>

static const int facilities[] = {LOG_USER,   LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3,
                                 LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7};
static const int priorities[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING};

void log_syslog_open(const char *ident, int facility)
{
    int f = facility >= 0 && facility < 9 ? facilities[facility] : LOG_LOCAL0;
    openlog(ident, LOG_PID | LOG_NDELAY | LOG_NOWAIT, f);
}

void log_syslog_close(void)
{
    closelog();
}

void log_syslog_line(int level, const char *msg)
{
    syslog(priorities[level >= 0 && level < 4 ? level : 3], "%s", msg);
}
