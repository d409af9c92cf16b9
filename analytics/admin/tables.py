"""The numbers under each chart: the CSV's rows (analytics.exports), labelled in the admin's
language, rates as percentages, and for retention, lifecycle and funnel the cell each number
stands for, so that a click on it fills the "save as tag" form as a click on the chart does.
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from analytics.charts.cohorts import state_names
from analytics.charts.common import cell_data, percent
from analytics.exports import KEY_PREFIXES, report_rows
from analytics.params import (
    ACQUISITION,
    BY_APP,
    BY_FIRST_CHANNEL,
    FUNNEL,
    LIFECYCLE,
    LIFECYCLE_STATES,
    RETENTION,
)

RATES = {"conversion", "from_previous", "stickiness", "settle_rate", "cohort_rate"}
HEADERS = {
    "cohort": _("cohort"),
    "size": _("size"),
    "step": _("step"),
    "type": _("event type"),
    "count": _("persons"),
    "conversion": _("conversion"),
    "from_previous": _("from the previous step"),
    "median_seconds": _("median time from the previous step"),
    "start": _("period"),
    "date": _("day"),
    "dau": _("DAU"),
    "wau": _("WAU"),
    "mau": _("MAU"),
    "stickiness": _("stickiness"),
    "total": _("new persons"),
    "visitors_total": _("visitors so far"),
    "followers_among_visitors": _("followers among them"),
    "settle_rate": _("settle rate"),
    "new_visitors": _("new visitors"),
    "followed_within_7_days": _("followed within 7 days"),
    "cohort_rate": _("7-day rate"),
}


@dataclass
class Cell:
    value: str
    pick: str = ""  # common.cell_data of the report cell, if the number is one


@dataclass
class Table:
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


def _show(column: str, value) -> str:
    if value is None:
        return "—"
    if column in RATES:
        return percent(value)
    if column == "median_seconds":
        return duration(value)
    return str(value)


def duration(seconds: float) -> str:
    """A median time as people read it: seconds, minutes, hours or days."""
    if seconds < 120:
        return gettext("%(n)d s") % {"n": seconds}
    if seconds < 7200:
        return gettext("%(n).0f min") % {"n": seconds / 60}
    if seconds < 172800:
        return gettext("%(n).1f h") % {"n": seconds / 3600}
    return gettext("%(n).1f days") % {"n": seconds / 86400}


def build_table(report: str, answer: dict, *, names: dict[str, str] | None = None) -> Table:
    """The table of a report's answer; `names` labels appids (acquisition by app)."""
    header, rows = report_rows(report, answer)
    table = Table(header=[_heading(column, report, names or {}) for column in header])
    for row in rows:
        cells = [Cell(_show(column, value)) for column, value in zip(header, row, strict=False)]
        table.rows.append(cells + [Cell("") for _ in range(len(header) - len(cells))])
    if report == RETENTION:
        _retention_cells(table, answer)
    elif report == LIFECYCLE:
        _lifecycle_cells(table, answer)
    elif report == FUNNEL:
        _funnel_cells(table, answer)
    return table


def _heading(column: str, report: str, names: dict[str, str]) -> str:
    if column.startswith("period_"):
        return "+" + column.removeprefix("period_")
    if report == LIFECYCLE and column in LIFECYCLE_STATES:
        return state_names()[column]
    if report == ACQUISITION and column not in HEADERS:
        return _key_heading(column, names)
    return str(HEADERS.get(column, column))


def _key_heading(column: str, names: dict[str, str]) -> str:
    """An acquisition key's column, prefixed as in the CSV, so that no channel or app name
    can pass for a fixed column ("period", "new persons") or for the empty key."""
    if column.startswith(KEY_PREFIXES[BY_APP]):
        key = column.removeprefix(KEY_PREFIXES[BY_APP])
        if not key:
            return gettext("(no app)")
        return gettext("app: %(name)s") % {"name": names.get(key, key)}
    key = column.removeprefix(KEY_PREFIXES[BY_FIRST_CHANNEL])
    if not key:
        return gettext("(no channel)")
    return gettext("channel: %(name)s") % {"name": key}


def _retention_cells(table: Table, answer: dict) -> None:
    table.header[1] = gettext("size (+0)")
    for row, cohort in zip(table.rows, answer["cohorts"], strict=True):
        for offset, count in enumerate(cohort["values"]):
            label = gettext("cohort %(cohort)s, +%(offset)d") % {
                "cohort": cohort["start"],
                "offset": offset,
            }
            row[offset + 1].pick = cell_data(
                {"cohort": cohort["start"], "offset": offset}, label, count
            )


def _lifecycle_cells(table: Table, answer: dict) -> None:
    names = state_names()
    for row, period in zip(table.rows, answer["periods"], strict=True):
        for column, state in enumerate(LIFECYCLE_STATES, start=1):
            label = f"{period['start']}, {names[state]}"
            row[column].pick = cell_data(
                {"period": period["start"], "state": state}, label, period[state]
            )


def _funnel_cells(table: Table, answer: dict) -> None:
    """The count of each step is its reached cell; a last column holds those who dropped."""
    table.header.append(gettext("dropped before the next step"))
    steps = answer["steps"]
    for number, (row, step) in enumerate(zip(table.rows, steps, strict=True), start=1):
        label = gettext("reached step %(step)d") % {"step": number}
        row[2].pick = cell_data({"step": number, "dropped": False}, label, step["count"])
        if number == len(steps):
            row.append(Cell("—"))
            continue
        dropped = step["count"] - steps[number]["count"]
        label = gettext("reached step %(step)d, not the next") % {"step": number}
        row.append(Cell(str(dropped), cell_data({"step": number, "dropped": True}, label, dropped)))
