/* cmd_docs: COMMAND DOCS, the documentation Redis 7 gives of each command
 * (summary, version, complexity, arguments), for the table's commands and
 * for modules' alike. */
#ifndef KEEL_CMD_DOCS_H
#define KEEL_CMD_DOCS_H

#include "cmd/cmd.h"

/* Argument types and flags, with the values of Redis's module API (a
 * module's SetCommandInfo hands them over as they are). */
enum {
    CMD_ARG_STRING,
    CMD_ARG_INTEGER,
    CMD_ARG_DOUBLE,
    CMD_ARG_KEY,
    CMD_ARG_PATTERN,
    CMD_ARG_UNIX_TIME,
    CMD_ARG_PURE_TOKEN,
    CMD_ARG_ONEOF, /* one of its subarguments */
    CMD_ARG_BLOCK  /* all of its subarguments, in order */
};
#define CMD_ARG_OPTIONAL 1
#define CMD_ARG_MULTIPLE 2
#define CMD_ARG_MULTIPLE_TOKEN 4

/* One argument of COMMAND DOCS's tree; NULL texts are not shown. */
typedef struct cmd_doc_arg {
    const char *name, *token, *summary, *since, *deprecated_since;
    int type, key_spec_index, flags;
    struct cmd_doc_arg *subargs;
    int nsubargs;
} cmd_doc_arg;

/* What COMMAND DOCS shows of one command; NULL and zero fields are left
 * out. doc_flags holds space-separated words ("deprecated", "syscmd"). */
typedef struct cmd_docs {
    const char *summary, *since, *group, *complexity, *module;
    const char *doc_flags, *deprecated_since, *replaced_by;
    const char *const *history; /* since, changes pairs */
    int nhistory;
    const cmd_doc_arg *args;
    int nargs;
} cmd_docs;

/* COMMAND DOCS's names of the argument types, by CMD_ARG_* value. */
extern const char *const cmd_arg_type_names[];

/* Parses a DOCS line's argument syntax (see cmd_docs_syntax.c) into a tree held
 * by one allocation, *block, for the caller to alloc_free. Returns 0, or
 * -1 with *err saying what is wrong. */
int cmd_doc_args_parse(const char *text, cmd_doc_arg **args, int *nargs, void **block, const char **err);

/* COMMAND DOCS's entry for one command: its map, subcommands included. */
void cmd_docs_reply(client *c, const command *cmd);

/* The map of d, followed by cmd's subcommands (each through
 * cmd_docs_reply). */
void cmd_docs_write(client *c, const command *cmd, const cmd_docs *d);

#endif
