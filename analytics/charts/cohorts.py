"""The reports whose cells are sets of persons: retention, funnel, lifecycle.

Each point of these figures carries its cell in `customdata` (common.cell_data): clicking it
fills the page's "save as tag" form.
"""

from itertools import pairwise

import plotly.graph_objects as go
from django.utils.translation import gettext

from analytics.charts.common import (
    COLORS,
    LATER,
    PERIOD_START,
    cell_data,
    layout,
    percent,
    time_axis,
)
from analytics.params import LIFECYCLE_STATES


def retention(answer: dict) -> go.Figure:
    """The cohort triangle as a heat map: colour is the rate (of the cohort's size), the text
    the count; cells past the range's end are empty (None)."""
    cohorts = answer["cohorts"]
    width = max((len(cohort["values"]) for cohort in cohorts), default=1)
    z, text, custom = [], [], []
    for cohort in cohorts:
        size, values = cohort["size"], cohort["values"]
        z.append(
            [round(v / size, 4) if size else None for v in values] + [None] * (width - len(values))
        )
        text.append([str(v) for v in values] + [""] * (width - len(values)))
        custom.append(
            [
                cell_data(
                    {"cohort": cohort["start"], "offset": offset},
                    gettext("cohort %(cohort)s, +%(offset)d")
                    % {"cohort": cohort["start"], "offset": offset},
                    value,
                )
                for offset, value in enumerate(values)
            ]
            + [""] * (width - len(values))
        )
    later = str(LATER[answer["period"]])
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"+{offset}" for offset in range(width)],
            y=[cohort["start"] for cohort in cohorts],
            text=text,
            texttemplate="%{text}",
            customdata=custom,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            xgap=2,
            ygap=2,
            colorbar={"title": {"text": gettext("rate")}, "tickformat": ".0%"},
            hovertemplate=gettext("cohort")
            + " %{y}, %{x}: %{text} ("
            + gettext("rate")
            + " %{z:.1%})<extra></extra>",
        )
    )
    figure.update_layout(
        **layout(
            xaxis={"title": {"text": later}, "side": "top", "type": "category"},
            yaxis={
                "title": {"text": gettext("cohort")},
                "type": "category",
                "autorange": "reversed",
            },
        )
    )
    return figure


def funnel(answer: dict) -> go.Figure:
    """The steps as bars (count, conversion from the first step in the text), the persons who
    dropped before the next step beside them, and the conversion from each step to the next
    written between the bars."""
    steps = answer["steps"]
    labels = [f"{number}. {_type_name(step['type'])}" for number, step in enumerate(steps, 1)]
    reached = go.Bar(
        name=gettext("reached the step"),
        x=labels,
        y=[step["count"] for step in steps],
        text=[f"{step['count']}<br>{percent(step['conversion'])}" for step in steps],
        textposition="auto",
        marker_color="#1f77b4",
        customdata=[
            cell_data(
                {"step": n, "dropped": False},
                gettext("reached step %(step)d") % {"step": n},
                s["count"],
            )
            for n, s in enumerate(steps, 1)
        ],
        hovertemplate="%{x}: %{y}<extra></extra>",
    )
    dropped_counts = [step["count"] - after["count"] for step, after in pairwise(steps)]
    dropped = go.Bar(
        name=gettext("dropped before the next step"),
        x=labels[:-1],
        y=dropped_counts,
        text=[str(count) for count in dropped_counts],
        textposition="auto",
        marker_color="#bdbdbd",
        customdata=[
            cell_data(
                {"step": n, "dropped": True},
                gettext("reached step %(step)d, not the next") % {"step": n},
                count,
            )
            for n, count in enumerate(dropped_counts, 1)
        ],
        hovertemplate="%{x}: %{y}<extra></extra>",
    )
    arrows = [
        {
            "x": number - 0.5,
            "y": 1.02,
            "xref": "x",
            "yref": "paper",
            "text": f"→ {percent(step['from_previous'])}",
            "showarrow": False,
            "font": {"size": 13, "color": "#444"},
        }
        for number, step in enumerate(steps)
        if number > 0
    ]
    figure = go.Figure([reached, dropped])
    figure.update_layout(
        **layout(
            barmode="group",
            annotations=arrows,
            xaxis={"type": "category"},
            yaxis={"title": {"text": gettext("persons")}, "rangemode": "tozero"},
        )
    )
    return figure


def lifecycle(answer: dict) -> go.Figure:
    """Stacked bars per period: new, returning and resurrecting above the axis, dormant below
    it (negative), the text always the count."""
    periods = answer["periods"]
    x = [period["start"] for period in periods]
    names = state_names()
    traces = []
    for state in LIFECYCLE_STATES:
        sign = -1 if state == "dormant" else 1
        traces.append(
            go.Bar(
                name=names[state],
                x=x,
                y=[sign * period[state] for period in periods],
                text=[str(period[state]) for period in periods],
                textposition="inside",
                marker_color=COLORS[state],
                customdata=[
                    cell_data(
                        {"period": period["start"], "state": state},
                        f"{period['start']}, {names[state]}",
                        period[state],
                    )
                    for period in periods
                ],
                hovertemplate="%{x}: %{text}<extra>" + names[state] + "</extra>",
            )
        )
    figure = go.Figure(traces)
    figure.update_layout(
        **layout(
            barmode="relative",
            xaxis=time_axis(str(PERIOD_START[answer["period"]]), answer["period"]),
            yaxis={"title": {"text": gettext("persons")}, "zeroline": True, "zerolinewidth": 2},
        )
    )
    return figure


def _type_name(key: str | None) -> str:
    return gettext("any event") if key in (None, "any") else key


def state_names() -> dict[str, str]:
    """The lifecycle states in the admin's language (the figure, the table, the dashboard)."""
    return {
        "new": gettext("new"),
        "returning": gettext("returning"),
        "resurrecting": gettext("resurrecting"),
        "dormant": gettext("dormant"),
    }
