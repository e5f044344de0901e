/* pause: held commands and the timer that releases them. */
#include "server/pause.h"

#include "base/alloc.h"
#include "script/lua.h"
#include "server/block.h"

static struct {
    int active;
    int all;
    int64_t until_ms;
    int lifted; /* holds nothing new for now; what it held still waits */
} pauses[PAUSE_PURPOSES];

static int nactive; /* purposes with active set: none, and the gate is one test */
static client **held;
static int nheld, cap_held;
static long long timer_id;

static int any_active(int *all)
{
    *all = 0;
    if (nactive == 0) {
        return 0;
    }
    int64_t now = server_ms();
    int on = 0;
    for (int i = 0; i < PAUSE_PURPOSES; i++) {
        if (pauses[i].active && pauses[i].until_ms && pauses[i].until_ms <= now) {
            pauses[i].active = 0;
            nactive--;
        }
        if (pauses[i].active && !pauses[i].lifted) {
            on = 1;
            *all |= pauses[i].all;
        }
    }
    return on;
}

int pause_writes_active(void)
{
    int all;
    return any_active(&all);
}

int pause_all_active(void)
{
    int all;
    return any_active(&all) && all;
}

static void release(void)
{
    int all;
    if (any_active(&all)) {
        return;
    }
    /* The master link stopped applying under the pause: catch up. */
    for (client *m = server.clients; m; m = m->next) {
        if ((m->flags & CLIENT_MASTER) && m->qlen > m->qpos && !(m->flags & CLIENT_CLOSE_ASAP)) {
            client *prev = server.current_client;
            server.current_client = m;
            client_process_input(m);
            server.current_client = prev;
        }
    }
    if (nheld == 0) {
        return;
    }
    /* Run them in arrival order; one may be held again by a new pause. */
    client **list = held;
    int n = nheld;
    held = NULL;
    nheld = cap_held = 0;
    for (int i = 0; i < n; i++) {
        client *c = list[i];
        if (!c) {
            continue; /* it went away meanwhile */
        }
        c->flags &= ~CLIENT_BLOCKED;
        dispatch(c);
        if (c->flags & CLIENT_BLOCKED) {
            continue;
        }
        client_resume(c);
    }
    alloc_free(list);
}

static long on_timer(ev_loop *l, long long id, void *data)
{
    (void)l;
    (void)id;
    (void)data;
    timer_id = 0;
    release();
    int all;
    if (any_active(&all)) {
        /* Another pause still runs: check again when the nearest ends. */
        int64_t next = 0;
        for (int i = 0; i < PAUSE_PURPOSES; i++) {
            if (pauses[i].active && pauses[i].until_ms && (!next || pauses[i].until_ms < next)) {
                next = pauses[i].until_ms;
            }
        }
        if (next) {
            timer_id =
                ev_timer_add(server.loop, (long)(next - server_ms() > 0 ? next - server_ms() : 1), on_timer, NULL);
        }
    }
    return -1;
}

void pause_start(int purpose, int64_t until_ms, int all)
{
    /* A second CLIENT PAUSE keeps the later end and the stronger mode. */
    if (pauses[purpose].active) {
        if (until_ms && pauses[purpose].until_ms && pauses[purpose].until_ms > until_ms) {
            until_ms = pauses[purpose].until_ms;
        }
        all |= pauses[purpose].all;
    } else {
        nactive++;
    }
    pauses[purpose].active = 1;
    pauses[purpose].all = all;
    pauses[purpose].until_ms = until_ms;
    if (until_ms) {
        if (timer_id) {
            ev_timer_del(server.loop, timer_id);
        }
        int64_t wait = until_ms - server_ms();
        timer_id = ev_timer_add(server.loop, (long)(wait > 0 ? wait : 1), on_timer, NULL);
    }
}

void pause_lift(int purpose, int lifted)
{
    pauses[purpose].lifted = lifted;
}

void pause_end(int purpose)
{
    pauses[purpose].lifted = 0;
    if (pauses[purpose].active) {
        pauses[purpose].active = 0;
        nactive--;
    }
    release();
}

int pause_gate(client *c, const command *cmd)
{
    int all;
    if ((c->flags & (CLIENT_REPLICA | CLIENT_MASTER | CLIENT_FAKE)) || !any_active(&all)) {
        return 0;
    }
    uint32_t f = script_command_flags(c, cmd);
    if (cmd->fn == cmd_exec) {
        f |= multi_queued_flags(c);
    }
    if (!all && !(f & (CMD_WRITE | CMD_MAY_REPLICATE))) {
        return 0;
    }
    client_own_argv(c);
    c->flags |= CLIENT_BLOCKED;
    if (nheld == cap_held) {
        cap_held = cap_held ? cap_held * 2 : 8;
        held = alloc_resize(held, sizeof(client *) * (size_t)cap_held);
    }
    held[nheld++] = c;
    return 1;
}

static void forget(client *c)
{
    for (int i = 0; i < nheld; i++) {
        if (held[i] == c) {
            held[i] = NULL;
        }
    }
}

/* CLIENT PAUSE timeout [WRITE|ALL], CLIENT UNPAUSE */
static int client_pause(client *c)
{
    if (arg_is(c, 1, "UNPAUSE")) {
        pause_end(PAUSE_BY_CLIENT);
        reply_ok(R(c));
        return 1;
    }
    if (!arg_is(c, 1, "PAUSE")) {
        return 0;
    }
    if (c->argc > 4) { /* Redis's text for a subcommand it cannot match */
        reply_subcommand_syntax_error(c);
        return 1;
    }
    long long ms;
    if (!arg_ll_range(c, 2, LLONG_MIN, LLONG_MAX, &ms, "ERR timeout is not an integer or out of range")) {
        return 1;
    }
    if (ms < 0) {
        reply_err(c, "ERR timeout is negative");
        return 1;
    }
    int all = 1;
    if (c->argc == 4 && arg_is(c, 3, "WRITE")) {
        all = 0;
    } else if (c->argc == 4 && !arg_is(c, 3, "ALL")) {
        reply_err(c, "ERR CLIENT PAUSE mode must be WRITE or ALL");
        return 1;
    }
    pause_start(PAUSE_BY_CLIENT, server_ms() + ms, all);
    reply_ok(R(c));
    return 1;
}

void pause_init(void)
{
    client_register_cleanup(forget);
    cmd_client_register(client_pause);
}
