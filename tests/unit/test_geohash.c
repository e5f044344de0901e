/* geohash unit test: encode/decode round trips on random points (within
 * half a cell, and stable when re-encoded), distances against a separate
 * haversine written with atan2, neighbour adjacency at random steps, the
 * known values from Redis's documentation (Palermo, Catania), and the
 * search plan: every random point a shape contains lies in one of the
 * score ranges the plan scans. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "types/geohash.h"
#include "unit.h"

static double rnd(double lo, double hi)
{
    return lo + (hi - lo) * ((double)(util_rand64() >> 11) / 9007199254740992.0);
}

static void round_trips(void)
{
    const double cell_lon = 360.0 / (1 << 26), cell_lat = (GEO_LAT_MAX - GEO_LAT_MIN) / (1 << 26);
    int ok = 1, stable = 1;
    for (int i = 0; i < 200000; i++) {
        double lon = rnd(-180, 180), lat = rnd(GEO_LAT_MIN, GEO_LAT_MAX);
        if (i < 4) {
            lon = i & 1 ? -180 : 179.9999999;
            lat = i & 2 ? GEO_LAT_MIN : GEO_LAT_MAX - 1e-9;
        }
        uint64_t s = geo_score(lon, lat);
        double dlon, dlat;
        geo_decode((double)s, &dlon, &dlat);
        if (fabs(dlon - lon) > cell_lon / 2 + 1e-12 || fabs(dlat - lat) > cell_lat / 2 + 1e-12 || s >> 52) {
            if (ok) {
                fprintf(stderr, "round trip %.17g,%.17g -> %.17g,%.17g\n", lon, lat, dlon, dlat);
            }
            ok = 0;
        }
        if (geo_score(dlon, dlat) != s) {
            stable = 0;
        }
    }
    CHECK(ok);
    CHECK(stable);
    /* The range ends and what lies beyond them. */
    geo_cell c;
    CHECK(geo_encode(180, GEO_LAT_MAX, 26, &c));
    CHECK(!geo_encode(180.0000001, 0, 26, &c));
    CHECK(!geo_encode(0, 85.06, 26, &c));
    CHECK(!geo_encode(0, NAN, 26, &c));
    CHECK(geo_valid(-180, GEO_LAT_MIN) && !geo_valid(-180.1, 0) && !geo_valid(0, -85.1));
    CHECK(geo_score(-180, GEO_LAT_MIN) == 0);
}

static void known_values(void)
{
    /* From the GEOADD / GEOHASH / GEODIST documentation examples. */
    CHECK(geo_score(13.361389, 38.115556) == 3479099956230698ULL);
    CHECK(geo_score(15.087269, 37.502669) == 3479447370796909ULL);
    char h[12] = {0};
    geo_hash_string(3479099956230698.0, h);
    CHECK(strcmp(h, "sqc8b49rny0") == 0);
    geo_hash_string(3479447370796909.0, h);
    CHECK(strcmp(h, "sqdtr74hyu0") == 0);
    double lon1, lat1, lon2, lat2;
    geo_decode(3479099956230698.0, &lon1, &lat1);
    geo_decode(3479447370796909.0, &lon2, &lat2);
    char buf[64];
    snprintf(buf, sizeof(buf), "%.4f", geo_distance(lon1, lat1, lon2, lat2));
    CHECK(strcmp(buf, "166274.1516") == 0);
    snprintf(buf, sizeof(buf), "%.17f", lon1);
    CHECK(strcmp(buf, "13.36138933897018433") == 0);
    snprintf(buf, sizeof(buf), "%.17f", lat1);
    CHECK(strcmp(buf, "38.11555639549629859") == 0);
    /* Scores no GEOADD wrote still decode (clamped), as Redis reads them. */
    CHECK(geo_score_bits(-1.0) == UINT64_MAX);
    CHECK(geo_score_bits(1e30) == 0);
    CHECK(geo_score_bits(NAN) == 0);
    CHECK(geo_score_bits(-1e30) == 0x8000000000000000ULL);
    CHECK(geo_score_bits(9223372036854775808.0) == 0x8000000000000000ULL);
    geo_decode(-1.0, &lon1, &lat1);
    CHECK(lon1 == 180 && lat1 == GEO_LAT_MAX);
}

