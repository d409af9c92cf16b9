"""Retention against a brute force over a randomised history, every parameter combination of
analytics.md; its cells; its range limits; a merge and its undo."""

import itertools
import random
from datetime import date, datetime, timedelta

import pytest

from analytics.params import RETENTION, RetentionCell, parse_params
from analytics.periods import periods_between
from analytics.reports import retention
from analytics.reports._sql import fetch
from analytics.services.cells import save_cell_as_tag
from identity.exceptions import InvalidInput
from identity.models import Identity, Person
from identity.services.merge import merge_persons
from identity.services.undo import undo_merge
from profiles.models import TagAssignment
from tests.analytics import reference
from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db

world = reference.world_fixture(seed=13, linked=True)

# Days before today of `from` and `to`: the history spans 100 days, so that first-ever
# start events are found before `from` too.
RANGES = {"day": (45, 3), "week": (70, 0), "month": (75, 0)}
TYPES = [("register", "any"), ("any", "any"), ("pay", "pay"), ("login", "view")]


def members_of(sql: str, sql_params: list) -> list[int]:
    return [row[0] for row in fetch(sql, sql_params)]


@pytest.mark.parametrize("period", ["day", "week", "month"])
@pytest.mark.parametrize("mode", ["first_time", "recurring"])
def test_retention_matches_the_brute_force(world, period, mode):
    rng = random.Random(f"{period}-{mode}")
    before_from, before_to = RANGES[period]
    date_from = world.today - timedelta(days=before_from)
    date_to = world.today - timedelta(days=before_to)
    segment_members = reference.segment_members(world.segment)
    checked = 0
    for cumulative, (start, ret), apps, segmented in itertools.product(
        (False, True), TYPES, reference.APPS, (False, True)
    ):
        extra, allowed, app_ids = reference.audience_of(world, apps)
        if segmented:
            extra["segment"] = world.segment.key
        query = {
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
            "period": period,
            "mode": mode,
            "cumulative": str(cumulative).lower(),
            "start_event": start,
            "return_event": ret,
            **extra,
        }
        params = parse_params(RETENTION, query, allowed_app_ids=allowed)
        expected, cells = reference.retention(
            world.events,
            period=period,
            date_from=date_from,
            date_to=date_to,
            start=None if start == "any" else start,
            ret=None if ret == "any" else ret,
            mode=mode,
            cumulative=cumulative,
            apps=app_ids,
            members=segment_members if segmented else None,
        )
        assert retention.compute(params) == expected, query
        checked += sum(cohort["size"] for cohort in expected["cohorts"])
        # A few cells, non-empty ones preferred: their members are the brute force's.
        full = [cell for cell, persons in cells.items() if persons]
        for index, offset in [*rng.sample(full, min(3, len(full))), rng.choice(list(cells))]:
            cell = RetentionCell(cohort=params.range.starts[index], offset=offset)
            members = members_of(*retention.cell_members(params, cell))
            assert len(members) == len(set(members)), (query, cell)
            assert set(members) == cells[(index, offset)], (query, cell)
            assert len(members) == expected["cohorts"][index]["values"][offset]
    assert checked > 0  # the history gives the combinations something to count


def test_every_cell_of_a_report_lists_its_count(world):
    params = parse_params(
        RETENTION,
        {"from": (world.today - timedelta(days=70)).isoformat(), "to": world.today.isoformat()},
    )
    answer = retention.compute(params)
    for start, cohort in zip(params.range.starts, answer["cohorts"], strict=True):
        for offset, value in enumerate(cohort["values"]):
            sql, sql_params = retention.cell_members(params, RetentionCell(start, offset))
            assert len(members_of(sql, sql_params)) == value


def test_a_cell_outside_the_triangle_is_refused(world):
    params = parse_params(
        RETENTION,
        {"from": (world.today - timedelta(days=20)).isoformat(), "to": world.today.isoformat()},
    )
    starts = params.range.starts
    with pytest.raises(InvalidInput) as refused:
        retention.cell_members(params, RetentionCell(starts[0] + timedelta(days=1), 0))
    assert "cohort" in refused.value.details
    with pytest.raises(InvalidInput) as refused:
        retention.cell_members(params, RetentionCell(starts[0] - timedelta(days=7), 0))
    assert "cohort" in refused.value.details
    with pytest.raises(InvalidInput) as refused:
        retention.cell_members(params, RetentionCell(starts[1], len(starts) - 1))
    assert "offset" in refused.value.details
    retention.cell_members(params, RetentionCell(starts[1], len(starts) - 2))  # the last one


