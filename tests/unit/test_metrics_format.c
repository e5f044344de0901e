/* metrics_format unit test: INFO texts with the awkward cases (fields
 * that are not numbers, percent signs, subcommands, quotes and binary
 * bytes in label values, replicas, a stream group with unknown lag) turned
 * into Prometheus text and JSON; the exact lines are checked. */
#include <string.h>

#include "base/alloc.h"
#include "server/metrics_format.h"
#include "unit.h"

static const char *INFO = "# Server\r\n"
                          "redis_version:7.2.4\r\n"
                          "uptime_in_seconds:42\r\n"
                          "\r\n"
                          "# Memory\r\n"
                          "used_memory:1000\r\n"
                          "used_memory_human:1000B\r\n"
                          "used_memory_peak_perc:100.00%\r\n"
                          "mem_fragmentation_ratio:1.25\r\n"
                          "\r\n"
                          "# Stats\r\n"
                          "total_commands_processed:12345678901\r\n"
                          "keyspace_hits:3\r\n"
                          "keyspace_misses:1\r\n"
                          "\r\n"
                          "# Replication\r\n"
                          "role:master\r\n"
                          "slave0:ip=10.0.0.2,port=6380,state=online,offset=77,lag=1\r\n"
                          "\r\n"
                          "# Commandstats\r\n"
                          "cmdstat_client|setname:calls=2,usec=9,usec_per_call=4.50,rejected_calls=0,failed_calls=1\r\n"
                          "cmdstat_broken:calls=x\r\n"
                          "\r\n"
                          "# Latencystats\r\n"
                          "latency_percentiles_usec_get:p50=1.003,p99=12.000,p99.9=100.500\r\n"
                          "\r\n"
                          "# Errorstats\r\n"
                          "errorstat_WRONGTYPE:count=5\r\n"
                          "\r\n"
                          "# Keyspace\r\n"
                          "db0:keys=10,expires=2,avg_ttl=1500\r\n"
                          "db12:keys=1,expires=0,avg_ttl=0\r\n"
                          "no-colon-line\r\n"
                          "trailing";

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) {
            return 1;
        }
    }
    return 0;
}

