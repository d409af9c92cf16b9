"""Saving a rule tag queues its refresh; the tag pages say "refreshing…" until it ran, then when,
how long and what it changed."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import formats, timezone, translation
from procrastinate.contrib.django.models import ProcrastinateJob

from identity.models import Actor, AuditEntry
from profiles.admin.tags import duration_text
from profiles.models import Tag, TagAssignment, TagKind
from profiles.services.definitions import save_tag
from profiles.services.person_tags import refresh_rules_of
from profiles.tasks.rules import TASK_NAME, refresh_lock, refresh_rule_tag_job
from profiles.tasks.schedule import refresh_all_rule_tags
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

STAFF = Actor.system("test staff")
HAS_PHONE = {"has_phone": True}
NO_PHONE = {"not": {"has_phone": True}}
TAGS = reverse("admin:profiles_tag_changelist")


def change_page(tag: Tag) -> str:
    return reverse("admin:profiles_tag_change", args=[tag.pk])


def refresh_jobs() -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name=TASK_NAME, status="todo"))


def run_queued_refreshes() -> None:
    """Do what the worker does with each waiting refresh: run it, and the job is gone."""
    for job in refresh_jobs():
        refresh_rule_tag_job(**job.args)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM procrastinate_jobs WHERE id = %s", [job.id])


def rule_tag(key: str = "has-phone", condition: dict = HAS_PHONE) -> Tag:
    return save_tag(tag=Tag(key=key, name=key, kind=TagKind.RULE, condition=condition), actor=STAFF)


def holders(tag: Tag) -> set[int]:
    return set(TagAssignment.objects.filter(tag=tag).values_list("person_id", flat=True))


@pytest.fixture
def queued(settings):
    """Jobs wait for the worker instead of running inline."""
    settings.JOBS_RUN_INLINE = False


@pytest.fixture
def people():
    with_phone = PersonFactory(phone="+8613800138000")
    without_phone = PersonFactory()
    return with_phone, without_phone


def test_creating_a_rule_tag_queues_one_refresh_of_it(queued):
    tag = rule_tag()

    [job] = refresh_jobs()
    assert job.queueing_lock == job.lock == refresh_lock(tag.pk)
    assert job.args["tag_id"] == tag.pk


def test_saving_twice_before_the_worker_ran_queues_one_job(queued):
    # Given a rule tag whose refresh waits
    tag = rule_tag()

    # When its condition changes twice more
    tag.condition = NO_PHONE
    save_tag(tag=tag, actor=STAFF)
    tag.condition = {"any": [HAS_PHONE, NO_PHONE]}
    save_tag(tag=tag, actor=STAFF)

    # Then one job waits, and it will read the condition in force when it runs
    assert len(refresh_jobs()) == 1


def test_a_save_that_keeps_the_condition_queues_nothing(queued):
    tag = rule_tag()
    run_queued_refreshes()

    tag.name = "Has a phone"
    save_tag(tag=tag, actor=STAFF)

    assert refresh_jobs() == []


def test_a_manual_tag_queues_nothing(queued):
    save_tag(tag=Tag(key="vip-guest", name="VIP guest", kind=TagKind.MANUAL), actor=STAFF)

    assert refresh_jobs() == []


def test_the_refresh_after_a_save_follows_the_new_condition(people):
    # Given a rule tag held by the person with a phone (the job ran inline on creation)
    with_phone, without_phone = people
    tag = rule_tag()
    assert holders(tag) == {with_phone.pk}

    # When its condition changes
    tag.condition = NO_PHONE
    save_tag(tag=tag, actor=STAFF)

    # Then the members and the refresh's figures follow at once
    tag.refresh_from_db()
    assert holders(tag) == {without_phone.pk}
    assert (tag.last_refresh_added, tag.last_refresh_removed) == (1, 1)
    assert tag.last_refreshed_at is not None
    assert timedelta(0) <= tag.last_refresh_duration < timedelta(minutes=1)
    refresh = AuditEntry.objects.filter(action="tag.refresh", target=tag.key).latest("pk")
    assert (refresh.actor_type, refresh.actor) == (STAFF.type, STAFF.label)  # the saver's


def test_the_pages_say_refreshing_while_queued_and_the_figures_after(queued, people, admin_client):
    # Given a rule tag just saved, its refresh waiting
    tag = rule_tag()

    # Then both pages say so
    assert "refreshing…" in admin_client.get(change_page(tag)).content.decode()
    assert "refreshing…" in admin_client.get(TAGS).content.decode()

    # When the worker ran it
    run_queued_refreshes()

    # Then they show when (local time), how long and what it changed, once each
    tag.refresh_from_db()
    shown = (
        f"{formats.localize(timezone.localtime(tag.last_refreshed_at))} in "
        f"{duration_text(tag.last_refresh_duration)}: +1 / -0"
    )
    for page in (admin_client.get(change_page(tag)), admin_client.get(TAGS)):
        html = page.content.decode()
        assert "refreshing…" not in html
        assert html.count(shown) == 1


def test_the_list_shows_the_scheduled_refresh(people, admin_client):
    # Given a rule tag whose members only ingests and merges updated so far
    with_phone, _ = people
    tag = rule_tag()
    Tag.objects.filter(pk=tag.pk).update(last_refreshed_at=None, last_refresh_duration=None)
    TagAssignment.objects.filter(tag=tag).delete()
    refresh_rules_of([with_phone.pk])
    assert "not yet" in admin_client.get(TAGS).content.decode()

    # When the night's refresh of every rule tag ran
    refresh_all_rule_tags()

    # Then the list shows it, and the history tells the two kinds of refresh apart
    tag.refresh_from_db()
    assert tag.last_refreshed_at is not None
    assert f"{formats.localize(timezone.localtime(tag.last_refreshed_at))} in " in (
        admin_client.get(TAGS).content.decode()
    )
    html = admin_client.get(change_page(tag)).content.decode()
    assert "updated for 1 person: 1 added, 0 removed" in html


def test_the_pages_read_in_chinese(queued, admin_client):
    tag = rule_tag()

    with translation.override("zh-hans"):
        html = admin_client.get(TAGS, headers={"accept-language": "zh-hans"}).content.decode()
        assert "刷新中…" in html
        run_queued_refreshes()
        html = admin_client.get(TAGS, headers={"accept-language": "zh-hans"}).content.decode()
        assert "耗时" in html
        assert "秒" in html
    assert Tag.objects.get(pk=tag.pk).last_refresh_duration is not None


def test_durations_read_as_staff_say_them():
    with translation.override("en"):
        assert duration_text(timedelta(seconds=0.42)) == "0.4 s"
        assert duration_text(timedelta(seconds=125)) == "2 min 5 s"
