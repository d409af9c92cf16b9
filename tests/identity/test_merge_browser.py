"""Manual merge and its undo in a real browser (Playwright, Debian's headless Chromium).

Select two persons, run the merge action, read the preview, confirm and land on the survivor;
open the merge record, undo it after its confirmation, and find both persons live again. In
English and in Chinese (the browser's locale picks the admin's language), by selectors only.
With REPORT_SCREENSHOTS=<dir> the preview is saved there as merge-preview-<lang>.png.
"""

from datetime import UTC, datetime

import pytest

from identity.models import MergeReason, MergeRecord, Person
from tests.browser import BROWSER_TEST, LOCALES, VIEWPORT, chromium, expect, log_in, open_page
from tests.factories import PersonFactory

pytestmark = BROWSER_TEST


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

    with chromium() as browser:
        page = open_page(browser, locale=locale, viewport=VIEWPORT)
        log_in(page, url)
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

    record = MergeRecord.objects.get()
    assert record.reason == MergeReason.MANUAL
    assert record.undone_at is not None
    assert set(Person.objects.live().values_list("pk", flat=True)) == {older.pk, younger.pk}
    assert Person.objects.get(pk=younger.pk).phone_e164 == "+8613812345678"
