"""The admin in a real browser: Playwright drives Debian's headless Chromium.

Log in, create a tag, give it to two persons with the bulk action, and see a segment on that
tag count 2. `.ci/run` installs Chromium; elsewhere, without it, the test is skipped.
"""

import shutil

import pytest

from identity.services.resolve import resolve_identity
from profiles.models import Segment, TagAssignment

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
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

# Flags of a sandboxed headless run on a machine without network (see the machine notes).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_settings(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the test does no database work
    # while the browser is open, but Django's guard cannot know that.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_bulk_tag_then_segment_counts_two(
    live_server, admin_user, miniprogram, actor, browser_settings
):
    persons = [
        resolve_identity(app=miniprogram, openid=f"oBrowser{n}", actor=actor).person
        for n in range(3)
    ]
    chosen = persons[:2]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(15_000)

        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "password")
        page.click("input[type=submit]")
        expect(page.locator("#site-name")).to_be_visible()

        page.goto(f"{live_server.url}/admin/profiles/tag/add/")
        page.fill("#id_key", "spring_promo")
        page.fill("#id_name", "Spring promo")
        page.select_option("#id_kind", "manual")
        page.click("input[name=_save]")
        expect(page.locator(".messagelist")).to_contain_text("Spring promo")

        page.goto(f"{live_server.url}/admin/identity/person/")
        for person in chosen:
            row = page.locator("#result_list tr", has_text=person.public_id)
            row.locator("input.action-select").check()
        page.select_option("select[name=action]", "add_tag")
        page.click("button[name=index]")

        page.click(".select2-selection")
        page.fill(".select2-search__field", "spring")
        page.locator(".select2-results__option", has_text="Spring promo").click()
        page.click("input[type=submit].default")
        expect(page.locator(".messagelist")).to_contain_text("2 persons")

        page.goto(f"{live_server.url}/admin/profiles/segment/add/")
        page.fill("#id_key", "spring")
        page.fill("#id_name", "Spring promo holders")
        page.fill("#id_condition", '{"tag": "spring_promo"}')
        page.click("input[name=_continue]")
        live_count = page.locator(".field-live_count .readonly")
        expect(live_count).to_have_text("2")
        browser.close()

    assert set(
        TagAssignment.objects.filter(tag__key="spring_promo").values_list("person_id", flat=True)
    ) == {person.pk for person in chosen}
    assert Segment.objects.filter(key="spring").exists()
