/* geohash: cell encoding, neighbours, distances and search planning for the
 * geo commands (see the header). Floating-point expressions are written in
 * the order Redis evaluates them: reordering even one of them changes the
 * last bit of a decoded coordinate, which GEOPOS shows. */
#include "types/geohash.h"

#include <math.h>

#define DEG_TO_RAD (M_PI / 180.0)

static double deg_rad(double d)
{
    return d * DEG_TO_RAD;
}

static double rad_deg(double r)
{
    return r / DEG_TO_RAD;
}

/* ---- bit interleaving ---- */

/* Spreads the 32 bits of v into the even bits of a 64-bit word. */
static uint64_t spread(uint32_t v)
{
    uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & 0x5555555555555555ULL;
    return x;
}

/* Gathers the even bits of x into 32 bits. */
static uint32_t gather(uint64_t x)
{
    x &= 0x5555555555555555ULL;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return (uint32_t)x;
}

/* ---- encode / decode ---- */

int geo_valid(double lon, double lat)
{
    return !(lon < GEO_LON_MIN || lon > GEO_LON_MAX || lat < GEO_LAT_MIN || lat > GEO_LAT_MAX);
}

int geo_encode_range(double lon, double lat, double lat_min, double lat_max, int step, geo_cell *out)
{
    if (step < 1 || step > 32) {
        return 0;
    }
    /* Redis refuses what is outside the Mercator range whatever the
     * latitude range asked for (NaN, which no command lets through, is
     * refused too). */
    if (lon > 180 || lon < -180 || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN) {
        return 0;
    }
    if (isnan(lon) || isnan(lat) || lat < lat_min || lat > lat_max) {
        return 0;
    }
    double lat_off = (lat - lat_min) / (lat_max - lat_min);
    double lon_off = (lon - GEO_LON_MIN) / (GEO_LON_MAX - GEO_LON_MIN);
    lat_off *= (double)(1ULL << step);
    lon_off *= (double)(1ULL << step);
    out->bits = spread((uint32_t)lat_off) | (spread((uint32_t)lon_off) << 1);
    out->step = step;
    return 1;
}

int geo_encode(double lon, double lat, int step, geo_cell *out)
{
    return geo_encode_range(lon, lat, GEO_LAT_MIN, GEO_LAT_MAX, step, out);
}

uint64_t geo_score(double lon, double lat)
{
    geo_cell c = {0, GEO_STEP_MAX};
    geo_encode(lon, lat, GEO_STEP_MAX, &c);
    return c.bits;
}

uint64_t geo_score_bits(double d)
{
    /* What gcc's double -> uint64_t conversion gives on x86-64: a signed
     * truncation below 2^63 (0x8000000000000000 when out of int64 range),
     * else a truncation of d - 2^63 with the top bit flipped. */
    const double two63 = 9223372036854775808.0;
    if (d < two63) {
        if (d >= -two63) {
            return (uint64_t)(int64_t)d;
        }
        return 0x8000000000000000ULL;
    }
    double e = d - two63;
    uint64_t t = e < two63 ? (uint64_t)(int64_t)e : 0x8000000000000000ULL;
    return t ^ 0x8000000000000000ULL;
}

void geo_cell_area(geo_cell c, double lat_min, double lat_max, geo_area *a)
{
    uint32_t ilat = gather(c.bits), ilon = gather(c.bits >> 1);
    double lat_scale = lat_max - lat_min;
    double lon_scale = GEO_LON_MAX - GEO_LON_MIN;
    double div = (double)(1ULL << c.step);
    a->lat_min = lat_min + (ilat * 1.0 / div) * lat_scale;
    a->lat_max = lat_min + ((uint32_t)(ilat + 1) * 1.0 / div) * lat_scale;
    a->lon_min = GEO_LON_MIN + (ilon * 1.0 / div) * lon_scale;
    a->lon_max = GEO_LON_MIN + ((uint32_t)(ilon + 1) * 1.0 / div) * lon_scale;
}

