/* cmd_docs_syntax: the argument syntax of the command table's DOCS lines,
 * parsed into COMMAND DOCS's argument tree.
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
 *       0, 1, 2... in order; #n sets the count to n), or of a pattern that
 *       names keys (SORT's BY and GET)
 * A name may hold a ':' ("ADDR=ip:port:string"): the type follows the last.
 * So SET's arguments read
 *   key:key value:string condition:{NX XX}?@2.6.12 GET?@6.2.0
 *   expiration:{EX=seconds:integer@2.6.12 ... KEEPTTL@6.0.0}?
 */
#include <string.h>

#include "base/alloc.h"
#include "cmd/cmd_docs.h"

#define MAX_ITEMS 64 /* of one level: CLIENT KILL's filters are the most, 13 */

typedef struct parser {
    const char *p;
    cmd_doc_arg *pool; /* every node, each level's together */
    int used, cap;
    char *text; /* the strings, each NUL-terminated */
    int next_key;
    const char *err;
} parser;

const char *const cmd_arg_type_names[] = {"string",    "integer",    "double", "key",  "pattern",
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
        } else if (m == '#' && (a->type == CMD_ARG_KEY || a->type == CMD_ARG_PATTERN)) {
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
    const char *end = start; /* the item's text up to a group's bracket */
    while (!ends_item(*end) && *end != '(' && *end != '{') {
        end++;
    }
    const char *colon = NULL; /* the last one: names may hold one (ip:port) */
    for (const char *s = start; s < end; s++) {
        if (*s == ':') {
            colon = s;
        }
    }
    if (!colon) { /* a pure token, named after itself */
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
            if (strlen(cmd_arg_type_names[i]) == len && memcmp(cmd_arg_type_names[i], t, len) == 0) {
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
