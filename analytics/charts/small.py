"""The dashboard's small charts: new persons per day as bars, segment trends as sparklines.

The sparkline is an SVG polyline drawn by the page itself (a dozen of them cost no script).
"""

import plotly.graph_objects as go
from django.utils.translation import gettext

from analytics.charts.common import FONT


def new_persons(days: list[tuple[str, int]]) -> go.Figure:
    """A small bar chart of new persons per day (local dates, oldest first)."""
    figure = go.Figure(
        go.Bar(
            x=[day for day, _ in days],
            y=[count for _, count in days],
            text=[str(count) for _, count in days],
            textposition="outside",
            marker_color="#1f77b4",
            hovertemplate="%{x}: %{y}<extra>" + gettext("new persons") + "</extra>",
        )
    )
    figure.update_layout(
        template="plotly_white",
        font={"family": FONT, "size": 11},
        height=200,
        margin={"l": 32, "r": 8, "t": 16, "b": 40},
        showlegend=False,
        xaxis={
            "type": "date",
            "tickformat": "%m-%d",
            "hoverformat": "%Y-%m-%d",
            "dtick": 2 * 86400000,
        },
        yaxis={"rangemode": "tozero"},
    )
    return figure


def sparkline_points(values: list[int], *, width: int = 120, height: int = 28) -> str:
    """The `points` of an SVG polyline through the values, scaled to the box, oldest left.

    A flat series is drawn in the middle; one value is a flat line across.
    """
    if not values:
        return ""
    if len(values) == 1:
        values = values * 2
    pad = 2
    low, high = min(values), max(values)
    span = high - low
    step = (width - 2 * pad) / (len(values) - 1)
    points = []
    for index, value in enumerate(values):
        share = (value - low) / span if span else 0.5
        y = height - pad - share * (height - 2 * pad)
        points.append(f"{pad + index * step:.1f},{y:.1f}")
    return " ".join(points)