static void test_prom_and_json(void)
{
    stream_group_figures g[2] = {
        {.db = 0, .lag_known = 1, .lag = 4, .pending = 2, .consumers = 1},
        {.db = 3, .lag_known = 0, .lag = 0, .pending = 0, .consumers = 0},
    };
    g[0].key = str_new("q\"\\\n\xff", 5);
    g[0].group = str_new("g1", 2);
    g[1].key = str_new("s", 1);
    g[1].group = str_new("unknown", 7);
    stream_figures sf = {.refs = 1, .n = 2, .omitted = 7, .pass_ms = 2500, .g = g};
    type_memory tm = {.known = 1, .pass_ms = 1250};
    tm.bytes[OBJ_STRING] = 4096;
    tm.keys[OBJ_STRING] = 64;
    tm.bytes[OBJ_HASH] = 123456789012;
    tm.keys[OBJ_HASH] = 3;
    const char *slow = "[{\"id\":1}]";
    metrics_figures in = {.info = INFO,
                          .info_len = strlen(INFO),
                          .time_ms = 1500,
                          .ops_per_sec = 2.5,
                          .publish_us = 120,
                          .slowlog_json = slow,
                          .slowlog_len = strlen(slow),
                          .streams = &sf,
                          .types = &tm};
    str prom, json;
    metrics_format(&in, &prom, &json);

    CHECK(has_line(prom, "# TYPE keel_commands_processed_total counter"));
    CHECK(has_line(prom, "keel_commands_processed_total 12345678901"));
    CHECK(has_line(prom, "keel_uptime_seconds 42"));
    CHECK(has_line(prom, "keel_memory_used_bytes 1000"));
    CHECK(has_line(prom, "keel_memory_fragmentation_ratio 1.25"));
    CHECK(!strstr(prom, "peak_perc"));
    CHECK(has_line(prom, "keel_keyspace_hit_ratio 0.75"));
    CHECK(has_line(prom, "keel_ops_per_sec 2.5"));
    CHECK(has_line(prom, "keel_metrics_snapshot_timestamp_seconds 1.5"));
    CHECK(has_line(prom, "keel_metrics_publish_usec 120"));
    CHECK(has_line(prom, "keel_replication_role{role=\"master\"} 1"));
    CHECK(has_line(prom, "keel_replica_offset_bytes{replica=\"10.0.0.2:6380\",state=\"online\"} 77"));
    CHECK(has_line(prom, "keel_replica_lag_seconds{replica=\"10.0.0.2:6380\"} 1"));
    CHECK(has_line(prom, "keel_command_calls_total{cmd=\"client|setname\"} 2"));
    CHECK(has_line(prom, "keel_command_usec_total{cmd=\"client|setname\"} 9"));
    CHECK(has_line(prom, "keel_command_failed_calls_total{cmd=\"client|setname\"} 1"));
    CHECK(!strstr(prom, "broken"));
    CHECK(has_line(prom, "keel_command_latency_usec{cmd=\"get\",quantile=\"0.5\"} 1.003"));
    CHECK(has_line(prom, "keel_command_latency_usec{cmd=\"get\",quantile=\"0.99\"} 12"));
    CHECK(has_line(prom, "keel_command_latency_usec{cmd=\"get\",quantile=\"0.999\"} 100.5"));
    CHECK(has_line(prom, "keel_errors_total{error=\"WRONGTYPE\"} 5"));
    CHECK(has_line(prom, "keel_db_keys{db=\"0\"} 10"));
    CHECK(has_line(prom, "keel_db_keys{db=\"12\"} 1"));
    CHECK(has_line(prom, "keel_db_keys_expiring{db=\"0\"} 2"));
    CHECK(has_line(prom, "keel_db_avg_ttl_seconds{db=\"0\"} 1.5"));
    CHECK(has_line(prom, "keel_stream_group_lag{db=\"0\",key=\"q\\\"\\\\\\n\\\\xff\",group=\"g1\"} 4"));
    CHECK(has_line(prom, "keel_stream_group_pending{db=\"3\",key=\"s\",group=\"unknown\"} 0"));
    CHECK(!strstr(prom, "keel_stream_group_lag{db=\"3\""));
    CHECK(has_line(prom, "keel_stream_groups_omitted 7"));
    CHECK(has_line(prom, "keel_stream_groups_pass_seconds 2.5"));
    CHECK(has_line(prom, "# TYPE keel_dataset_bytes gauge"));
    CHECK(has_line(prom, "keel_dataset_bytes{type=\"string\"} 4096"));
    CHECK(has_line(prom, "keel_dataset_bytes{type=\"hash\"} 123456789012"));
    CHECK(has_line(prom, "keel_dataset_bytes{type=\"stream\"} 0"));
    CHECK(has_line(prom, "keel_dataset_keys{type=\"string\"} 64"));
    CHECK(has_line(prom, "keel_dataset_keys{type=\"zset\"} 0"));
    CHECK(has_line(prom, "keel_dataset_pass_seconds 1.25"));
    /* Families absent from INFO are left out, HELP and TYPE included. */
    CHECK(!strstr(prom, "keel_memory_rss_bytes"));

    CHECK(strncmp(json, "{\"time_ms\":1500,\"metrics\":{", 27) == 0);
    CHECK(strstr(json, "\"keel_commands_processed_total\":12345678901") != NULL);
    CHECK(strstr(json, "\"keel_command_calls_total\":[{\"labels\":{\"cmd\":\"client|setname\"},\"value\":2}]") != NULL);
    CHECK(
        strstr(json, "{\"labels\":{\"db\":\"0\",\"key\":\"q\\\"\\\\\\u000a\\u00ff\",\"group\":\"g1\"},\"value\":4}") !=
        NULL);
    CHECK(strstr(json, "},\"slowlog\":[{\"id\":1}]}\n") != NULL);

    str_free(prom);
    str_free(json);
    for (int i = 0; i < 2; i++) {
        str_free(g[i].key);
        str_free(g[i].group);
    }
}

static void test_empty_info(void)
{
    metrics_figures in = {.info = "", .slowlog_json = "[]", .slowlog_len = 2};
    str prom, json;
    metrics_format(&in, &prom, &json);
    CHECK(has_line(prom, "keel_keyspace_hit_ratio 0"));
    CHECK(!strstr(prom, "keel_stream_groups_omitted"));
    CHECK(!strstr(prom, "keel_dataset_bytes")); /* no pass has ended */
    CHECK(strstr(json, "\"slowlog\":[]") != NULL);
    str_free(prom);
    str_free(json);
}

static void test_json_string(void)
{
    str s = metrics_json_string(str_empty(0), "a\"b\\c\x01\x7f\xc3\xa9", 9);
    CHECK(strcmp(s, "\"a\\\"b\\\\c\\u0001\\u007f\\u00c3\\u00a9\"") == 0);
    str_free(s);
}

int main(void)
{
    test_prom_and_json();
    test_empty_info();
    test_json_string();
    return unit_report("metrics_format");
}
