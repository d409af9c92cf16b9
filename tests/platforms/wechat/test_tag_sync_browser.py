"""The segment -> WeChat tag sync action in a real browser, against the fake WeChat server.

Select a segment, run "Sync to a WeChat service-account tag", choose the service account, see the
sync queued on the segment's page; run the queued job as the worker would (from the test
thread), reload, and find the sync's outcome on the page and the tag at the fake WeChat holding
the segment's followers. In English and in Chinese, by selectors only. With
REPORT_SCREENSHOTS=<dir> the segment page is saved there as tag-sync-<lang>.png.
"""

import re

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from platforms.wechat.models import WeChatTagSync
from platforms.wechat.tasks import SYNC_TASK_NAME, sync_segment_tag_job
from profiles.services.tags import assign_tags
from tests.browser import BROWSER_TEST, LOCALES, VIEWPORT, chromium, expect, log_in, open_page
from tests.factories import PersonFactory
from tests.platforms.wechat.conftest import SERVICE

pytestmark = BROWSER_TEST


def run_queued_syncs() -> int:
    """Do what the worker does with each waiting sync: run it, and the job is gone."""
    jobs = list(ProcrastinateJob.objects.filter(task_name=SYNC_TASK_NAME, status="todo"))
    for job in jobs:
        sync_segment_tag_job(**job.args)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM procrastinate_jobs WHERE id = %s", [job.id])
    return len(jobs)


@pytest.fixture
def vip_followers(fake_wechat, wechat_apps, actor):
    """Four followers of the service account; the first three hold the VIP tag."""
    app = wechat_apps["service_account"]
    openids = [f"oSyncBrowser{n}" for n in range(4)]
    for openid in openids:
        fake_wechat.add_follower(SERVICE, openid)
        person = PersonFactory(openids={app: openid})
        person.identities.update(followed=True)
        if openid != openids[-1]:
            assign_tags(person=person, keys=["vip"], actor=actor)
    return set(openids[:3])


def account_tags(fake_wechat) -> dict:
    return dict(fake_wechat.apps[SERVICE].tags)


@pytest.mark.parametrize(("locale", "lang"), LOCALES)
def test_sync_a_segment_to_a_service_account_tag(
    live_server,
    admin_user,
    fake_wechat,
    vip_segment,
    vip_followers,
    screenshots,
    settings,
    locale,
    lang,
):
    settings.JOBS_RUN_INLINE = False  # the action queues the sync for a worker
    url = live_server.url
    with chromium() as browser:
        page = open_page(browser, locale=locale, viewport=VIEWPORT)
        log_in(page, url)
        expect(page.locator("html")).to_have_attribute("lang", lang)

        page.goto(f"{url}/admin/profiles/segment/")
        row = page.locator("#result_list tr", has_text=vip_segment.key)
        row.locator("input.action-select").check()
        page.select_option("select[name=action]", "sync_wechat_tag")
        page.click("button[name=index]")

        expect(page.locator(f"[data-segment={vip_segment.key}]")).to_be_visible()
        page.select_option("select[name=appid]", SERVICE)
        page.click("#confirm-tag-sync")
        expect(page.locator(".messagelist .success")).to_contain_text(
            re.compile(vip_segment.key, re.IGNORECASE)  # the admin capitalises its messages
        )

        page.goto(f"{url}/admin/profiles/segment/{vip_segment.pk}/change/")
        state = page.locator(f".wechat-tag-syncs tr[data-appid={SERVICE}]")
        expect(state.locator(".sync-state")).to_have_attribute("data-state", "queued")
        assert account_tags(fake_wechat) == {}  # nothing sent to WeChat from the request

        assert run_queued_syncs() == 1  # the worker's part, from this thread
        page.reload()
        expect(state.locator(".sync-state")).to_have_attribute("data-state", "idle")
        expect(state).to_contain_text("VIP members")
        expect(state.locator(".sync-error")).to_have_text("-")
        page.screenshot(path=str(screenshots / f"tag-sync-{lang}.png"), full_page=True)

    sync = WeChatTagSync.objects.get(segment=vip_segment)
    account = fake_wechat.apps[SERVICE]
    assert account_tags(fake_wechat) == {sync.wechat_tag_id: "VIP members"}
    held = {openid for openid, user in account.users.items() if sync.wechat_tag_id in user.tags}
    assert held == vip_followers