void geo_decode(double score, double *lon, double *lat)
{
    geo_cell c = {geo_score_bits(score), GEO_STEP_MAX};
    geo_area a;
    geo_cell_area(c, GEO_LAT_MIN, GEO_LAT_MAX, &a);
    double x = (a.lon_min + a.lon_max) / 2;
    if (x > GEO_LON_MAX) {
        x = GEO_LON_MAX;
    }
    if (x < GEO_LON_MIN) {
        x = GEO_LON_MIN;
    }
    double y = (a.lat_min + a.lat_max) / 2;
    if (y > GEO_LAT_MAX) {
        y = GEO_LAT_MAX;
    }
    if (y < GEO_LAT_MIN) {
        y = GEO_LAT_MIN;
    }
    *lon = x;
    *lat = y;
}

/* ---- neighbours ---- */

static geo_cell moved(geo_cell c, int dlon, int dlat)
{
    /* Indexes move modulo 2^step: the cell east of the last one is the
     * first (and likewise north of the top row), as in Redis. Bits above
     * 2*step are dropped as Redis's masks drop them. */
    uint64_t mask = c.step >= 32 ? 0xFFFFFFFFULL : (1ULL << c.step) - 1;
    uint32_t ilat = gather(c.bits), ilon = gather(c.bits >> 1);
    ilat = (uint32_t)((ilat + (uint64_t)(int64_t)dlat) & mask);
    ilon = (uint32_t)((ilon + (uint64_t)(int64_t)dlon) & mask);
    return (geo_cell){spread(ilat) | (spread(ilon) << 1), c.step};
}

void geo_neighbors(geo_cell c, geo_cell out[8])
{
    out[GEO_N] = moved(c, 0, 1);
    out[GEO_S] = moved(c, 0, -1);
    out[GEO_E] = moved(c, 1, 0);
    out[GEO_W] = moved(c, -1, 0);
    out[GEO_NE] = moved(c, 1, 1);
    out[GEO_NW] = moved(c, -1, 1);
    out[GEO_SE] = moved(c, 1, -1);
    out[GEO_SW] = moved(c, -1, -1);
}

void geo_cell_scores(geo_cell c, double *min, double *max)
{
    int shift = 52 - 2 * c.step;
    *min = (double)(c.bits << shift);
    *max = (double)((c.bits + 1) << shift);
}

/* ---- distances ---- */

double geo_lat_distance(double lat1, double lat2)
{
    return GEO_EARTH_RADIUS * fabs(deg_rad(lat2) - deg_rad(lat1));
}

double geo_distance(double lon1, double lat1, double lon2, double lat2)
{
    double lon1r = deg_rad(lon1), lon2r = deg_rad(lon2);
    double v = sin((lon2r - lon1r) / 2);
    /* Same meridian: the distance is along it (Redis takes this shortcut,
     * which can differ from the general formula in the last bits). */
    if (v == 0.0) {
        return geo_lat_distance(lat1, lat2);
    }
    double lat1r = deg_rad(lat1), lat2r = deg_rad(lat2);
    double u = sin((lat2r - lat1r) / 2);
    double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * GEO_EARTH_RADIUS * asin(sqrt(a));
}

/* ---- search planning ---- */

int geo_estimate_step(double radius_m, double lat)
{
    if (radius_m == 0) {
        return GEO_STEP_MAX;
    }
    int step = 1;
    while (radius_m < GEO_MERCATOR_MAX) {
        radius_m *= 2;
        step++;
    }
    step -= 2;
    /* Meridians converge towards the poles: cells get narrower there. */
    if (lat > 66 || lat < -66) {
        step--;
        if (lat > 80 || lat < -80) {
            step--;
        }
    }
    if (step < 1) {
        step = 1;
    }
    if (step > GEO_STEP_MAX) {
        step = GEO_STEP_MAX;
    }
    return step;
}

/* The shape's bounding box: min lon, min lat, max lon, max lat. */
static void bounding_box(const geo_shape *s, double b[4])
{
    double height = s->conv * (s->box ? s->height / 2 : s->radius);
    double width = s->conv * (s->box ? s->width / 2 : s->radius);
    double lat_delta = rad_deg(height / GEO_EARTH_RADIUS);
    double lon_delta_top = rad_deg(width / GEO_EARTH_RADIUS / cos(deg_rad(s->lat + lat_delta)));
    double lon_delta_bottom = rad_deg(width / GEO_EARTH_RADIUS / cos(deg_rad(s->lat - lat_delta)));
    /* The widest edge is the one nearer the equator. */
    int south = s->lat < 0;
    b[0] = south ? s->lon - lon_delta_bottom : s->lon - lon_delta_top;
    b[2] = south ? s->lon + lon_delta_bottom : s->lon + lon_delta_top;
    b[1] = s->lat - lat_delta;
    b[3] = s->lat + lat_delta;
}

