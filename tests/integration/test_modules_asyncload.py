"""A replica with modules loaded and a swapdb full sync of the history it
follows (Redis 7.0's async loading, see test_repl_diskless_load.py): the
old data set is served while the new one loads only when every module
declared REDISMODULE_OPTIONS_HANDLE_REPL_ASYNC_LOAD, and such modules hear
RedisModuleEvent_ReplAsyncLoad: STARTED before the load, then COMPLETED
after the swap or ABORTED when the load is given up. A module that did not
declare it gets an ordinary (blocking) swapdb load and no such event.

Runs with a Keel primary and a Keel or Redis 7.0 replica loading Keel's
testmod (tests/modules/testmod.c, OnLoad argument "asyncload")."""
import pytest
from module_util import build_testmod, loadmodule
from persist_util import TempDirs, removal_fixture
from repl_util import cluster_fixture, kinds_param, replicate, wait_in_sync, wait_link_up, wait_until
from test_repl_diskless_load import force_full_sync_of_the_same_history, loading_state, slow_primary_with_data

mkdir = TempDirs("keel-modules-asyncload-")
_remove_tmpdirs = removal_fixture(mkdir)
cluster = cluster_fixture(mkdir)

replicas = pytest.mark.parametrize("kinds", [kinds_param("keel", "keel"), kinds_param("keel", "redis")])


def start(cluster, kinds, *module_args):
    primary = cluster.start(kinds[0])
    replica = cluster.start(kinds[1], *loadmodule(build_testmod(), *module_args))
    replica.c.config_set("repl-diskless-load", "swapdb")
    replica.c.config_set("replica-read-only", "no")
    replicate(primary, replica)
    replica.c.execute_command("DEBUG", "POPULATE", 300, "slave", 10)
    slow_primary_with_data(primary, 1000)
    assert replica.c.execute_command("tm.events", "reset") == "OK"
    return primary, replica


def async_events(replica):
    return [e for e in replica.c.execute_command("tm.events") if e.startswith("asyncload")]


@replicas
@pytest.mark.parametrize("outcome", ["completed", "aborted"])
def test_a_module_that_copes_hears_the_async_load(cluster, kinds, outcome):
    primary, replica = start(cluster, kinds, "asyncload")
    assert "options=[handle-io-errors|handle-repl-async-load]" in replica.c.execute_command("INFO", "modules")
    force_full_sync_of_the_same_history(primary)
    wait_until(lambda: loading_state(replica) == ("0", "1"), "async loading", peers=(primary, replica))
    assert replica.c.dbsize() == 300  # the old data set, served
    assert async_events(replica) == ["asyncload started"]
    if outcome == "aborted":
        primary.c.config_set("repl-diskless-sync-delay", 5)
        primary.c.execute_command("CLIENT", "KILL", "TYPE", "replica")
        wait_until(lambda: loading_state(replica) == ("0", "0"), "the load given up", peers=(primary, replica))
        assert replica.c.dbsize() == 300
        assert async_events(replica) == ["asyncload started", "asyncload aborted"]
        primary.c.config_set("rdb-key-save-delay", 0)
    else:
        primary.c.config_set("rdb-key-save-delay", 0)
        wait_link_up(replica, primary)
        wait_in_sync(primary, replica)
        assert replica.c.dbsize() == 1010
        assert async_events(replica) == ["asyncload started", "asyncload completed"]


@replicas
def test_a_module_that_does_not_declare_it_gets_a_blocking_load(cluster, kinds):
    primary, replica = start(cluster, kinds)
    assert "options=[]" in replica.c.execute_command("INFO", "modules")
    force_full_sync_of_the_same_history(primary)
    wait_until(lambda: loading_state(replica) == ("1", "0"), "loading", peers=(primary, replica))
    primary.c.config_set("rdb-key-save-delay", 0)
    wait_link_up(replica, primary)
    wait_in_sync(primary, replica)
    assert replica.c.dbsize() == 1010
    events = replica.c.execute_command("tm.events")
    assert "loading repl-start" in events and async_events(replica) == []
