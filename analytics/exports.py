"""Each report as CSV: one row per cell, the columns of its JSON answer.

The admin's "Download CSV" and the API's `?format=csv` both write these rows, so a spreadsheet
gets the same numbers as the chart. Rates keep their 4 places; a null rate is an empty cell.
"""

import csv
import io

from analytics.params import ACQUISITION, ACTIVE, FUNNEL, LIFECYCLE, RETENTION, SETTLE


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
    header = ["start", "total", *[key or "(none)" for key in keys]]
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
    # A spreadsheet runs a cell that starts with these as a formula (channel names come from
    # callers): quote it.
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


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
    writer.writerow(header)
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return out.getvalue()


def filename(report: str, params) -> str:
    """`retention-2026-09-01-2026-11-30.csv`: the report and its range."""
    return f"{report}-{params.range.date_from}-{params.range.date_to}.csv"
