"""Manual merge and its undo in a real browser (Playwright, Debian's headless Chromium).

Select two persons, run the merge action, read the preview, confirm and land on the survivor;
open the merge record, undo it after its confirmation, and find both persons live again. In
English and in Chinese (the browser's locale picks the admin's language), by selectors only.
With REPORT_SCREENSHOTS=<dir> the preview is saved there as merge-preview-<lang>.png.
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from identity.models import MergeReason, MergeRecord, Person
from tests.factories import PersonFactory
from tests.profiles.test_admin_browser import CHROMIUM, CHROMIUM_ARGS, browser_settings  # noqa: F401 - a fixture

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the requirements install it
    sync_playwright = None

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium on this machine (apt install chromium)"
    ),
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed"),
]

LOCALES = [pytest.param("en-US", "en", id="en"), pytest.param("zh-CN", "zh-hans", id="zh-hans")]


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("REPORT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _log_in(page, url: str) -> None:
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()


@pytest.mark.usefixtures("browser_settings")
@pytest.mark.parametrize(("locale", "lang"), LOCALES)
def test_merge_two_persons_then_undo_the_merge(
    live_server, admin_user, miniprogram, service_account, screenshots, locale, lang
):
    older = PersonFactory(
        openids={miniprogram: "oBrowserOld"}, created_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    younger = PersonFactory(
        openids={service_account: "oBrowserNew"},
        phone="13812345678",
        created_at=datetime(2024, 6, 1, tzinfo=UTC),
    )
    url = live_server.url

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(locale=locale, viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        _log_in(page, url)
        expect(page.locator("html")).to_have_attribute("lang", lang)

        page.goto(f"{url}/admin/identity/person/")
        for person in (older, younger):
            row = page.locator("#result_list tr", has_text=person.public_id)
            row.locator("input.action-select").check()
        page.select_option("select[name=action]", "merge_two_persons")
        page.click("button[name=index]")

        expect(page.locator("[data-merge-preview=ready]")).to_be_visible()
        expect(page.locator("[data-side=survivor] h2")).to_contain_text(older.public_id)
        loser = page.locator("[data-side=loser]")
        expect(loser).to_contain_text("oBrowserNew")
        expect(loser).to_contain_text("+86 138****5678")
        page.screenshot(path=str(screenshots / f"merge-preview-{lang}.png"), full_page=True)
        page.click("#confirm-merge")

        expect(page).to_have_url(f"{url}/admin/identity/person/{older.pk}/change/")
        expect(page.locator(".messagelist .success")).to_contain_text(younger.public_id)

        page.goto(f"{url}/admin/identity/mergerecord/?person={older.pk}")
        page.locator("#result_list tbody tr a").first.click()
        expect(page.locator(".field-moved_in_words")).to_contain_text("oBrowserNew")
        page.click("#undo-merge")
        expect(page.locator(".undo-record")).to_contain_text("oBrowserNew")
        page.click("#confirm-undo")
        expect(page.locator(".messagelist .success")).to_be_visible()
        expect(page.locator("#undo-merge")).to_have_count(0)

        page.goto(f"{url}/admin/identity/person/?state=live")
        for person in (older, younger):
            expect(page.locator("#result_list", has_text=person.public_id)).to_be_visible()
        browser.close()

    record = MergeRecord.objects.get()
    assert record.reason == MergeReason.MANUAL
    assert record.undone_at is not None
    assert set(Person.objects.live().values_list("pk", flat=True)) == {older.pk, younger.pk}
    assert Person.objects.get(pk=younger.pk).phone_e164 == "+8613812345678"
