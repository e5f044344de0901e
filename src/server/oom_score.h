/* oom_score: oom-score-adj and oom-score-adj-values, as Redis applies
 * them to /proc/self/oom_score_adj: a value per process class (primary,
 * replica, background child), relative to the score the process had when
 * Keel took control (yes, relative) or absolute; restored on no. */
#ifndef KEEL_OOM_SCORE_H
#define KEEL_OOM_SCORE_H

enum { OOM_CLASS_CURRENT = -1, OOM_CLASS_PRIMARY, OOM_CLASS_REPLICA, OOM_CLASS_CHILD };

/* Writes the score of class (CURRENT: the server's role) as configured.
 * 0, or -1 (logged) when the kernel refused it. */
int oom_score_apply(int process_class);

#endif
