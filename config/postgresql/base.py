"""Django's PostgreSQL backend, without a round trip per request for the health check.

Django's health check (CONN_HEALTH_CHECKS) sends `SELECT 1` before the first query of every
request that reuses a connection. Profiled under load (bench/profile_lookup.py), that round
trip cost as much as the lookup's own statement. Here the check is local: a connection that
psycopg already knows to be broken is replaced. One that broke unnoticed (PostgreSQL
restarted between two requests) fails on its next statement; a read outside a transaction is
then sent again once on a new connection, so that the caller never sees the restart. Writes
and statements inside a transaction are not retried: they may have reached the server, and a
transaction cannot survive its connection.
"""

from django.db import utils
from django.db.backends import utils as backend_utils
from django.db.backends.postgresql import base
from psycopg import pq


class _RetryReads:
    def _execute(self, sql, params, *ignored_wrapper_args):
        try:
            return super()._execute(sql, params, *ignored_wrapper_args)
        except (utils.OperationalError, utils.InterfaceError):
            if not self.db.retryable(sql):
                raise
        self.db.close()
        self.db.ensure_connection()
        self.cursor = self.db.create_cursor()
        return super()._execute(sql, params, *ignored_wrapper_args)


class CursorWrapper(_RetryReads, backend_utils.CursorWrapper):
    pass


class CursorDebugWrapper(_RetryReads, backend_utils.CursorDebugWrapper):
    pass


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        return connection is not None and connection.pgconn.status == pq.ConnStatus.OK

    def retryable(self, sql) -> bool:
        """Whether a failed statement may be sent again on a new connection: a read, outside
        a transaction, whose connection is now known to be lost (not a statement error)."""
        lost = self.connection is None or self.connection.pgconn.status != pq.ConnStatus.OK
        is_read = isinstance(sql, str) and sql.lstrip()[:6].upper() == "SELECT"
        return lost and is_read and not self.in_atomic_block and not self.pool

    def make_cursor(self, cursor):
        return CursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor):
        return CursorDebugWrapper(cursor, self)
