"""The reports: read-only SQL over daily activity, events and stats (the app's selectors).

Each module has `compute(params) -> dict`, the answer of analytics.md in its JSON shape
(dates as YYYY-MM-DD strings), in one or a few statements whatever the number of persons; the
reports whose cells can be acted on also have `cell_members(params, cell) -> (sql, params)`, a
statement whose `person_id` column lists the persons of one cell.

Reports can be expensive (400 days of a large audience): every statement run under
`time_limit` is cancelled by PostgreSQL after ANALYTICS_STATEMENT_TIMEOUT_MS, and the caller
gets a 503 `report_timeout` instead of a web worker held for minutes.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError
from psycopg import errors as pg_errors

from analytics.params import (
    ACQUISITION,
    ACTIVE,
    FUNNEL,
    LIFECYCLE,
    RETENTION,
    SETTLE,
)
from analytics.reports import acquisition, active, funnel, lifecycle, retention, settle
from identity.exceptions import DomainError
from profiles.conditions.limits import bounded_statements

_MODULES = {
    RETENTION: retention,
    FUNNEL: funnel,
    LIFECYCLE: lifecycle,
    ACTIVE: active,
    ACQUISITION: acquisition,
    SETTLE: settle,
}


class ReportTimeout(DomainError):
    status = 503
    code = "report_timeout"
    default_message = (
        "The report took too long and was stopped: ask for a shorter range or try again later."
    )


@contextmanager
def time_limit(timeout_ms: int | None = None) -> Iterator[None]:
    """Run the block in a transaction (a savepoint inside one) whose statements stop after
    `timeout_ms`, by default ANALYTICS_STATEMENT_TIMEOUT_MS (0: no limit); a stopped one
    raises ReportTimeout."""
    limit = settings.ANALYTICS_STATEMENT_TIMEOUT_MS if timeout_ms is None else timeout_ms
    try:
        with bounded_statements(limit):
            yield
    except DatabaseError as exc:
        if isinstance(exc.__cause__, pg_errors.QueryCanceled):
            raise ReportTimeout() from exc
        raise


def run_report(report: str, params) -> dict:
    """The answer of one report for validated parameters (analytics.params.parse_params)."""
    with time_limit():
        return _MODULES[report].compute(params)


def cell_members_sql(report: str, params, cell) -> tuple[str, list]:
    """A statement listing (`person_id`) the persons of one cell of a retention, lifecycle or
    funnel report."""
    return _MODULES[report].cell_members(params, cell)
