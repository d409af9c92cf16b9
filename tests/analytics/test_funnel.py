"""The funnel against a brute force over a randomised history (steps with repeats and `any`,
windows, apps, segment), its cells, and hand-built cases for each rule of analytics.md."""

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from analytics.params import FUNNEL, FunnelCell, parse_params
from analytics.reports import funnel
from analytics.services.cells import save_cell_as_tag
from identity.exceptions import InvalidInput
from identity.models import MergeRecord
from identity.services.merge import merge_persons
from identity.services.undo import undo_merge
from profiles.models import Event, TagAssignment
from tests.analytics import reference_events as ref
from tests.analytics.reference import audience_of as audience
from tests.factories import SYSTEM, H5Factory, MiniProgramFactory

pytestmark = pytest.mark.django_db

world = ref.events_world(seed=21, persons=48, linked=True)

STEPS = [
    ("register", "login"),
    ("view", "view"),
    ("any", "pay"),
    ("login", "any", "login"),
    ("register", "login", "view", "pay"),
    ("view", "login", "view", "pay"),
]
WINDOWS = (1, 7, 14, 90)
RANGES = ((60, 10), (30, 0))  # days before today of `from` and `to`


def members(params, cell) -> set[int]:
    sql, sql_params = funnel.cell_members(params, cell)
    with connection.cursor() as cursor:
        cursor.execute(sql, sql_params)
        rows = [row[0] for row in cursor.fetchall()]
    assert len(rows) == len(set(rows))
    return set(rows)


class TestAgainstTheBruteForce:
    def test_every_combination(self, world):
        segment_members = ref.segment_members(world.segment)
        entered = reached_last = 0
        for steps, window, (before_from, before_to), apps, segmented in itertools.product(
            STEPS, WINDOWS, RANGES, ("all", "app", "restricted"), (False, True)
        ):
            extra, allowed, app_ids = audience(world, apps)
            if segmented:
                extra["segment"] = world.segment.key
            date_from = world.today - timedelta(days=before_from)
            date_to = world.today - timedelta(days=before_to)
            query = {
                "steps": ",".join(steps),
                "window_days": str(window),
                "from": date_from.isoformat(),
                "to": date_to.isoformat(),
                **extra,
            }
            params = parse_params(FUNNEL, query, allowed_app_ids=allowed)
            definition = {
                "steps": [None if s == "any" else s for s in steps],
                "window_days": window,
                "date_from": date_from,
                "date_to": date_to,
                "apps": app_ids,
                "members": segment_members if segmented else None,
            }
            paths = ref.funnel_paths(world.events, **definition)
            expected = ref.funnel_answer(paths, steps=definition["steps"], window_days=window)
            answer = funnel.compute(params)
            assert answer == expected, query
            if window in (1, 14):  # the exhaustive search agrees with the greedy walk
                reach = ref.furthest_reach(world.events, **definition)
                assert reach == {person: len(path) for person, path in paths.items()}, query
            for k in range(1, len(steps) + 1):
                reached = members(params, FunnelCell(step=k, dropped=False))
                assert len(reached) == answer["steps"][k - 1]["count"], (query, k)
                assert reached == {p for p, path in paths.items() if len(path) >= k}, (query, k)
                if k < len(steps):
                    dropped = {p for p, path in paths.items() if len(path) == k}
                    assert members(params, FunnelCell(step=k, dropped=True)) == dropped, (query, k)
            entered += expected["steps"][0]["count"]
            reached_last += expected["steps"][-1]["count"]
        # The history gives the comparison something to find.
        assert entered > 500, entered
        assert reached_last > 50, reached_last


# Hand-built cases ------------------------------------------------------------------------


@pytest.fixture
def apps(db):
    return MiniProgramFactory(appid="wxf1111111111111111"), H5Factory(appid="wxf3333333333333333")


def run(day_from, day_to, steps: str, window: int = 1, **extra) -> dict:
    query = {"steps": steps, "window_days": str(window), "from": str(day_from), "to": str(day_to)}
    return funnel.compute(parse_params(FUNNEL, {**query, **extra}))


def counts(answer: dict) -> list[int]:
    return [step["count"] for step in answer["steps"]]


def medians(answer: dict) -> list:
    return [step["median_seconds"] for step in answer["steps"]]


@pytest.fixture
def noon(db):
    """Local noon ten days ago: hand-built histories stay inside the last month."""
    return ref.midnight(ref.local_day(timezone.now()) - timedelta(days=10)) + timedelta(hours=12)


