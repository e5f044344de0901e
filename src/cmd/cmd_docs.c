/* cmd_docs: COMMAND DOCS for the table's commands (their DOCS and DOCFLAGS
 * lines) and for modules' (what SetCommandInfo gave).
 *
 * A DOCS line writes a command's argument tree in one string, items
 * separated by spaces:
 *   name:type          an argument; type is string, integer, double, key,
 *                      pattern, unix-time or pure-token
 *   TOKEN=name:type    the same, written after a token ("EX=seconds:integer";
 *                      the token ends at the last '=', so "==equal:pure-token"
 *                      is the token "=")
 *   TOKEN              a pure token named by its lower-cased self ("NX");
 *                      letters, digits, '_' and '-' only
 *   name:(items)       a block: all of them, in order ("TOKEN=name:(...)" too)
 *   name:{items}       a oneof: one of them
 * and after any item, in any order:
 *   ?  optional     +  multiple     &  multiple_token
 *   @7.0.0  since   %6.2.0  deprecated since
 *   #n  the key spec of a key argument (by default the key arguments take
 *       0, 1, 2... in order; #n sets the count to n)
 * So SET's arguments read
 *   key:key value:string condition:{NX XX}?@2.6.12 GET?@6.2.0
 *   expiration:{EX=seconds:integer@2.6.12 ... KEEPTTL@6.0.0}?
 * The tree is parsed when COMMAND DOCS asks, so the text costs no memory
 * of the server's; the tests read every line through COMMAND DOCS. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "cmd/cmd_docs.h"
#include "module/module.h"
#include "server/server.h"

#define MAX_ITEMS 64 /* of one level: CLIENT KILL's filters are the most, 13 */

typedef struct parser {
    const char *p;
    cmd_doc_arg *pool; /* every node, each level's together */
    int used, cap;
    char *text; /* the strings, each NUL-terminated */
    int next_key;
    const char *err;
} parser;

static const char *const type_names[] = {"string",    "integer",    "double", "key",  "pattern",
                                         "unix-time", "pure-token", "oneof",  "block"};

static const char *keep(parser *ps, const char *s, size_t len, int lower)
{
    char *out = ps->text;
    for (size_t i = 0; i < len; i++) {
        out[i] = (char)(lower && s[i] >= 'A' && s[i] <= 'Z' ? s[i] + ('a' - 'A') : s[i]);
    }
    out[len] = '\0';
    ps->text += len + 1;
    return out;
}

static int is_word_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

static int ends_item(char ch)
{
    return ch == '\0' || ch == ' ' || ch == ')' || ch == '}';
}

static int fail(parser *ps, const char *err)
{
    if (!ps->err) {
        ps->err = err;
    }
    return -1;
}

static int parse_items(parser *ps, char close, cmd_doc_arg **out, int *n);

/* The modifiers after an item. */
static int parse_mods(parser *ps, cmd_doc_arg *a)
{
    while (!ends_item(*ps->p)) {
        char m = *ps->p++;
        if (m == '?' || m == '+' || m == '&') {
            a->flags |= m == '?' ? CMD_ARG_OPTIONAL : m == '+' ? CMD_ARG_MULTIPLE : CMD_ARG_MULTIPLE_TOKEN;
        } else if (m == '@' || m == '%') {
            const char *v = ps->p;
            while ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '.') {
                ps->p++;
            }
            if (ps->p == v) {
                return fail(ps, "a version must follow @ or %");
            }
            const char *kept = keep(ps, v, (size_t)(ps->p - v), 0);
            *(m == '@' ? &a->since : &a->deprecated_since) = kept;
        } else if (m == '#' && a->type == CMD_ARG_KEY) {
            int idx = 0;
            const char *v = ps->p;
            while (*ps->p >= '0' && *ps->p <= '9' && idx < 1000) {
                idx = idx * 10 + (*ps->p++ - '0');
            }
            if (ps->p == v) {
                return fail(ps, "a number must follow #");
            }
            a->key_spec_index = idx;
            ps->next_key = idx + 1;
        } else {
            return fail(ps, "unknown modifier after an argument");
        }
    }
    return 0;
}

