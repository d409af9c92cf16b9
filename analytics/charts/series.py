"""The reports read over time: active users, acquisition, settle rate."""

import plotly.graph_objects as go
from django.utils.translation import gettext

from analytics.charts.common import PERIOD_START, layout, time_axis


def active(answer: dict) -> go.Figure:
    """DAU, WAU and MAU as lines on the left axis, stickiness (DAU / MAU) dashed on the right."""
    days = answer["days"]
    x = [day["date"] for day in days]
    lines = [
        go.Scatter(name=label, x=x, y=[day[key] for day in days], mode="lines+markers")
        for key, label in (
            ("dau", gettext("DAU")),
            ("wau", gettext("WAU")),
            ("mau", gettext("MAU")),
        )
    ]
    stickiness = go.Scatter(
        name=gettext("stickiness (DAU / MAU)"),
        x=x,
        y=[day["stickiness"] for day in days],
        yaxis="y2",
        mode="lines",
        line={"dash": "dash", "color": "#7f7f7f"},
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
    )
    figure = go.Figure([*lines, stickiness])
    figure.update_layout(
        **layout(
            hovermode="x unified",
            xaxis=time_axis(gettext("day"), "day"),
            yaxis={"title": {"text": gettext("active persons")}, "rangemode": "tozero"},
            yaxis2={
                "title": {"text": gettext("stickiness")},
                "overlaying": "y",
                "side": "right",
                "tickformat": ".0%",
                "rangemode": "tozero",
                "showgrid": False,
            },
        )
    )
    return figure


def acquisition(answer: dict, *, names: dict[str, str]) -> go.Figure:
    """New persons per period stacked by first channel (or first app), the largest first."""
    periods = answer["periods"]
    x = [period["start"] for period in periods]
    totals: dict[str, int] = {}
    for period in periods:
        for key, count in period["by"].items():
            totals[key] = totals.get(key, 0) + count
    keys = sorted(totals, key=lambda key: (-totals[key], key))
    traces = [
        go.Bar(
            name=_key_name(key, answer["by"], names),
            x=x,
            y=[period["by"].get(key, 0) for period in periods],
            hovertemplate="%{x}: %{y}<extra>" + _key_name(key, answer["by"], names) + "</extra>",
        )
        for key in keys
    ]
    figure = go.Figure(traces)
    figure.update_layout(
        **layout(
            barmode="stack",
            xaxis=time_axis(str(PERIOD_START[answer["period"]]), answer["period"]),
            yaxis={"title": {"text": gettext("new persons")}, "rangemode": "tozero"},
        )
    )
    return figure


def _key_name(key: str, by: str, names: dict[str, str]) -> str:
    if key == "":
        return gettext("(no channel)") if by == "first_channel" else gettext("(no app)")
    return names.get(key, key)


def settle(answer: dict, *, period: str | None = None) -> go.Figure:
    """The stock settle rate (followers among all visitors so far) and the 7-day cohort rate
    (new visitors who followed within a week) per period (the answer does not name it: the
    caller does)."""
    periods = answer["periods"]
    x = [period["start"] for period in periods]
    stock = go.Scatter(
        name=gettext("settle rate (all visitors so far)"),
        x=x,
        y=[period["settle_rate"] for period in periods],
        mode="lines+markers",
        text=[
            f"{period['followers_among_visitors']} / {period['visitors_total']}"
            for period in periods
        ],
        hovertemplate="%{x}: %{y:.1%} (%{text})<extra></extra>",
    )
    cohort = go.Scatter(
        name=gettext("followed within 7 days (new visitors)"),
        x=x,
        y=[period["cohort_rate"] for period in periods],
        mode="lines+markers",
        line={"dash": "dot"},
        text=[
            f"{period['followed_within_7_days']} / {period['new_visitors']}" for period in periods
        ],
        hovertemplate="%{x}: %{y:.1%} (%{text})<extra></extra>",
    )
    figure = go.Figure([stock, cohort])
    figure.update_layout(
        **layout(
            hovermode="x unified",
            xaxis=time_axis(str(PERIOD_START.get(period, gettext("period"))), period),
            yaxis={"title": {"text": gettext("rate")}, "tickformat": ".0%", "rangemode": "tozero"},
        )
    )
    return figure
