/* rdb_vset: vector sets in RDB files, DUMP payloads and full syncs, in
 * the layout Redis 8 writes them: a module-type value (RDB_TYPE_MODULE_2)
 * of the type "vectorset", encoding version 0, so files move between the
 * two servers. */
#ifndef KEEL_RDB_VSET_H
#define KEEL_RDB_VSET_H

#include <stdint.h>

#include "persist/rdb_io.h"
#include "types/vset.h"

/* 1 when a module-type id (its encoding version aside) is the vector set's. */
int vset_rdb_is_type(uint64_t id);
/* Writes the type id, the items and the closing EOF opcode. */
void vset_rdb_save(rdb_out *w, const vset *v);
/* Reads the items after the type id (already read, its encoding version
 * encver) and the closing EOF; NULL after rdb_in_fail. */
vset *vset_rdb_load(rdb_in *r, int encver);

#endif