static int parse_item(parser *ps, cmd_doc_arg *a)
{
    memset(a, 0, sizeof(*a));
    a->key_spec_index = -1;
    const char *start = ps->p;
    const char *colon = start;
    while (!ends_item(*colon) && *colon != ':' && *colon != '(' && *colon != '{') {
        colon++;
    }
    if (*colon != ':') { /* a pure token, named after itself */
        while (is_word_char(*ps->p)) {
            ps->p++;
        }
        if (ps->p == start) {
            return fail(ps, "an argument must start with a name or a token");
        }
        a->type = CMD_ARG_PURE_TOKEN;
        a->token = keep(ps, start, (size_t)(ps->p - start), 0);
        a->name = keep(ps, start, (size_t)(ps->p - start), 1);
        return parse_mods(ps, a);
    }
    const char *eq = NULL;
    for (const char *s = start; s < colon; s++) {
        if (*s == '=') {
            eq = s;
        }
    }
    const char *name = eq ? eq + 1 : start;
    if (name == colon) {
        return fail(ps, "an argument needs a name before ':'");
    }
    a->name = keep(ps, name, (size_t)(colon - name), 0);
    if (eq) {
        a->token = keep(ps, start, (size_t)(eq - start), 0);
    }
    ps->p = colon + 1;
    if (*ps->p == '(' || *ps->p == '{') {
        char close = *ps->p == '(' ? ')' : '}';
        a->type = close == ')' ? CMD_ARG_BLOCK : CMD_ARG_ONEOF;
        ps->p++;
        if (parse_items(ps, close, &a->subargs, &a->nsubargs) != 0) {
            return -1;
        }
        if (a->nsubargs == 0) {
            return fail(ps, "an empty block or oneof");
        }
        ps->p++; /* the closing bracket */
    } else {
        const char *t = ps->p;
        while ((*ps->p >= 'a' && *ps->p <= 'z') || *ps->p == '-') {
            ps->p++;
        }
        size_t len = (size_t)(ps->p - t);
        a->type = -1;
        for (int i = CMD_ARG_STRING; i <= CMD_ARG_PURE_TOKEN; i++) {
            if (strlen(type_names[i]) == len && memcmp(type_names[i], t, len) == 0) {
                a->type = i;
            }
        }
        if (a->type < 0) {
            return fail(ps, "unknown argument type");
        }
        if (a->type == CMD_ARG_PURE_TOKEN && !a->token) {
            return fail(ps, "a pure-token argument needs its token");
        }
        if (a->type == CMD_ARG_KEY) {
            a->key_spec_index = ps->next_key++;
        }
    }
    return parse_mods(ps, a);
}

/* The items up to close ('\0' for the whole line), placed together. */
static int parse_items(parser *ps, char close, cmd_doc_arg **out, int *n)
{
    cmd_doc_arg items[MAX_ITEMS];
    int count = 0;
    for (;;) {
        while (*ps->p == ' ') {
            ps->p++;
        }
        if (*ps->p == close) {
            break;
        }
        if (*ps->p == '\0' || *ps->p == ')' || *ps->p == '}') {
            return fail(ps, "unbalanced brackets");
        }
        if (count == MAX_ITEMS) {
            return fail(ps, "too many arguments in one level");
        }
        if (parse_item(ps, &items[count]) != 0) {
            return -1;
        }
        count++;
    }
    if (ps->used + count > ps->cap) {
        return fail(ps, "too many arguments");
    }
    *out = count ? &ps->pool[ps->used] : NULL;
    *n = count;
    memcpy(&ps->pool[ps->used], items, sizeof(cmd_doc_arg) * (size_t)count);
    ps->used += count;
    return 0;
}

int cmd_doc_args_parse(const char *text, cmd_doc_arg **args, int *nargs, void **block, const char **err)
{
    /* Every item takes at least two characters but the last, and every
     * string kept is at most as long as the text around it, twice over
     * (a pure token's name and token), each with its NUL (four a node
     * at most: name, token and two versions). */
    size_t len = strlen(text);
    size_t nodes = len / 2 + 2;
    void *mem = alloc_mem(sizeof(cmd_doc_arg) * nodes + 2 * len + 4 * nodes + 16);
    parser ps = {.p = text, .pool = mem, .cap = (int)nodes, .text = (char *)mem + sizeof(cmd_doc_arg) * nodes};
    if (parse_items(&ps, '\0', args, nargs) != 0) {
        alloc_free(mem);
        *args = NULL;
        *nargs = 0;
        *block = NULL;
        *err = ps.err;
        return -1;
    }
    *block = mem;
    return 0;
}

