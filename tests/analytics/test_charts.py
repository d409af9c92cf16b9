"""The figure builders on answers made by hand (the JSON shapes of analytics.md)."""

import json

import pytest
from django.utils import translation

from analytics.charts import build_figure, figure_json
from analytics.charts.small import new_persons, sparkline_points

RETENTION = {
    "period": "week",
    "mode": "first_time",
    "cumulative": False,
    "cohorts": [
        {"start": "2026-09-07", "size": 120, "values": [120, 64, 41, 30]},
        {"start": "2026-09-14", "size": 98, "values": [98, 50, 37]},
        {"start": "2026-09-21", "size": 0, "values": [0, 0]},
    ],
}
FUNNEL = {
    "window_days": 14,
    "steps": [
        {"type": "register", "count": 1000, "conversion": 1.0, "from_previous": None,
         "median_seconds": None},
        {"type": "login", "count": 640, "conversion": 0.64, "from_previous": 0.64,
         "median_seconds": 5400},
        {"type": "pay", "count": 120, "conversion": 0.12, "from_previous": 0.1875,
         "median_seconds": 86000},
    ],
}  # fmt: skip
LIFECYCLE = {
    "period": "week",
    "periods": [
        {"start": "2026-09-07", "new": 50, "returning": 210, "resurrecting": 12, "dormant": 33},
        {"start": "2026-09-14", "new": 40, "returning": 200, "resurrecting": 9, "dormant": 71},
    ],
}
ACTIVE = {
    "days": [
        {"date": "2026-11-29", "dau": 700, "wau": 3000, "mau": 9000, "stickiness": 0.0778},
        {"date": "2026-11-30", "dau": 812, "wau": 3020, "mau": 9100, "stickiness": 0.0892},
    ]
}
ACQUISITION = {
    "period": "day",
    "by": "first_channel",
    "periods": [
        {"start": "2026-11-29", "total": 10, "by": {"qr_store": 4, "": 6}},
        {"start": "2026-11-30", "total": 57, "by": {"qr_store": 20, "share_card": 30, "": 7}},
    ],
}
SETTLE = {
    "periods": [
        {"start": "2026-09-07", "visitors_total": 4800, "followers_among_visitors": 917,
         "settle_rate": 0.191, "new_visitors": 300, "followed_within_7_days": 41,
         "cohort_rate": 0.1367},
        {"start": "2026-09-14", "visitors_total": 0, "followers_among_visitors": 0,
         "settle_rate": None, "new_visitors": 0, "followed_within_7_days": 0,
         "cohort_rate": None},
    ]
}  # fmt: skip


def cell(payload: str) -> dict:
    return json.loads(payload)["cell"]


def test_retention_is_a_heat_map_of_rates_with_the_counts_as_text():
    trace = build_figure("retention", RETENTION).data[0]

    assert trace.type == "heatmap"
    assert [list(row) for row in trace.z] == [
        [1.0, 0.5333, 0.3417, 0.25],
        [1.0, 0.5102, 0.3776, None],  # past the range's end: empty
        [None, None, None, None],  # an empty cohort has no rate
    ]
    assert list(trace.text[0]) == ["120", "64", "41", "30"]
    assert list(trace.text[1]) == ["98", "50", "37", ""]
    assert list(trace.x) == ["+0", "+1", "+2", "+3"]
    assert list(trace.y) == ["2026-09-07", "2026-09-14", "2026-09-21"]
    assert (trace.zmin, trace.zmax) == (0, 1)


def test_retention_cells_carry_cohort_and_offset():
    trace = build_figure("retention", RETENTION).data[0]

    assert cell(trace.customdata[0][2]) == {"cohort": "2026-09-07", "offset": "2"}
    assert json.loads(trace.customdata[1][1])["count"] == 50
    assert trace.customdata[1][3] == ""  # no cell past the triangle


def test_funnel_shows_reached_and_dropped_bars_and_the_conversion_between_steps():
    figure = build_figure("funnel", FUNNEL)
    reached, dropped = figure.data

    assert list(reached.y) == [1000, 640, 120]
    assert list(reached.x) == ["1. register", "2. login", "3. pay"]
    assert "64.0%" in reached.text[1]
    assert list(dropped.y) == [360, 520]  # reached a step, not the next
    assert cell(dropped.customdata[1]) == {"step": "2", "dropped": "true"}
    assert cell(reached.customdata[2]) == {"step": "3", "dropped": "false"}
    assert [a.text for a in figure.layout.annotations] == ["→ 64.0%", "→ 18.8%"]


