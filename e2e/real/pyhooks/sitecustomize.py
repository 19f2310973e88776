"""SQLite writes that wait instead of failing, in the services realsites.py starts.

realsites.py puts this directory on PYTHONPATH of every OpenStack process it runs, so
Python imports this module at start-up.

Why: several processes of a site write the same SQLite file (Nova's API, conductor and
scheduler share the API and cell databases; heartbeats commit every few seconds), and
Nova's API writes from several threads. oslo.db opens transactions with a deferred
`BEGIN`. A transaction that reads, then writes after another connection committed, fails
at once with "database is locked": SQLite cannot upgrade a stale read snapshot
(SQLITE_BUSY_SNAPSHOT in WAL mode; the busy timeout does not apply). Seen as HTTP 500 from
nova-api on DELETE /servers/{id} (`UPDATE instances ...`, `UPDATE instance_mappings ...`).

Two changes, both limited to the SQLite engines oslo.db creates:

1. Transactions of oslo.db's *writer* contexts begin with `BEGIN IMMEDIATE`: they take the
   write lock first, so a concurrent writer waits (busy timeout) instead of failing
   half-way. Reader contexts keep the deferred `BEGIN`: a reader never blocks anyone, even
   one left open for a whole request. (IMMEDIATE for every transaction was tried: a
   Keystone request then waited 30 s on a lock held by an open read, and failed.)
2. "database is locked" that still happens (a wait longer than the busy timeout, a write
   from a reader context) raises DBDeadlock instead of a bare DBError: OpenStack retries
   that (`wrap_db_retry(retry_on_deadlock=True)` in Nova, Neutron's retry decorators), as
   it does MySQL's deadlocks, which mean the same thing: roll back and run it again.

How: nothing is imported at start-up (Nova applies eventlet's monkey patching first, and
modules imported before it misbehave). A finder waits for oslo.db's modules to be imported
and then patches them. Writer sessions and connections are bound to their engine with an
execution option (`engine.execution_options(...)` shares the engine's pool and listeners);
a listener on the Engine class, which runs before the per-engine listener oslo.db adds,
then emits BEGIN IMMEDIATE and marks the transaction open, and oslo.db's own listener,
seeing the mark, emits nothing.
"""

import functools
import importlib.abc
import importlib.util
import sys

_WRITER_OPTION = "realsites_sqlite_writer"


def _say(message):
    print(f"realsites sitecustomize: {message}", file=sys.stderr, flush=True)


def _patch_enginefacade(enginefacade):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @functools.lru_cache(maxsize=None)
    def writer_flavoured(engine):
        if engine.dialect.name != "sqlite":
            return engine
        return engine.execution_options(**{_WRITER_OPTION: True})

    factory = enginefacade._TransactionFactory
    create_session, create_connection = factory._create_session, factory._create_connection

    def _create_session(self, mode, bind=None):
        if mode is enginefacade._WRITER and bind is None:
            if not self._started:
                self._start()
            bind = writer_flavoured(self._writer_engine)
        return create_session(self, mode, bind)

    def _create_connection(self, mode):
        if mode is enginefacade._WRITER:
            if not self._started:
                self._start()
            return writer_flavoured(self._writer_engine).connect()
        return create_connection(self, mode)

    factory._create_session = _create_session
    factory._create_connection = _create_connection

    @event.listens_for(Engine, "begin")
    def _begin_immediate(conn):
        if conn.dialect.name != "sqlite" or "in_transaction" in conn.info:
            return
        if not conn.get_execution_options().get(_WRITER_OPTION):
            return
        if conn.connection.dbapi_connection.isolation_level is not None:
            return  # not set up by oslo.db: pysqlite manages its transactions
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.info["in_transaction"] = True  # oslo.db's own "begin" listener then skips

    _say("oslo.db writer transactions on SQLite use BEGIN IMMEDIATE")


def _patch_exc_filters(exc_filters):
    from oslo_db import exception
    from sqlalchemy import exc as sqla_exc

    @exc_filters.filters("sqlite", sqla_exc.OperationalError, r"^.*database is locked")
    def _sqlite_locked_is_a_deadlock(operational_error, match, engine_name, is_disconnect):
        raise exception.DBDeadlock(operational_error)

    _say("SQLite 'database is locked' raises DBDeadlock (retried)")


_PATCHES = {
    "oslo_db.sqlalchemy.enginefacade": _patch_enginefacade,
    "oslo_db.sqlalchemy.exc_filters": _patch_exc_filters,
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Applies each patch right after its module is executed, once."""

    def find_spec(self, name, path=None, target=None):
        patch = _PATCHES.pop(name, None)
        if patch is None:
            return None
        if not _PATCHES:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)  # the next finders: this one skips `name` now
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            patch(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _AfterImport())
