"""Each report as CSV: one row per cell, the columns of its JSON answer.

The admin's "Download CSV" and the API's `?format=csv` both write these rows, so a spreadsheet
gets the same numbers as the chart. Rates keep their 4 places; a null rate is an empty cell.
Acquisition's columns are callers' channel names (or appids): each is prefixed (`channel:`,
`app:`; the empty key is the bare prefix), so that none passes for `start`, `total` or
another key (a channel named `(none)` is not the empty one).
"""

import csv
import io

from analytics.params import (
    ACQUISITION,
    ACTIVE,
    BY_APP,
    BY_FIRST_CHANNEL,
    FUNNEL,
    LIFECYCLE,
    RETENTION,
    SETTLE,
)

# The prefix of acquisition's key columns, by `by`.
KEY_PREFIXES = {BY_FIRST_CHANNEL: "channel:", BY_APP: "app:"}
# A spreadsheet runs a cell that starts with one of these as a formula (a tab or a carriage
# return first is skipped by some, then the rest runs).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _retention(answer: dict) -> tuple[list[str], list[list]]:
    width = max((len(cohort["values"]) for cohort in answer["cohorts"]), default=1)
    header = ["cohort", "size", *[f"period_{k}" for k in range(1, width)]]
    rows = [
        [cohort["start"], cohort["size"], *cohort["values"][1:]] for cohort in answer["cohorts"]
    ]
    return header, rows


def _funnel(answer: dict) -> tuple[list[str], list[list]]:
    header = ["step", "type", "count", "conversion", "from_previous", "median_seconds"]
    rows = [
        [number, step["type"], step["count"], step["conversion"], step["from_previous"],
         step["median_seconds"]]
        for number, step in enumerate(answer["steps"], start=1)
    ]  # fmt: skip
    return header, rows


def _periods(columns: tuple[str, ...]):
    def rows(answer: dict) -> tuple[list[str], list[list]]:
        return ["start", *columns], [
            [period["start"], *[period[column] for column in columns]]
            for period in answer["periods"]
        ]

    return rows


def _active(answer: dict) -> tuple[list[str], list[list]]:
    columns = ("dau", "wau", "mau", "stickiness")
    return ["date", *columns], [
        [day["date"], *[day[column] for column in columns]] for day in answer["days"]
    ]


def _acquisition(answer: dict) -> tuple[list[str], list[list]]:
    keys = sorted({key for period in answer["periods"] for key in period["by"]})
    prefix = KEY_PREFIXES[answer["by"]]
    header = ["start", "total", *[prefix + key for key in keys]]
    rows = [
        [period["start"], period["total"], *[period["by"].get(key, 0) for key in keys]]
        for period in answer["periods"]
    ]
    return header, rows


ROWS = {
    RETENTION: _retention,
    FUNNEL: _funnel,
    LIFECYCLE: _periods(("new", "returning", "resurrecting", "dormant")),
    ACTIVE: _active,
    ACQUISITION: _acquisition,
    SETTLE: _periods(
        (
            "visitors_total",
            "followers_among_visitors",
            "settle_rate",
            "new_visitors",
            "followed_within_7_days",
            "cohort_rate",
        )
    ),
}


def report_rows(report: str, answer: dict) -> tuple[list[str], list[list]]:
    """The header and rows of a report's answer."""
    return ROWS[report](answer)


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    # Channel names come from callers, in the header and in rows: quote a would-be formula.
    return "'" + text if text.startswith(FORMULA_STARTS) and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_text(report: str, answer: dict) -> str:
    """A report's answer as CSV text (UTF-8 with a BOM, which Excel needs for Chinese)."""
    header, rows = report_rows(report, answer)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([_cell(column) for column in header])
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return out.getvalue()


def filename(report: str, params) -> str:
    """`retention-2026-09-01-2026-11-30.csv`: the report and its range."""
    return f"{report}-{params.range.date_from}-{params.range.date_to}.csv"