static double haversine_ref(double lon1, double lat1, double lon2, double lat2)
{
    double p1 = lat1 * M_PI / 180, p2 = lat2 * M_PI / 180;
    double dp = p2 - p1, dl = (lon2 - lon1) * M_PI / 180;
    double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    return GEO_EARTH_RADIUS * 2 * atan2(sqrt(a), sqrt(1 - a));
}

static void distances(void)
{
    int ok = 1;
    for (int i = 0; i < 100000; i++) {
        double lon1 = rnd(-180, 180), lat1 = rnd(-85, 85);
        double lon2 = i % 3 ? rnd(-180, 180) : lon1, lat2 = rnd(-85, 85);
        if (i % 5 == 0) {
            lon2 = lon1 + rnd(-0.01, 0.01);
            lat2 = lat1 + rnd(-0.01, 0.01);
        }
        double d = geo_distance(lon1, lat1, lon2, lat2), r = haversine_ref(lon1, lat1, lon2, lat2);
        if (fabs(d - r) > 1e-6 * r + 1e-6) {
            if (ok) {
                fprintf(stderr, "distance %.17g vs %.17g\n", d, r);
            }
            ok = 0;
        }
    }
    CHECK(ok);
    CHECK(geo_distance(10, 20, 10, 20) == 0);
    CHECK(fabs(geo_lat_distance(0, 1) - GEO_EARTH_RADIUS * M_PI / 180) < 1e-6);
}

static void neighbours(void)
{
    int ok = 1;
    for (int i = 0; i < 20000; i++) {
        int step = 1 + (int)(util_rand64() % 26);
        geo_cell c;
        geo_encode(rnd(-180, 180), rnd(GEO_LAT_MIN, GEO_LAT_MAX), step, &c);
        geo_cell nb[8];
        geo_neighbors(c, nb);
        geo_area a, n;
        geo_cell_area(c, GEO_LAT_MIN, GEO_LAT_MAX, &a);
        uint64_t top = 1ULL << step;
        for (int k = 0; k < 8; k++) {
            geo_cell_area(nb[k], GEO_LAT_MIN, GEO_LAT_MAX, &n);
            if (nb[k].step != step || nb[k].bits >> (2 * step)) {
                ok = 0;
            }
            int dlat = k == GEO_N || k == GEO_NE || k == GEO_NW ? 1 : k == GEO_S || k == GEO_SE || k == GEO_SW ? -1 : 0;
            int dlon = k == GEO_E || k == GEO_NE || k == GEO_SE ? 1 : k == GEO_W || k == GEO_NW || k == GEO_SW ? -1 : 0;
            /* Adjacent edges touch; at the range ends the index wraps. */
            if (dlat == 1 && n.lat_min != a.lat_max && !(a.lat_max >= GEO_LAT_MAX - 1e-9 && n.lat_min == GEO_LAT_MIN)) {
                ok = 0;
            }
            if (dlat == -1 && n.lat_max != a.lat_min && !(a.lat_min == GEO_LAT_MIN)) {
                ok = 0;
            }
            if (dlat == 0 && (n.lat_min != a.lat_min || n.lat_max != a.lat_max)) {
                ok = 0;
            }
            if (dlon == 1 && fabs(n.lon_min - a.lon_max) > 1e-9 && !(a.lon_max >= 180 - 1e-9 && n.lon_min == -180)) {
                ok = 0;
            }
            if (dlon == -1 && fabs(n.lon_max - a.lon_min) > 1e-9 && !(a.lon_min == -180)) {
                ok = 0;
            }
            if (dlon == 0 && (n.lon_min != a.lon_min || n.lon_max != a.lon_max)) {
                ok = 0;
            }
        }
        (void)top;
        /* Eight distinct cells, none the center, once step >= 2. */
        if (step >= 2) {
            for (int k = 0; k < 8; k++) {
                if (nb[k].bits == c.bits) {
                    ok = 0;
                }
                for (int j = k + 1; j < 8; j++) {
                    if (nb[k].bits == nb[j].bits) {
                        ok = 0;
                    }
                }
            }
        }
    }
    CHECK(ok);
    double mn, mx;
    geo_cell c = {5, 3};
    geo_cell_scores(c, &mn, &mx);
    CHECK(mn == (double)(5ULL << 46) && mx == (double)(6ULL << 46));
}