static geo_area area_of(geo_cell c)
{
    geo_area a;
    geo_cell_area(c, GEO_LAT_MIN, GEO_LAT_MAX, &a);
    return a;
}

void geo_plan_search(const geo_shape *s, geo_plan *p)
{
    double b[4];
    bounding_box(s, b);
    double radius_m = s->box ? sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2)) : s->radius;
    radius_m *= s->conv;
    int step = geo_estimate_step(radius_m, s->lat);

    geo_cell center = {0, step}, nb[8];
    geo_encode(s->lon, s->lat, step, &center);
    geo_neighbors(center, nb);
    /* Near a cell's edge the estimated step may leave part of the shape
     * outside the 3x3 block: then take cells twice as big. */
    int decrease = area_of(nb[GEO_N]).lat_max < b[3] || area_of(nb[GEO_S]).lat_min > b[1] ||
                   area_of(nb[GEO_E]).lon_max < b[2] || area_of(nb[GEO_W]).lon_min > b[0];
    if (step > 1 && decrease) {
        step--;
        center = (geo_cell){0, step};
        geo_encode(s->lon, s->lat, step, &center);
        geo_neighbors(center, nb);
    }
    geo_area a = area_of(center);
    int skip[8] = {0};
    if (step >= 2) {
        /* A side whose neighbours the shape cannot reach. */
        if (a.lat_min < b[1]) {
            skip[GEO_S] = skip[GEO_SW] = skip[GEO_SE] = 1;
        }
        if (a.lat_max > b[3]) {
            skip[GEO_N] = skip[GEO_NE] = skip[GEO_NW] = 1;
        }
        if (a.lon_min < b[0]) {
            skip[GEO_W] = skip[GEO_SW] = skip[GEO_NW] = 1;
        }
        if (a.lon_max > b[2]) {
            skip[GEO_E] = skip[GEO_SE] = skip[GEO_NE] = 1;
        }
    }
    /* Redis scans the center, then N, S, E, W, NE, NW, SE, SW, skipping a
     * cell equal to the last one scanned, but only when that was not the
     * center (big radii make neighbours repeat; a repeat of the center is
     * scanned twice, and its members reported twice, there too). */
    geo_cell cells[9];
    int skipped[9];
    cells[0] = center;
    skipped[0] = 0;
    for (int i = 0; i < 8; i++) {
        cells[i + 1] = nb[i];
        skipped[i + 1] = skip[i];
    }
    p->n = 0;
    int last = 0;
    for (int i = 0; i < 9; i++) {
        if (skipped[i]) {
            continue;
        }
        if (last && cells[i].bits == cells[last].bits) {
            continue;
        }
        geo_cell_scores(cells[i], &p->min[p->n], &p->max[p->n]);
        p->n++;
        last = i;
    }
}

int geo_in_shape(const geo_shape *s, double lon, double lat, double *dist)
{
    if (!s->box) {
        double d = geo_distance(s->lon, s->lat, lon, lat);
        if (d > s->radius * s->conv) {
            return 0;
        }
        *dist = d;
        return 1;
    }
    double width_m = s->width * s->conv, height_m = s->height * s->conv;
    if (geo_lat_distance(lat, s->lat) > height_m / 2) {
        return 0;
    }
    if (geo_distance(lon, lat, s->lon, lat) > width_m / 2) {
        return 0;
    }
    *dist = geo_distance(s->lon, s->lat, lon, lat);
    return 1;
}

/* ---- the standard geohash text ---- */

void geo_hash_string(double score, char out[11])
{
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    double lon, lat;
    geo_decode(score, &lon, &lat);
    /* Re-encoded over the standard -90..90 latitude range. */
    geo_cell c = {0, GEO_STEP_MAX};
    geo_encode_range(lon, lat, -90, 90, GEO_STEP_MAX, &c);
    for (int i = 0; i < 10; i++) {
        out[i] = alphabet[(c.bits >> (52 - (i + 1) * 5)) & 0x1f];
    }
    /* 52 bits make 10 characters and 2 bits: Redis prints an 11th, '0'. */
    out[10] = '0';
}