static void write_args(client *c, const cmd_doc_arg *args, int n)
{
    reply_array(R(c), n);
    for (int i = 0; i < n; i++) {
        const cmd_doc_arg *a = &args[i];
        int fields = 2 + (a->type == CMD_ARG_KEY) + (a->token != NULL) + (a->summary != NULL) + (a->since != NULL) +
                     (a->deprecated_since != NULL) + (a->flags != 0) + (a->nsubargs > 0);
        reply_map(R(c), fields);
        reply_bulk_cstr(R(c), "name");
        reply_bulk_cstr(R(c), a->name);
        reply_bulk_cstr(R(c), "type");
        reply_bulk_cstr(R(c), type_names[a->type]);
        if (a->type == CMD_ARG_KEY) {
            reply_bulk_cstr(R(c), "key_spec_index");
            reply_int(R(c), a->key_spec_index);
        }
        const char *texts[4][2] = {{"token", a->token},
                                   {"summary", a->summary},
                                   {"since", a->since},
                                   {"deprecated_since", a->deprecated_since}};
        for (int t = 0; t < 4; t++) {
            if (texts[t][1]) {
                reply_bulk_cstr(R(c), texts[t][0]);
                reply_bulk_cstr(R(c), texts[t][1]);
            }
        }
        if (a->flags) {
            static const char *const words[] = {"optional", "multiple", "multiple_token"};
            reply_bulk_cstr(R(c), "flags");
            reply_set(R(c), __builtin_popcount((unsigned)a->flags));
            for (int f = 0; f < 3; f++) {
                if (a->flags & (1 << f)) {
                    reply_status(R(c), words[f]);
                }
            }
        }
        if (a->nsubargs > 0) {
            reply_bulk_cstr(R(c), "arguments");
            write_args(c, a->subargs, a->nsubargs);
        }
    }
}

/* doc_flags' words as a set. */
static void write_words(client *c, const char *words)
{
    int n = 0;
    for (const char *p = words; *p;) {
        while (*p == ' ') {
            p++;
        }
        if (*p) {
            n++;
            p += strcspn(p, " ");
        }
    }
    reply_set(R(c), n);
    for (const char *p = words; *p;) {
        while (*p == ' ') {
            p++;
        }
        size_t len = strcspn(p, " ");
        if (len) {
            reply_status_len(R(c), p, len);
        }
        p += len;
    }
}

void cmd_docs_write(client *c, const command *cmd, const cmd_docs *d)
{
    const char *texts[][2] = {{"summary", d->summary},
                              {"since", d->since},
                              {"group", d->group},
                              {"complexity", d->complexity},
                              {"module", d->module}};
    const char *later[][2] = {{"deprecated_since", d->deprecated_since}, {"replaced_by", d->replaced_by}};
    int n = (d->doc_flags != NULL) + (d->nhistory > 0) + (d->nargs > 0) + (cmd->nsubs > 0);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        n += texts[i][1] != NULL;
    }
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        n += later[i][1] != NULL;
    }
    reply_map(R(c), n);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        if (texts[i][1]) {
            reply_bulk_cstr(R(c), texts[i][0]);
            reply_bulk_cstr(R(c), texts[i][1]);
        }
    }
    if (d->doc_flags) {
        reply_bulk_cstr(R(c), "doc_flags");
        write_words(c, d->doc_flags);
    }
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        if (later[i][1]) {
            reply_bulk_cstr(R(c), later[i][0]);
            reply_bulk_cstr(R(c), later[i][1]);
        }
    }
    if (d->nhistory > 0) {
        reply_bulk_cstr(R(c), "history");
        reply_array(R(c), d->nhistory);
        for (int i = 0; i < d->nhistory; i++) {
            reply_array(R(c), 2);
            reply_bulk_cstr(R(c), d->history[2 * i]);
            reply_bulk_cstr(R(c), d->history[2 * i + 1] ? d->history[2 * i + 1] : "");
        }
    }
    if (d->nargs > 0) {
        reply_bulk_cstr(R(c), "arguments");
        write_args(c, d->args, d->nargs);
    }
    if (cmd->nsubs > 0) {
        reply_bulk_cstr(R(c), "subcommands");
        reply_map(R(c), cmd->nsubs);
        for (int i = 0; i < cmd->nsubs; i++) {
            reply_bulk_cstr(R(c), cmd->subs[i].name);
            cmd_docs_reply(c, &cmd->subs[i]);
        }
    }
}

void cmd_docs_reply(client *c, const command *cmd)
{
    cmd_docs d = {0};
    if (cmd->flags & CMD_MODULE) {
        module_command_docs(cmd, &d);
        cmd_docs_write(c, cmd, &d);
        return;
    }
    d.summary = cmd->summary;
    d.group = cmd->group;
    d.since = cmd->doc.since;
    d.complexity = cmd->doc.complexity;
    d.doc_flags = cmd->doc.flags;
    d.deprecated_since = cmd->doc.deprecated_since;
    d.replaced_by = cmd->doc.replaced_by;
    void *block = NULL;
    if (cmd->doc.args && cmd->doc.args[0]) {
        cmd_doc_arg *args;
        const char *err;
        if (cmd_doc_args_parse(cmd->doc.args, &args, &d.nargs, &block, &err) == 0) {
            d.args = args;
        } else {
            log_msg(LOG_WARNING, "the DOCS line of %s does not parse: %s", cmd->name, err);
        }
    }
    cmd_docs_write(c, cmd, &d);
    alloc_free(block);
}