static void steps(void)
{
    CHECK(geo_estimate_step(0, 0) == 26);
    CHECK(geo_estimate_step(1e9, 0) == 1);
    CHECK(geo_estimate_step(1, 0) == 24);
    CHECK(geo_estimate_step(1000, 0) == 14);
    CHECK(geo_estimate_step(1000, 70) == 13);
    CHECK(geo_estimate_step(1000, -81) == 12);
    CHECK(geo_estimate_step(0.001, 0) == 26);
}

/* Every point inside a random shape lies in a range the plan scans. */
static void plans(void)
{
    int ok = 1, inside = 0;
    for (int i = 0; i < 3000; i++) {
        geo_shape s = {0};
        s.box = (int)(util_rand64() & 1);
        s.lon = rnd(-180, 180);
        s.lat = rnd(-84, 84);
        s.conv = i % 4 == 0 ? 1000 : 1;
        double size = pow(10, rnd(0, 6.5)) / s.conv;
        s.radius = size;
        s.width = size * rnd(0.2, 2);
        s.height = size * rnd(0.2, 2);
        geo_plan p;
        geo_plan_search(&s, &p);
        if (p.n < 1 || p.n > 9) {
            ok = 0;
        }
        double span = size * s.conv * 2.5 / 111000.0;
        for (int k = 0; k < 200; k++) {
            double lon = s.lon + rnd(-span, span) / fmax(cos(s.lat * M_PI / 180), 0.05);
            double lat = s.lat + rnd(-span, span);
            if (!geo_valid(lon, lat)) {
                continue;
            }
            double dlon, dlat, dist;
            uint64_t sc = geo_score(lon, lat);
            geo_decode((double)sc, &dlon, &dlat);
            if (!geo_in_shape(&s, dlon, dlat, &dist)) {
                continue;
            }
            inside++;
            int found = 0;
            for (int j = 0; j < p.n; j++) {
                if ((double)sc >= p.min[j] && (double)sc < p.max[j]) {
                    found = 1;
                }
            }
            if (!found) {
                if (ok) {
                    fprintf(stderr, "plan misses %.9f,%.9f around %.9f,%.9f size %g box %d\n", dlon, dlat, s.lon, s.lat,
                            size, s.box);
                }
                ok = 0;
            }
        }
    }
    CHECK(ok);
    CHECK(inside > 10000);
    /* A box's distance test: inside by both extents, distance to center. */
    geo_shape b = {1, 0, 0, 0, 2000, 2000, 1};
    double d;
    CHECK(geo_in_shape(&b, 0.005, 0.005, &d) && fabs(d - geo_distance(0, 0, 0.005, 0.005)) < 1e-9);
    CHECK(!geo_in_shape(&b, 0.02, 0, &d));
    geo_shape r = {0, 0, 0, 1000, 0, 0, 1};
    CHECK(geo_in_shape(&r, 0.005, 0.005, &d) && !geo_in_shape(&r, 0.008, 0.008, &d));
}

int main(void)
{
    round_trips();
    known_values();
    distances();
    neighbours();
    steps();
    plans();
    return unit_report("geohash");
}