def test_a_person_counts_once_with_the_entry_reaching_furthest(apps, noon):
    mini, _ = apps
    day = ref.local_day(noon)
    ref.ingest(
        (mini, "o1", "register", noon),
        (mini, "o1", "login", noon + timedelta(hours=20)),  # the first entry stops here
        (mini, "o1", "register", noon + timedelta(days=2)),
        (mini, "o1", "login", noon + timedelta(days=2, hours=1)),
        (mini, "o1", "view", noon + timedelta(days=2, hours=3)),
        (mini, "o1", "view", noon + timedelta(days=3, hours=2)),  # outside the first's window
    )
    answer = run(day, day + timedelta(days=2), "register,login,view")
    assert counts(answer) == [1, 1, 1]
    assert medians(answer) == [None, 3600, 7200]


def test_a_tie_goes_to_the_earliest_entry(apps, noon):
    mini, _ = apps
    day = ref.local_day(noon)
    ref.ingest(
        (mini, "o1", "register", noon),
        (mini, "o1", "login", noon + timedelta(hours=5)),
        (mini, "o1", "register", noon + timedelta(hours=6)),
        (mini, "o1", "login", noon + timedelta(hours=7)),
        # Another person: a median of an even count is the mean of the two middle values.
        (mini, "o2", "register", noon),
        (mini, "o2", "login", noon + timedelta(seconds=1)),
    )
    answer = run(day, day, "register,login")
    assert counts(answer) == [2, 2]
    assert medians(answer) == [None, (5 * 3600 + 1) / 2]


def test_the_window_ends_exactly_window_days_after_the_entry(apps, noon):
    mini, _ = apps
    day = ref.local_day(noon)
    ref.ingest(
        (mini, "o1", "register", noon),
        (mini, "o1", "login", noon + timedelta(days=7)),
        (mini, "o2", "register", noon),
        (mini, "o2", "login", noon + timedelta(days=7, seconds=1)),
    )
    answer = run(day, day, "register,login", window=7)
    assert counts(answer) == [2, 1]
    assert medians(answer) == [None, 7 * 86400]
    assert counts(run(day, day, "register,login", window=8)) == [2, 2]


def test_later_steps_may_fall_after_to_but_entries_may_not(apps, noon):
    mini, _ = apps
    day = ref.local_day(noon)
    first = ref.midnight(day)
    ref.ingest(
        (mini, "o1", "register", first),  # the first instant of `from`
        (mini, "o1", "login", first + timedelta(days=1, hours=1)),  # after `to`
        (mini, "o2", "register", first - timedelta(seconds=1)),  # the day before
        (mini, "o2", "login", first + timedelta(hours=1)),
        (mini, "o3", "register", first + timedelta(days=1)),  # the day after
        (mini, "o3", "login", first + timedelta(days=1, hours=1)),
    )
    answer = run(day, day, "register,login", window=2)
    assert counts(answer) == [1, 1]
    assert medians(answer) == [None, 25 * 3600]


def test_equal_times_count_in_either_order_of_ids(apps, noon):
    mini, _ = apps
    day = ref.local_day(noon)
    ref.ingest((mini, "o1", "login", noon), (mini, "o1", "register", noon))
    ref.ingest((mini, "o2", "register", noon), (mini, "o2", "login", noon))
    answer = run(day, day, "register,login")
    assert counts(answer) == [2, 2]
    assert medians(answer) == [None, 0]


def test_steps_of_one_type_need_distinct_events(apps, noon):
    mini, _ = apps
    day = ref.local_day(noon)
    ref.ingest(
        (mini, "one", "view", noon),
        (mini, "two", "view", noon),
        (mini, "two", "view", noon),
        (mini, "three", "view", noon),
        (mini, "three", "view", noon),
        (mini, "three", "view", noon),
        (mini, "three", "view", noon + timedelta(minutes=1)),
    )
    assert counts(run(day, day, "view,view,view,view")) == [3, 2, 1, 1]
    assert counts(run(day, day, "any,any,any,any")) == [3, 2, 1, 1]
    assert medians(run(day, day, "view,any,view,view")) == [None, 0, 0, 60]


def test_a_repeated_type_is_looked_for_after_the_step_before(apps, noon):
    mini, _ = apps
    day = ref.local_day(noon)
    ref.ingest(
        (mini, "o1", "view", noon),
        (mini, "o1", "view", noon + timedelta(minutes=30)),  # before the login: not step 3
        (mini, "o1", "login", noon + timedelta(hours=1)),
        (mini, "o2", "view", noon),
        (mini, "o2", "login", noon + timedelta(hours=1)),
        (mini, "o2", "view", noon + timedelta(hours=2)),
    )
    answer = run(day, day, "view,login,view")
    assert counts(answer) == [2, 2, 1]
    assert medians(answer) == [None, 3600, 3600]


