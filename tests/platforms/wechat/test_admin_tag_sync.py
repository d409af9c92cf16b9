"""The segment admin's "Sync to a WeChat service-account tag" action, against the fake WeChat.

The action queues one job per (segment, account); the tests marked `queued` leave it waiting
for the worker (run by `run_queued_syncs`), the others run it inline as the suite does.
"""

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.urls import reverse
from procrastinate.contrib.django.models import ProcrastinateJob

from identity.models import Actor, AuditEntry
from platforms.wechat.models import WeChatTagSync
from platforms.wechat.tag_sync import queue_segment_tag_sync
from platforms.wechat.tasks import (
    SYNC_TASK_NAME,
    sync_lock,
    sync_segment_tag_job,
    sync_segment_tags,
)
from profiles.services.tags import assign_tags
from tests.factories import PersonFactory
from tests.platforms.wechat.conftest import SERVICE

pytestmark = pytest.mark.django_db

LIST = "/admin/profiles/segment/"


@pytest.fixture
def members(fake_wechat, wechat_apps, actor):
    """Three followers of the service account, two of them VIPs."""
    app = wechat_apps["service_account"]
    persons = []
    for n in range(3):
        openid = f"oFollower{n}"
        fake_wechat.add_follower(SERVICE, openid)
        person = PersonFactory(openids={app: openid})
        person.identities.update(followed=True)
        persons.append(person)
    for person in persons[:2]:
        assign_tags(person=person, keys=["vip"], actor=actor)
    return persons


@pytest.fixture
def queued(settings):
    """Jobs wait for the worker instead of running inline."""
    settings.JOBS_RUN_INLINE = False


def sync_jobs(status: str = "todo") -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name=SYNC_TASK_NAME, status=status))


def run_queued_syncs() -> int:
    """Do what the worker does with each waiting sync: run it, and the job is gone."""
    jobs = sync_jobs()
    for job in jobs:
        sync_segment_tag_job(**job.args)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM procrastinate_jobs WHERE id = %s", [job.id])
    return len(jobs)


def segment_page(client, segment) -> str:
    return client.get(reverse("admin:profiles_segment_change", args=[segment.pk])).content.decode()


def run_action(client, segment, **extra):
    form = {"action": "sync_wechat_tag", "_selected_action": [segment.pk], **extra}
    return client.post(LIST, form)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def tagged(state, tag_id) -> set[str]:
    return {openid for openid, user in state.apps[SERVICE].users.items() if tag_id in user.tags}


def test_the_action_asks_for_the_service_account_first(admin_client, vip_segment, wechat_apps):
    response = run_action(admin_client, vip_segment)

    assert response.status_code == 200
    form = response.context["form"]
    assert [app.appid for app in form.fields["appid"].queryset] == [SERVICE]  # accounts only
    assert not WeChatTagSync.objects.exists()


def test_the_action_queues_one_job_per_segment_and_account(
    queued, admin_client, fake_wechat, vip_segment, members, wechat_apps
):
    # When staff run the action
    response = run_action(admin_client, vip_segment, apply="yes", appid=SERVICE)

    # Then one job waits, under the pair's lock, and WeChat has not been called yet
    assert response.status_code == 302
    [job] = sync_jobs()
    app = wechat_apps["service_account"]
    assert job.queueing_lock == job.lock == sync_lock(vip_segment.pk, app.pk)
    assert job.args["segment_id"] == vip_segment.pk
    assert (job.args["actor_type"], job.args["actor_label"]) == ("admin", "admin")
    assert any("queued" in text for text in messages_of(response))
    assert fake_wechat.apps[SERVICE].tags == {}
    # and the segment's page lists the account, its sync queued
    html = segment_page(admin_client, vip_segment)
    assert f'data-appid="{SERVICE}"' in html
    assert 'data-state="queued"' in html
    assert "queued…" in html


def test_a_second_click_while_queued_queues_nothing_new(queued, admin_client, vip_segment, members):
    run_action(admin_client, vip_segment, apply="yes", appid=SERVICE)

    response = run_action(admin_client, vip_segment, apply="yes", appid=SERVICE)

    assert len(sync_jobs()) == 1
    assert any("already queued" in text for text in messages_of(response))


def test_the_nightly_run_queues_into_the_same_lock(queued, admin_client, vip_segment, members):
    # Given a sync an operator queued
    run_action(admin_client, vip_segment, apply="yes", appid=SERVICE)

    # When the nightly job runs before the worker took it
    summary = sync_segment_tags()

    # Then it coalesces into the waiting job
    assert summary == {"syncs": 1, "queued": 0, "skipped": []}
    assert len(sync_jobs()) == 1


