/* cmd_docs unit test: the DOCS lines' argument syntax: every form and
 * modifier, key spec numbering, tokens with '=' in them, nesting, and the
 * errors a malformed line gets (never a crash or an overrun); then every
 * line of the real table parses. */
#include <string.h>

#include "base/alloc.h"
#include "cmd/cmd_docs.h"
#include "unit.h"

static int streq(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

static void test_forms(void)
{
    cmd_doc_arg *a;
    int n;
    void *block;
    const char *err = NULL;
    CHECK(cmd_doc_args_parse("key:key value:string condition:{NX XX}?@2.6.12 GET?@6.2.0 "
                             "EX=seconds:integer@2.6.12 ==equal:pure-token *=auto-id:pure-token "
                             "LIMIT=limit:(offset:integer count:integer)? dest:key#3 src:key+& old:string%6.2.0",
                             &a, &n, &block, &err) == 0);
    CHECK(n == 11);
    CHECK(streq(a[0].name, "key") && a[0].type == CMD_ARG_KEY && a[0].key_spec_index == 0 && !a[0].token);
    CHECK(streq(a[1].name, "value") && a[1].type == CMD_ARG_STRING && a[1].key_spec_index == -1);
    CHECK(a[2].type == CMD_ARG_ONEOF && a[2].flags == CMD_ARG_OPTIONAL && streq(a[2].since, "2.6.12"));
    CHECK(a[2].nsubargs == 2 && streq(a[2].subargs[0].name, "nx") && streq(a[2].subargs[0].token, "NX"));
    CHECK(a[2].subargs[1].type == CMD_ARG_PURE_TOKEN && streq(a[2].subargs[1].token, "XX"));
    CHECK(streq(a[3].name, "get") && streq(a[3].token, "GET") && streq(a[3].since, "6.2.0"));
    CHECK(streq(a[4].name, "seconds") && streq(a[4].token, "EX") && a[4].type == CMD_ARG_INTEGER);
    CHECK(streq(a[5].name, "equal") && streq(a[5].token, "=") && a[5].type == CMD_ARG_PURE_TOKEN);
    CHECK(streq(a[6].name, "auto-id") && streq(a[6].token, "*"));
    CHECK(a[7].type == CMD_ARG_BLOCK && streq(a[7].token, "LIMIT") && a[7].nsubargs == 2);
    CHECK(streq(a[7].subargs[1].name, "count") && a[7].subargs[1].type == CMD_ARG_INTEGER);
    CHECK(a[8].key_spec_index == 3 && a[9].key_spec_index == 4 && a[9].type == CMD_ARG_KEY);
    CHECK(a[9].flags == (CMD_ARG_MULTIPLE | CMD_ARG_MULTIPLE_TOKEN));
    CHECK(streq(a[10].name, "old") && streq(a[10].deprecated_since, "6.2.0") && !a[10].since);
    alloc_free(block);

    /* #n sets the count: the next key takes n + 1. */
    CHECK(cmd_doc_args_parse("a:key#2 b:key c:{d:key e:string}", &a, &n, &block, &err) == 0);
    CHECK(n == 3 && a[0].key_spec_index == 2 && a[1].key_spec_index == 3 && a[2].subargs[0].key_spec_index == 4);
    CHECK(a[1].flags == 0);
    alloc_free(block);
    CHECK(cmd_doc_args_parse("src:key+&", &a, &n, &block, &err) == 0);
    CHECK(n == 1 && a[0].flags == (CMD_ARG_MULTIPLE | CMD_ARG_MULTIPLE_TOKEN));
    alloc_free(block);

    /* A name with a colon; a pattern's key spec. */
    CHECK(cmd_doc_args_parse("ADDR=ip:port:string? k:key BY=pattern:pattern#1 d:key", &a, &n, &block, &err) == 0);
    CHECK(n == 4 && streq(a[0].name, "ip:port") && streq(a[0].token, "ADDR") && a[0].type == CMD_ARG_STRING);
    CHECK(a[0].flags == CMD_ARG_OPTIONAL && a[1].key_spec_index == 0 && a[2].key_spec_index == 1);
    CHECK(a[3].key_spec_index == 2);
    alloc_free(block);

    /* Nothing at all: no arguments. */
    CHECK(cmd_doc_args_parse("", &a, &n, &block, &err) == 0 && n == 0);
    alloc_free(block);
    CHECK(cmd_doc_args_parse("  x:(y:(z:{A B}))  ", &a, &n, &block, &err) == 0);
    CHECK(n == 1 && a[0].subargs[0].subargs[0].subargs[1].type == CMD_ARG_PURE_TOKEN);
    alloc_free(block);
}

static void test_errors(void)
{
    static const char *const bad[] = {
        "key:kee",       /* unknown type */
        "x:(a:string",   /* unclosed */
        "x:{}",          /* empty oneof */
        "a:string)",     /* stray bracket */
        "a:string!",     /* unknown modifier */
        "a:string@",     /* version missing */
        "a:string#1",    /* # on a non-key, non-pattern */
        "a:key#",        /* number missing */
        ":string",       /* no name */
        "x=:pure-token", /* no name after the token */
        "p:pure-token",  /* pure token without its token */
        "*",             /* a token needs the = form unless it is a word */
        "a:(b:{c:(D E}) F)",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cmd_doc_arg *a = (cmd_doc_arg *)1;
        int n = 7;
        void *block = (void *)1;
        const char *err = NULL;
        int rc = cmd_doc_args_parse(bad[i], &a, &n, &block, &err);
        CHECK(rc == -1 && err != NULL && block == NULL && a == NULL && n == 0);
        if (rc == 0) {
            fprintf(stderr, "parsed but should not: %s\n", bad[i]);
            alloc_free(block);
        }
    }
    /* One level holds at most 64 items. */
    char many[1024] = "";
    for (int i = 0; i < 65; i++) {
        strcat(many, "A ");
    }
    cmd_doc_arg *a;
    int n;
    void *block;
    const char *err = NULL;
    CHECK(cmd_doc_args_parse(many, &a, &n, &block, &err) == -1 && err);
    many[2 * 64] = '\0';
    CHECK(cmd_doc_args_parse(many, &a, &n, &block, &err) == 0 && n == 64);
    alloc_free(block);
}

/* Every DOCS line of the table parses. */
static void test_table(void)
{
    static const struct {
        const char *name, *args;
    } lines[] = {
#define CMD(fn_, name_, arity_, flags_, first_, last_, step_, acl_, group_, summary_)
#define DOCS(name_, since_, complexity_, args_) {name_, args_},
#include "cmd/table_all.def"
#undef DOCS
#undef CMD
        {NULL, NULL}};
    int count = 0;
    for (size_t i = 0; lines[i].name; i++) {
        cmd_doc_arg *a;
        int n;
        void *block;
        const char *err = NULL;
        int rc = cmd_doc_args_parse(lines[i].args, &a, &n, &block, &err);
        CHECK(rc == 0);
        if (rc != 0) {
            fprintf(stderr, "DOCS line of %s: %s\n", lines[i].name, err);
        } else {
            alloc_free(block);
        }
        count++;
    }
    CHECK(count >= 3);
}

int main(void)
{
    test_forms();
    test_errors();
    test_table();
    return unit_report("cmd_docs");
}
