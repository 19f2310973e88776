"""SQLite "database is locked" retried like a deadlock, in the services realsites.py starts.

realsites.py puts this directory on PYTHONPATH of every OpenStack process it runs, so
Python imports this module at start-up.

Why: several processes of a site write the same SQLite file (Nova's API, conductor and
scheduler share the cell database, and heartbeats commit to it every few seconds). oslo.db
opens transactions with a deferred `BEGIN`. A transaction that reads, then writes after
another connection committed, fails at once with "database is locked": SQLite cannot
upgrade a stale read snapshot (SQLITE_BUSY_SNAPSHOT in WAL mode; the busy timeout does not
apply). Seen as HTTP 500 from nova-api on `DELETE /servers/{id}` (`UPDATE instances ...`).

That is what MySQL reports as a deadlock: roll back, run the transaction again on a fresh
snapshot. OpenStack already does exactly that for `DBDeadlock` (Nova wraps instance and
service updates in `wrap_db_retry(retry_on_deadlock=True)`, Neutron retries on it
everywhere, Placement and Keystone in places), but oslo.db does not map SQLite's error to
it. This module adds that one mapping to oslo.db's exception filters.

Not `BEGIN IMMEDIATE` for every transaction: Keystone opens a second, independent
transaction while one is open in the same request, and with IMMEDIATE the second waits on
the first until the busy timeout (seen: GET /v3/projects stuck 30 s, then 500).

How: nothing is imported at start-up (Nova applies eventlet's monkey patching first, and
modules imported before it misbehave). A finder waits for oslo.db's exception-filter module
to be imported, then registers the filter.
"""

import importlib.abc
import importlib.util
import sys

_TARGET = "oslo_db.sqlalchemy.exc_filters"


def _install(exc_filters):
    from oslo_db import exception
    from sqlalchemy import exc as sqla_exc

    @exc_filters.filters("sqlite", sqla_exc.OperationalError, r"^.*database is locked")
    def _sqlite_locked_is_a_deadlock(operational_error, match, engine_name, is_disconnect):
        raise exception.DBDeadlock(operational_error)

    print("realsites sitecustomize: SQLite 'database is locked' raises DBDeadlock (retried)",
          file=sys.stderr, flush=True)


class _AfterExcFilters(importlib.abc.MetaPathFinder):
    """Runs _install() right after oslo.db's exception-filter module is executed, once."""

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
            _install(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _AfterExcFilters())