def test_lifecycle_stacks_the_states_with_dormant_below_the_axis():
    figure = build_figure("lifecycle", LIFECYCLE)
    by_name = {trace.name: trace for trace in figure.data}

    assert figure.layout.barmode == "relative"
    assert list(by_name["new"].y) == [50, 40]
    assert list(by_name["dormant"].y) == [-33, -71]
    assert list(by_name["dormant"].text) == ["33", "71"]  # the count, not its sign
    assert cell(by_name["dormant"].customdata[1]) == {"period": "2026-09-14", "state": "dormant"}


def test_active_users_are_lines_with_stickiness_on_a_second_axis():
    figure = build_figure("active", ACTIVE)
    dau, wau, mau, stickiness = figure.data

    assert [t.type for t in figure.data] == ["scatter"] * 4
    assert (list(dau.y), list(wau.y), list(mau.y)) == ([700, 812], [3000, 3020], [9000, 9100])
    assert stickiness.yaxis == "y2"
    assert list(stickiness.y) == [0.0778, 0.0892]
    assert figure.layout.yaxis2.overlaying == "y"
    assert figure.layout.yaxis2.tickformat == ".0%"


def test_acquisition_stacks_the_channels_largest_first_with_zeros_where_left_out():
    figure = build_figure("acquisition", ACQUISITION)

    assert figure.layout.barmode == "stack"
    assert [trace.name for trace in figure.data] == ["share_card", "qr_store", "(no channel)"]
    assert list(figure.data[0].y) == [0, 30]
    assert list(figure.data[2].y) == [6, 7]


def test_acquisition_by_app_names_the_apps():
    answer = {
        "period": "day",
        "by": "app",
        "periods": [{"start": "2026-11-30", "total": 3, "by": {"wx1": 2, "wx2": 1}}],
    }

    figure = build_figure("acquisition", answer, names={"wx1": "Shop"})

    assert [trace.name for trace in figure.data] == ["Shop", "wx2"]


def test_settle_draws_the_stock_and_the_cohort_rate():
    stock, cohort = build_figure("settle", SETTLE).data

    assert list(stock.y) == [0.191, None]
    assert list(cohort.y) == [0.1367, None]
    assert stock.text[0] == "917 / 4800"


@pytest.mark.parametrize(
    ("report", "answer"),
    [
        ("retention", RETENTION),
        ("funnel", FUNNEL),
        ("lifecycle", LIFECYCLE),
        ("active", ACTIVE),
        ("acquisition", ACQUISITION),
        ("settle", SETTLE),
    ],
)
def test_every_figure_is_plain_json_without_external_fonts(report, answer):
    data = figure_json(build_figure(report, answer))

    text = json.dumps(data)
    assert set(data) == {"data", "layout"}
    assert "http" not in text
    assert "PingFang SC" in data["layout"]["font"]["family"]


def test_labels_follow_the_active_language():
    with translation.override("zh-hans"):
        names = [trace.name for trace in build_figure("lifecycle", LIFECYCLE).data]
        active_names = [trace.name for trace in build_figure("active", ACTIVE).data]

    assert names == ["新用户", "回访用户", "回流用户", "沉睡用户"]
    assert active_names[0] == "日活"
    with translation.override("en"):
        assert build_figure("lifecycle", LIFECYCLE).data[0].name == "new"


def test_new_persons_chart_and_sparkline():
    figure = new_persons([("2026-11-29", 3), ("2026-11-30", 5)])

    assert list(figure.data[0].y) == [3, 5]
    assert sparkline_points([]) == ""
    assert sparkline_points([1, 3], width=10, height=10) == "2.0,8.0 8.0,2.0"
    assert sparkline_points([4, 4, 4], width=10, height=10) == "2.0,5.0 5.0,5.0 8.0,5.0"
    assert sparkline_points([7], width=10, height=10) == "2.0,5.0 8.0,5.0"
