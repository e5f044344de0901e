/* cmd_docs: COMMAND DOCS for the table's commands (their DOCS and DOCFLAGS
 * lines, whose argument syntax cmd_docs_syntax.c reads) and for modules'
 * (what SetCommandInfo gave). The argument tree is parsed when COMMAND DOCS
 * asks, so the text costs the server no memory. */
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "cmd/cmd_docs.h"
#include "module/module.h"
#include "server/server.h"

static void write_args(client *c, const cmd_doc_arg *args, int n)
{
    reply_array(R(c), n);
    for (int i = 0; i < n; i++) {
        const cmd_doc_arg *a = &args[i];
        int index = a->type == CMD_ARG_KEY || a->key_spec_index >= 0;
        int fields = 2 + index + (a->token != NULL) + (a->summary != NULL) + (a->since != NULL) +
                     (a->deprecated_since != NULL) + (a->flags != 0) + (a->nsubargs > 0);
        reply_map(R(c), fields);
        reply_bulk_cstr(R(c), "name");
        reply_bulk_cstr(R(c), a->name);
        reply_bulk_cstr(R(c), "type");
        reply_bulk_cstr(R(c), cmd_arg_type_names[a->type]);
        if (index) {
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
