"""The admin in a real browser: Playwright drives Debian's headless Chromium.

Log in, create a tag, give it to two persons with the bulk action, and see a segment on that
tag count 2. `.ci/run` installs Chromium; elsewhere, without it, the test is skipped.
"""

from identity.services.resolve import resolve_identity
from profiles.models import Segment, TagAssignment
from tests.browser import BROWSER_TEST, chromium, expect, log_in, open_page

pytestmark = BROWSER_TEST


def test_bulk_tag_then_segment_counts_two(live_server, admin_user, miniprogram, actor):
    persons = [
        resolve_identity(app=miniprogram, openid=f"oBrowser{n}", actor=actor).person
        for n in range(3)
    ]
    chosen = persons[:2]

    with chromium() as browser:
        page = open_page(browser)
        log_in(page, live_server.url)

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

    assert set(
        TagAssignment.objects.filter(tag__key="spring_promo").values_list("person_id", flat=True)
    ) == {person.pk for person in chosen}
    assert Segment.objects.filter(key="spring").exists()