def test_an_entry_of_any_type_at_the_same_instant_settles_by_id(apps, noon):
    """Entries are tried in (time, id) order: the earliest of two at one instant decides."""
    mini, _ = apps
    day = ref.local_day(noon)
    ref.ingest((mini, "o1", "login", noon), (mini, "o1", "view", noon))
    ref.ingest((mini, "o1", "view", noon + timedelta(seconds=5)))
    ids = dict(Event.objects.filter(occurred_at=noon).values_list("type_id", "pk"))
    # From the login, the view of the same instant is step 2 (0 s); from that view, the next
    # view is (5 s). Both reach step 2: the entry with the lower id counts.
    expected = 0 if ids["login"] < ids["view"] else 5
    assert medians(run(day, day, "any,view")) == [None, expected]


def test_every_step_is_in_the_app(apps, noon):
    mini, h5 = apps
    day = ref.local_day(noon)
    ref.ingest((mini, "o1", "register", noon), (h5, "h1", "login", noon + timedelta(hours=1)))
    merge_persons(
        first=ref.person_of(mini, "o1"),
        second=ref.person_of(h5, "h1"),
        reason="manual",
        actor=SYSTEM,
    )
    assert counts(run(day, day, "register,login")) == [1, 1]
    assert counts(run(day, day, "register,login", app=mini.appid)) == [1, 0]
    assert counts(run(day, day, "register,login", app=h5.appid)) == [0, 0]


def test_a_merge_brings_the_steps_together_and_an_undo_parts_them(apps, noon):
    mini, h5 = apps
    day = ref.local_day(noon)
    ref.ingest((mini, "o1", "register", noon), (h5, "h1", "login", noon + timedelta(hours=1)))
    first, second = ref.person_of(mini, "o1"), ref.person_of(h5, "h1")
    params = parse_params(FUNNEL, {"steps": "register,login", "from": str(day), "to": str(day)})
    assert counts(funnel.compute(params)) == [1, 0]
    assert members(params, FunnelCell(step=1, dropped=True)) == {first.pk}

    record = merge_persons(first=first, second=second, reason="manual", actor=SYSTEM)
    assert counts(funnel.compute(params)) == [1, 1]
    assert members(params, FunnelCell(step=2, dropped=False)) == {record.survivor_id}
    assert members(params, FunnelCell(step=1, dropped=True)) == set()

    undo_merge(record=MergeRecord.objects.get(pk=record.pk), actor=SYSTEM)
    assert counts(funnel.compute(params)) == [1, 0]
    assert members(params, FunnelCell(step=1, dropped=True)) == {first.pk}


def test_a_cell_names_a_step_of_the_funnel(apps, noon):
    day = ref.local_day(noon)
    params = parse_params(FUNNEL, {"steps": "register,login", "from": str(day), "to": str(day)})
    with pytest.raises(InvalidInput) as dropped_at_the_end:
        funnel.cell_members(params, FunnelCell(step=2, dropped=True))
    with pytest.raises(InvalidInput) as beyond:
        funnel.cell_members(params, FunnelCell(step=3, dropped=False))
    assert "step" in dropped_at_the_end.value.details
    assert "step" in beyond.value.details
    assert funnel.compute(params)["steps"][0] == {
        "type": "register",
        "count": 0,
        "conversion": None,
        "from_previous": None,
        "median_seconds": None,
    }


def test_dropped_persons_saved_as_a_tag(apps, noon):
    mini, _ = apps
    day = ref.local_day(noon)
    ref.ingest(
        (mini, "o1", "register", noon),
        (mini, "o2", "register", noon),
        (mini, "o2", "login", noon + timedelta(hours=1)),
    )
    params = parse_params(FUNNEL, {"steps": "register,login", "from": str(day), "to": str(day)})
    cell = FunnelCell(step=1, dropped=True)
    tagged = save_cell_as_tag(
        report=FUNNEL, params=params, cell=cell, key="dropped", name=None, actor=SYSTEM,
        source="api",
    )  # fmt: skip
    assert tagged == 1
    holders = TagAssignment.objects.filter(tag__key="dropped").values_list("person_id", flat=True)
    assert set(holders) == {ref.person_of(mini, "o1").pk}


def test_the_window_is_window_days_x_86400_seconds_across_a_change_of_clocks(apps, settings):
    """Europe/Berlin springs forward on 2026-03-29: the 14 wall-clock days after the end of
    2026-03-20 are an hour short of 14 x 86400 seconds. Fixed dates, all in the past on any
    day the suite runs."""
    settings.ANALYTICS_TIME_ZONE = "Europe/Berlin"
    mini, _ = apps
    register = datetime(2026, 3, 20, 23, 59, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    login = register + timedelta(days=14, seconds=-60)  # 2026-04-04 00:58 in Berlin
    ref.ingest((mini, "o1", "register", register), (mini, "o1", "login", login))
    answer = run(date(2026, 3, 20), date(2026, 3, 20), "register,login", window=14)
    assert counts(answer) == [1, 1]
    assert medians(answer) == [None, 14 * 86400 - 60]