def test_the_queued_job_syncs_the_tag_and_the_page_shows_the_outcome(
    queued, admin_client, fake_wechat, vip_segment, members
):
    # Given the sync queued by the action
    run_action(admin_client, vip_segment, apply="yes", appid=SERVICE)

    # When the worker ran it
    assert run_queued_syncs() == 1

    # Then the fake WeChat holds the tag on the segment's followers, audited as the operator
    sync = WeChatTagSync.objects.get(segment=vip_segment)
    assert fake_wechat.apps[SERVICE].tags[sync.wechat_tag_id] == "VIP members"
    assert tagged(fake_wechat, sync.wechat_tag_id) == {"oFollower0", "oFollower1"}
    assert (sync.last_added, sync.last_removed, sync.last_failed) == (2, 0, 0)
    entry = AuditEntry.objects.get(action="segment.wechat_sync")
    assert (entry.actor_type, entry.actor) == ("admin", "admin")
    # and the page shows the outcome, nothing queued any more
    html = segment_page(admin_client, vip_segment)
    assert f"VIP members (#{sync.wechat_tag_id})" in html
    assert 'data-state="idle"' in html
    assert "queued…" not in html


def test_the_page_says_syncing_while_the_job_runs(queued, admin_client, vip_segment, members):
    run_action(admin_client, vip_segment, apply="yes", appid=SERVICE)
    ProcrastinateJob.objects.filter(task_name=SYNC_TASK_NAME).update(status="doing")

    html = segment_page(admin_client, vip_segment)

    assert 'data-state="running"' in html
    assert "syncing…" in html


def test_a_deleted_segment_makes_the_job_a_no_op(queued, admin_client, vip_segment, members):
    run_action(admin_client, vip_segment, apply="yes", appid=SERVICE)
    vip_segment.delete()

    [job] = sync_jobs()
    assert sync_segment_tag_job(**job.args) == {"sync": None}


def test_inline_the_action_syncs_at_once(admin_client, fake_wechat, vip_segment, members):
    response = run_action(admin_client, vip_segment, apply="yes", appid=SERVICE)

    assert response.status_code == 302
    sync = WeChatTagSync.objects.get(segment=vip_segment)
    assert tagged(fake_wechat, sync.wechat_tag_id) == {"oFollower0", "oFollower1"}


def test_the_nightly_run_resyncs_every_synced_segment(
    fake_wechat, vip_segment, members, wechat_apps, actor
):
    # Given a segment synced once, then joined by a third follower
    app = wechat_apps["service_account"]
    queue_segment_tag_sync(segment=vip_segment, app=app, actor=Actor.system("test"))
    assign_tags(person=members[2], keys=["vip"], actor=actor)

    # When the night's run queues (here: runs inline) its sync again
    assert sync_segment_tags() == {"syncs": 1, "queued": 1, "skipped": []}

    # Then the tag follows

    sync = WeChatTagSync.objects.get(segment=vip_segment)
    assert tagged(fake_wechat, sync.wechat_tag_id) == {"oFollower0", "oFollower1", "oFollower2"}


def test_an_unknown_or_wrong_kind_of_app_is_a_form_error(admin_client, vip_segment, wechat_apps):
    for appid in ("wx_nope", wechat_apps["miniprogram"].appid):
        response = run_action(admin_client, vip_segment, apply="yes", appid=appid)

        assert response.status_code == 200
        assert "appid" in response.context["form"].errors
    assert not WeChatTagSync.objects.exists()


def test_a_wechat_refusal_shows_on_the_segments_page(
    admin_client, fake_wechat, vip_segment, members
):
    for number in range(100):  # the account is at WeChat's 100-tag limit
        fake_wechat.apps[SERVICE].tags[1000 + number] = f"t{number}"

    response = run_action(admin_client, vip_segment, apply="yes", appid=SERVICE)

    assert response.status_code == 302
    assert "WeChat errcode 45056" in segment_page(admin_client, vip_segment)


def test_staff_without_the_sync_permission_do_not_get_the_action(client, vip_segment, members):
    staff = User.objects.create_user("ops", password="pw", is_staff=True)
    for codename in ("view_segment", "change_segment"):
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(staff)

    assert "sync_wechat_tag" not in client.get(LIST).content.decode()
    run_action(client, vip_segment, apply="yes", appid=SERVICE)
    assert not WeChatTagSync.objects.exists()

    staff.user_permissions.add(Permission.objects.get(codename="change_wechattagsync"))
    staff = User.objects.get(pk=staff.pk)  # drop the cached permissions
    client.force_login(staff)
    assert "sync_wechat_tag" in client.get(LIST).content.decode()
