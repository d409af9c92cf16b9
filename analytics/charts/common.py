"""What every figure shares: a system font stack (no web fonts), margins, percentages, and the
payload of a clickable cell."""

import json

from django.utils.translation import gettext_lazy as _

# Fonts the reader's system has: Latin ones first, then the usual Chinese ones of each OS.
FONT = (
    '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "PingFang SC", "Hiragino Sans GB", '
    '"Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif'
)
COLORS = {
    "new": "#2ca02c",
    "returning": "#1f77b4",
    "resurrecting": "#ff7f0e",
    "dormant": "#9e9e9e",
}
LATER = {"day": _("days later"), "week": _("weeks later"), "month": _("months later")}
PERIOD_START = {"day": _("day"), "week": _("week starting"), "month": _("month starting")}


def layout(**extra) -> dict:
    """A report figure's layout: white template, legend below, room for axis titles."""
    return {
        "template": "plotly_white",
        "font": {"family": FONT, "size": 12},
        "margin": {"l": 64, "r": 64, "t": 32, "b": 48},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0},
        "height": 440,
        **extra,
    }


def time_axis(title: str, period: str | None) -> dict:
    """The x axis of a series over periods: dates spaced by Plotly for days (30 labels would
    overlap), one category per week or month (labelled by its first day)."""
    if period == "day":  # numeric dates: Plotly's month names would stay English
        return {"title": {"text": title}, "type": "date", "tickformat": "%m-%d",
                "hoverformat": "%Y-%m-%d"}  # fmt: skip
    return {"title": {"text": title}, "type": "category"}


def percent(rate: float | None) -> str:
    """A rate in [0, 1] as "64.0%", a missing one (no denominator) as a dash."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def cell_data(cell: dict, label: str, count: int) -> str:
    """A point's customdata: the report cell (as `parse_cell` reads it), what it is in words
    and how many persons it holds, for the "save as tag" form."""
    return json.dumps(
        {
            "cell": {key: _text(value) for key, value in cell.items()},
            "label": label,
            "count": count,
        },
        ensure_ascii=False,
    )


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
