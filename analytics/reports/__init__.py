"""The reports: read-only SQL over daily activity, events and stats (the app's selectors).

Each module has `compute(params) -> dict`, the answer of analytics.md in its JSON shape
(dates as YYYY-MM-DD strings), in one or a few statements whatever the number of persons; the
reports whose cells can be acted on also have `cell_members(params, cell) -> (sql, params)`, a
statement whose `person_id` column lists the persons of one cell.
"""

from analytics.params import (
    ACQUISITION,
    ACTIVE,
    FUNNEL,
    LIFECYCLE,
    RETENTION,
    SETTLE,
)
from analytics.reports import acquisition, active, funnel, lifecycle, retention, settle

_MODULES = {
    RETENTION: retention,
    FUNNEL: funnel,
    LIFECYCLE: lifecycle,
    ACTIVE: active,
    ACQUISITION: acquisition,
    SETTLE: settle,
}


def run_report(report: str, params) -> dict:
    """The answer of one report for validated parameters (analytics.params.parse_params)."""
    return _MODULES[report].compute(params)


def cell_members_sql(report: str, params, cell) -> tuple[str, list]:
    """A statement listing (`person_id`) the persons of one cell of a retention, lifecycle or
    funnel report."""
    return _MODULES[report].cell_members(params, cell)
