"""SQLite transactions that wait instead of failing, for the services realsites.py starts.

realsites.py puts this directory on PYTHONPATH of every OpenStack process it runs, so
Python imports this module at start-up.

Why: several processes of a site write the same SQLite file (Nova's API, conductor and
scheduler share the cell database; Keystone's threads share its database). oslo.db opens
every transaction with a deferred `BEGIN`. A transaction that reads, then writes after
another connection committed, fails at once with "database is locked": SQLite cannot
upgrade a stale read snapshot (SQLITE_BUSY_SNAPSHOT in WAL mode), and the busy timeout does
not apply. Seen as HTTP 500 from nova-api (`UPDATE instances ...` while heartbeats were
written) and from Keystone (`UPDATE user SET last_active_at ...` on parallel sign-ins).

`BEGIN IMMEDIATE` takes the write lock when the transaction starts, so a second writer
waits (up to the busy timeout below) rather than failing. Readers are never blocked (WAL).

How: nothing is imported at start-up (Nova applies eventlet's monkey patching first, and
modules imported before it misbehave). A finder waits for oslo.db's engine module to be
imported, then registers two SQLAlchemy listeners on the Engine class. Class listeners run
before the per-engine listeners oslo.db adds, and oslo.db skips its own `BEGIN` when a
transaction is already marked open (`conn.info["in_transaction"]`), which ours does.
Only connections oslo.db set up are affected: it sets `isolation_level = None` on them
(it emits BEGIN itself); other SQLite engines keep pysqlite's own handling.
"""

import importlib.abc
import importlib.util
import sys

_TARGET = "oslo_db.sqlalchemy.engines"
BUSY_TIMEOUT_MS = 30000


def _install():
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _busy_timeout(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @event.listens_for(Engine, "begin")
    def _begin_immediate(conn):
        if conn.dialect.name != "sqlite" or "in_transaction" in conn.info:
            return
        if conn.connection.dbapi_connection.isolation_level is not None:
            return  # not set up by oslo.db: pysqlite manages its transactions
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.info["in_transaction"] = True  # oslo.db's own "begin" listener then skips

    print("realsites sitecustomize: oslo.db SQLite transactions use BEGIN IMMEDIATE",
          file=sys.stderr, flush=True)


class _AfterOsloDbEngines(importlib.abc.MetaPathFinder):
    """Runs _install() right after oslo.db's engine module is executed, once."""

    def find_spec(self, name, path=None, target=None):
        if name != _TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _install()

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _AfterOsloDbEngines())
