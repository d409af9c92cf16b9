"""The CSV of a report (analytics.exports) and the admin's table headings of acquisition: no
cell a spreadsheet would run, and no channel or app column that passes for a fixed one."""

import csv
import io

from django.utils import translation

from analytics.admin.tables import build_table
from analytics.exports import csv_text

FORMULA = '=HYPERLINK("http://x","y")'


def _acquisition(by: str, keys: dict[str, int]) -> dict:
    return {
        "period": "week",
        "by": by,
        "periods": [{"start": "2026-09-07", "total": sum(keys.values()), "by": keys}],
    }


def _rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_channel_columns_are_prefixed_so_that_none_is_a_fixed_column_or_a_formula():
    keys = {FORMULA: 1, "total": 2, "start": 3, "(none)": 4, "": 5}

    header, row = _rows(csv_text("acquisition", _acquisition("first_channel", keys)))

    assert header == [
        "start",
        "total",
        "channel:",
        "channel:(none)",
        f"channel:{FORMULA}",
        "channel:start",
        "channel:total",
    ]
    assert row == ["2026-09-07", "15", "5", "4", "1", "3", "2"]


def test_app_columns_are_prefixed():
    header, _ = _rows(csv_text("acquisition", _acquisition("app", {"wx1": 1, "": 2})))

    assert header == ["start", "total", "app:", "app:wx1"]


def test_header_and_cells_that_a_spreadsheet_would_run_are_quoted():
    steps = [
        {"type": kind, "count": 1, "conversion": 1.0, "from_previous": None,
         "median_seconds": None}
        for kind in (FORMULA, "\t=1+1", "\r=1+1", "@SUM(A1)", "-1", "plain")
    ]  # fmt: skip

    _, *rows = _rows(csv_text("funnel", {"window_days": 14, "steps": steps}))

    assert [row[1] for row in rows] == [
        "'" + FORMULA,
        "'\t=1+1",
        "'\r=1+1",
        "'@SUM(A1)",
        "-1",  # a number is not a formula
        "plain",
    ]


def test_the_header_goes_through_the_same_quoting(monkeypatch):
    monkeypatch.setattr(
        "analytics.exports.ROWS", {"acquisition": lambda answer: ([FORMULA, "\tx"], [])}
    )

    header, *_ = _rows(csv_text("acquisition", {}))

    assert header == ["'" + FORMULA, "'\tx"]


def test_the_admin_table_heads_each_key_column_with_its_prefix():
    keys = {"total": 2, "(none)": 4, "": 5}
    with translation.override("en"):
        channels = build_table("acquisition", _acquisition("first_channel", keys))
        apps = build_table(
            "acquisition", _acquisition("app", {"wx1": 1, "": 2}), names={"wx1": "Shop"}
        )

    assert channels.header == [
        "period",
        "new persons",
        "(no channel)",
        "channel: (none)",
        "channel: total",
    ]
    assert apps.header == ["period", "new persons", "(no app)", "app: Shop"]
    assert [cell.value for cell in channels.rows[0]] == ["2026-09-07", "11", "5", "4", "2"]
    with translation.override("zh-hans"):
        chinese = build_table("acquisition", _acquisition("first_channel", keys))
    assert chinese.header[2:] == ["（无渠道）", "渠道：(none)", "渠道：total"]  # noqa: RUF001
