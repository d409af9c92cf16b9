"""Plotly figures of the reports, built in Python from a report's answer (its JSON shape).

The admin embeds `figure_json(build_figure(report, answer))` in the page and plotly.js (served
by the project from the pinned `plotly` package) draws it; no chart code or data comes from
elsewhere. Builders call gettext when they run, so a figure built while the admin speaks
Chinese reads in Chinese. Points that stand for a report cell (retention, lifecycle, funnel)
carry it in `customdata` (see `cell_data`), which the page turns into "save as tag".
"""

import json

import plotly.graph_objects as go

from analytics.charts import cohorts, series
from analytics.params import ACQUISITION, ACTIVE, FUNNEL, LIFECYCLE, RETENTION, SETTLE

BUILDERS = {
    RETENTION: cohorts.retention,
    FUNNEL: cohorts.funnel,
    LIFECYCLE: cohorts.lifecycle,
    ACTIVE: series.active,
    ACQUISITION: series.acquisition,
    SETTLE: series.settle,
}


def build_figure(
    report: str, answer: dict, *, names: dict[str, str] | None = None, period: str | None = None
) -> go.Figure:
    """The figure of one report's answer; `names` labels keys (appids) by what people call them,
    `period` is the settle report's (its answer does not echo it)."""
    if report == ACQUISITION:
        return series.acquisition(answer, names=names or {})
    if report == SETTLE:
        return series.settle(answer, period=period or answer.get("period"))
    return BUILDERS[report](answer)


def figure_json(figure: go.Figure) -> dict:
    """The figure as plain JSON data (lists, numbers, strings) for the page's json_script."""
    return json.loads(figure.to_json())
