/* geohash: the arithmetic behind the geo commands, with no server in it.
 *
 * A point is stored in a sorted set as a 52-bit integer score: its
 * longitude and latitude are each scaled to a 26-bit cell index (longitude
 * over -180..180, latitude over Web Mercator's -85.05112878..85.05112878)
 * and the two indexes interleaved, latitude in the even bits and longitude
 * in the odd ones. A cell of step s (s bits per axis) then covers exactly
 * the scores [bits << (52 - 2s), (bits + 1) << (52 - 2s)), so a search
 * reads a few score ranges of the set instead of the whole set.
 *
 * Every computation here follows the same floating-point steps in the
 * same order as Redis, so that scores, decoded coordinates, distances and
 * the set of cells a search visits (hence its candidates) are identical. */
#ifndef KEEL_GEOHASH_H
#define KEEL_GEOHASH_H

#include <stdint.h>

#define GEO_STEP_MAX 26
#define GEO_LON_MIN -180.0
#define GEO_LON_MAX 180.0
#define GEO_LAT_MIN -85.05112878
#define GEO_LAT_MAX 85.05112878
/* The earth radius Redis uses, in meters. */
#define GEO_EARTH_RADIUS 6372797.560856
#define GEO_MERCATOR_MAX 20037726.37

/* A cell: `step` bits per axis, interleaved in the low 2*step bits. */
typedef struct geo_cell {
    uint64_t bits;
    int step;
} geo_cell;

typedef struct geo_area {
    double lon_min, lon_max, lat_min, lat_max;
} geo_area;

/* 1 if (lon, lat) may be stored (the Web Mercator range, bounds included). */
int geo_valid(double lon, double lat);
/* The cell of (lon, lat) at `step` over longitude -180..180 and latitude
 * lat_min..lat_max; 0 when the point is outside what Redis indexes. */
int geo_encode_range(double lon, double lat, double lat_min, double lat_max, int step, geo_cell *out);
/* The same over the Web Mercator latitude range. */
int geo_encode(double lon, double lat, int step, geo_cell *out);
/* The score GEOADD stores for a valid point (the step-26 cell bits). */
uint64_t geo_score(double lon, double lat);
/* The bits of a stored score as Redis reads them (a C cast on x86-64,
 * defined here for every double, including those no GEOADD wrote). */
uint64_t geo_score_bits(double score);
/* The bounds of a cell over the given latitude range. */
void geo_cell_area(geo_cell c, double lat_min, double lat_max, geo_area *a);
/* The center of a stored score's step-26 cell, clamped to the valid range. */
void geo_decode(double score, double *lon, double *lat);

/* The 8 neighbours of c (wrapping around at the range ends), in the order
 * north, south, east, west, north-east, north-west, south-east, south-west. */
enum { GEO_N, GEO_S, GEO_E, GEO_W, GEO_NE, GEO_NW, GEO_SE, GEO_SW };
void geo_neighbors(geo_cell c, geo_cell out[8]);
/* The scores a cell covers: [*min, *max). */
void geo_cell_scores(geo_cell c, double *min, double *max);

/* Great-circle distance in meters (haversine), and the distance along a
 * meridian between two latitudes. */
double geo_distance(double lon1, double lat1, double lon2, double lat2);
double geo_lat_distance(double lat1, double lat2);

/* The step whose cells are about as wide as a search of radius_m meters
 * around latitude lat (wider near the poles). */
int geo_estimate_step(double radius_m, double lat);

/* A search shape: a circle of `radius` or a box of width x height (in
 * units of `conv` meters) around (lon, lat). */
typedef struct geo_shape {
    int box;
    double lon, lat;
    double radius;
    double width, height;
    double conv; /* meters per unit */
} geo_shape;

/* The cells to scan for a shape, in the order Redis scans them, with
 * Redis's skipping of useless and repeated cells applied: scan the score
 * ranges [min[i], max[i]) for i < n. */
typedef struct geo_plan {
    int n;
    double min[9], max[9];
} geo_plan;
void geo_plan_search(const geo_shape *s, geo_plan *p);
/* 1 and the distance in meters if the point (lon, lat) is inside s. */
int geo_in_shape(const geo_shape *s, double lon, double lat, double *dist);

/* The 11-character standard geohash of a stored score (no terminator). */
void geo_hash_string(double score, char out[11]);

#endif
