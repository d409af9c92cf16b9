"""The person list and page in a real browser (Playwright, Debian's headless Chromium).

At 1400 x 900, in English and Chinese, the list shows its last column (tags) without a
horizontal scroll, and a tag is added to one person and removed again on that person's page.
With REPORT_SCREENSHOTS=<dir> the list's screenshots go there, otherwise into the test's
temporary directory.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from identity.models import Person
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from profiles.models import PersonStats, Tag, TagAssignment
from profiles.services.tags import assign_tags
from tests.browser import BROWSER_TEST, LANGUAGES, chromium, expect, log_in, open_page

pytestmark = BROWSER_TEST

VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture
def persons(miniprogram, service_account, actor) -> list[Person]:
    """A page of persons as the demo has them: phones, stats, several tags each."""
    for key, name in (("tea_lover", "Tea lover"), ("spring_promo", "Spring promo 2026")):
        Tag.objects.create(key=key, name=name)
    found = []
    for n in range(8):
        person = resolve_identity(
            app=miniprogram,
            openid=f"oBrowserPerson{n:02d}",
            unionid=f"uBrowser{n:02d}",
            actor=actor,
        ).person
        resolve_identity(
            app=service_account,
            openid=f"oBrowserSvc{n:02d}",
            unionid=f"uBrowser{n:02d}",
            actor=actor,
        )
        bind_phone(person=person, phone=f"1381234{n:04d}", actor=actor)
        assign_tags(person=person, keys=["vip", "tea_lover", "spring_promo"], actor=actor)
        seen = timezone.now() - timedelta(days=n)
        PersonStats.objects.update_or_create(
            person=person,
            defaults={"first_seen_at": seen, "last_seen_at": seen, "event_count": n},
        )
        found.append(person)
    return found


def _right_edge(page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box["x"] + box["width"]


@pytest.mark.parametrize(("locale", "language"), list(LANGUAGES.items()))
def test_the_person_list_fits_1400_px_and_a_tag_comes_and_goes(
    live_server, admin_user, persons, screenshots, locale, language
):
    person = persons[0]
    TagAssignment.objects.filter(person=person).delete()

    with chromium() as browser:
        page = open_page(browser, locale=locale, viewport=VIEWPORT)
        log_in(page, live_server.url)

        # The list: last seen and tags within the viewport, no horizontal scroll
        page.goto(f"{live_server.url}/admin/identity/person/")
        expect(page.locator("#result_list tbody tr")).to_have_count(len(persons))
        page.screenshot(path=str(screenshots / f"persons-{language}.png"))
        assert page.locator("html").get_attribute("lang") == language
        for column in ("th.column-last_seen", "th.column-tag_list", "td.field-tag_list"):
            assert _right_edge(page, column) <= VIEWPORT["width"], column
        assert page.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        results = page.locator("#changelist .results")
        assert results.evaluate("el => el.scrollWidth <= el.clientWidth")

        # The person page: add a manual tag with the form, see it, remove it with its button
        page.goto(f"{live_server.url}/admin/identity/person/{person.pk}/change/")
        page.select_option("#person-tag-add-tag", "vip")
        page.click("#person-tag-add-submit")
        expect(page.locator(".messagelist .success")).to_have_count(1)
        remove = page.locator('button.person-tag-remove[data-tag="vip"]')
        expect(remove).to_have_count(1)
        assert TagAssignment.objects.filter(person=person, tag__key="vip").exists()

        remove.click()
        expect(page.locator(".messagelist .success")).to_have_count(1)
        expect(page.locator('button.person-tag-remove[data-tag="vip"]')).to_have_count(0)

    assert not TagAssignment.objects.filter(person=person, tag__key="vip").exists()
