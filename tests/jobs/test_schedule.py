"""The worker's schedule: which jobs run when, in TIME_ZONE, overridable by JOBS_SCHEDULE."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from procrastinate.contrib.django import app

from jobs import schedule
from profiles.models import Tag, TagKind
from profiles.selectors import time_dependent_rule_tags
from tests.factories import TagFactory

EXPECTED = {
    "jobs.retry_stalled_jobs": "* * * * *",
    "jobs.prune_job_history": "40 * * * *",
    "profiles.sweep_pending_events": "* * * * *",
    "profiles.refresh_rule_tags": "0 3 * * *",
    "profiles.refresh_time_rule_tags": "5 0 * * *",
    "profiles.snapshot_segments": "50 23 * * *",
    "profiles.ensure_partitions": "20 2 * * *",
    "profiles.prune_events": "30 4 * * *",
    "profiles.repair_activity": "0 5 * * *",
    "wechat.sync_segment_tags": "30 5 * * *",
    "wechat.reimport_followers": "0 4 * * 0",
}


def test_the_schedule_registers_every_periodic_job_with_the_worker():
    registered = {
        name: periodic.cron for (name, _), periodic in app.periodic_registry.periodic_tasks.items()
    }

    assert registered == EXPECTED
    assert {name: job.cron for name, job in schedule.SCHEDULE.items()} == EXPECTED
    for name in EXPECTED:
        task = app.tasks[name]
        assert (task.queue, task.queueing_lock) == ("periodic", name)
    # The stalled-job retry takes no run lock: a stalled run of its own would hold it
    assert app.tasks["jobs.retry_stalled_jobs"].lock is None
    assert app.tasks["profiles.refresh_rule_tags"].lock == "profiles.refresh_rule_tags"


def test_crons_are_read_in_the_time_zone(settings):
    assert settings.TIME_ZONE == "Asia/Shanghai"
    periodic = app.periodic_registry.periodic_tasks[
        ("profiles.refresh_rule_tags", "profiles.refresh_rule_tags")
    ]
    noon_utc = datetime(2030, 6, 1, 12, 0, tzinfo=UTC).timestamp()

    tick = periodic.croniter.get_next(ret_type=float, start_time=noon_utc)

    # 03:00 in Shanghai is 19:00 UTC the day before
    assert datetime.fromtimestamp(tick, UTC) == datetime(2030, 6, 1, 19, 0, tzinfo=UTC)
    job = schedule.get("profiles.refresh_rule_tags")
    assert job.next_run(datetime.fromtimestamp(noon_utc, UTC)) == datetime(
        2030, 6, 2, 3, 0, tzinfo=ZoneInfo("Asia/Shanghai")
    )


def test_a_setting_changes_or_switches_off_a_job(settings):
    settings.JOBS_SCHEDULE = {
        "profiles.prune_events": "15 1 * * *",
        "wechat.reimport_followers": "",
    }

    assert schedule.get("profiles.prune_events").cron == "15 1 * * *"
    assert schedule.get("wechat.reimport_followers").next_run() is None
    assert schedule.get("profiles.snapshot_segments").cron == "50 23 * * *"


@pytest.mark.django_db
def test_the_date_rule_refresh_selects_the_tags_whose_conditions_depend_on_the_date():
    TagFactory(key="promo", kind=TagKind.MANUAL)
    rules = {
        "recent": {"field": "last_seen_at", "op": "within_days", "value": 30},
        "lapsed": {"not": {"field": "last_pay_at", "op": "older_than_days", "value": 90}},
        "browsers": {"event": "view", "within_days": 7, "min_count": 3},
        "promo_rule": {"tag": "promo"},  # manual assignments expire
        "recent_vip": {"all": [{"tag": "recent"}, {"has_phone": True}]},  # through a rule tag
        "big": {"field": "pay_total", "op": ">=", "value": "1000"},
        "big_phone": {"all": [{"tag": "big"}, {"has_phone": True}]},
    }
    Tag.objects.filter(kind=TagKind.RULE).delete()
    for key, condition in rules.items():
        TagFactory(key=key, kind=TagKind.RULE, condition=condition)

    assert time_dependent_rule_tags() == sorted(
        ["recent", "lapsed", "browsers", "promo_rule", "recent_vip"]
    )