def test_a_cell_saved_as_a_tag_tags_its_members(world):
    params = parse_params(
        RETENTION,
        {
            "from": (world.today - timedelta(days=70)).isoformat(),
            "to": world.today.isoformat(),
            "start_event": "any",
        },
    )
    cohort = max(retention.compute(params)["cohorts"], key=lambda cohort: cohort["size"])
    cell = RetentionCell(datetime.fromisoformat(cohort["start"]).date(), 0)
    tagged = save_cell_as_tag(
        report=RETENTION, params=params, cell=cell, key="w-cohort", name=None, actor=SYSTEM,
        source="api",
    )  # fmt: skip
    assert tagged == cohort["size"] > 0
    members = set(members_of(*retention.cell_members(params, cell)))
    live = set(Person.objects.live().filter(pk__in=members).values_list("pk", flat=True))
    holders = TagAssignment.objects.filter(tag__key="w-cohort").values_list("person_id", flat=True)
    assert set(holders) == live


@pytest.mark.parametrize(
    ("period", "first", "to", "limit"),
    [
        ("day", date(2025, 12, 27), date(2026, 1, 30), 400),
        ("week", date(2025, 11, 3), date(2026, 12, 27), 60),  # Monday to Sunday
        ("month", date(2025, 1, 1), date(2026, 12, 31), 24),
    ],
)
def test_the_range_limits(period, first, to, limit):
    first = first if period != "day" else to - timedelta(days=limit - 1)
    within = {"period": period, "to": to.isoformat()}
    assert len(parse_params(RETENTION, {**within, "from": first.isoformat()}).range.starts) == limit

    beyond = first - timedelta(days=1)  # one period more: 401 days, 61 weeks, 25 months
    assert len(periods_between(beyond, to, period)) == limit + 1
    with pytest.raises(InvalidInput) as refused:
        parse_params(RETENTION, {**within, "from": beyond.isoformat()})
    assert refused.value.status == 400
    assert refused.value.details == {"from": [f"At most {limit} {period}s per request."]}


def test_from_after_to_is_refused():
    with pytest.raises(InvalidInput) as refused:
        parse_params(RETENTION, {"from": "2026-01-12", "to": "2026-01-11"})
    assert refused.value.status == 400
    assert refused.value.details == {"from": ["Must be on or before `to`."]}


def test_a_merge_moves_the_history_onto_the_survivor_and_an_undo_gives_it_back(
    miniprogram, h5, settings
):
    settings.ANALYTICS_TIME_ZONE = "Asia/Shanghai"
    today = reference.local_day(datetime.now(reference.ZoneInfo("Asia/Shanghai")))
    week0 = today - timedelta(days=today.weekday() + 35)
    reference.ingest_at(
        (miniprogram, "oA", "register", week0 + timedelta(days=2)),
        (h5, "oB", "register", week0 + timedelta(days=8)),
        (h5, "oB", "login", week0 + timedelta(days=22)),
    )
    # A key of these two apps only: the module's history may be in the database too.
    params = parse_params(
        RETENTION,
        {"from": week0.isoformat(), "to": (week0 + timedelta(days=27)).isoformat()},
        allowed_app_ids={miniprogram.pk, h5.pk},
    )

    def values():
        return [cohort["values"] for cohort in retention.compute(params)["cohorts"]]

    separate = [[1, 0, 0, 0], [1, 0, 1], [0, 0], [0]]
    assert values() == separate
    first, second = (
        Identity.objects.get(app=app, openid=openid).person
        for app, openid in ((miniprogram, "oA"), (h5, "oB"))
    )
    record = merge_persons(first=first, second=second, reason="manual", actor=SYSTEM)
    # The survivor's first register is in week 0; the other's register and login are returns.
    assert values() == [[1, 1, 0, 1], [0, 0, 0], [0, 0], [0]]
    undo_merge(record=record, actor=SYSTEM)
    assert values() == separate
