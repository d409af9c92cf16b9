"""A rule tag edited in a real browser, refreshed by the worker, then read on a person's page.

In English and in Chinese (the browser's Accept-Language): log in, change a rule tag's
condition, save, see "refreshing…", run the queued job as the worker would, reload and see the
new member count; then open a person and read why they hold the tag. Selectors are ids, names
and data- attributes, so that the Chinese run does not wait for the translations.
"""

import json

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from identity.models import Actor
from profiles.models import Tag, TagKind
from profiles.services.definitions import save_tag
from profiles.tasks.rules import TASK_NAME, refresh_rule_tag_job
from tests.browser import BROWSER_TEST, LANGUAGES, chromium, expect, log_in, open_page
from tests.factories import PersonFactory

pytestmark = BROWSER_TEST

WITH_PHONE = {"has_phone": True}


def run_queued_refreshes() -> int:
    """Do what the worker does with each waiting refresh: run it, and the job is gone."""
    jobs = list(ProcrastinateJob.objects.filter(task_name=TASK_NAME, status="todo"))
    for job in jobs:
        refresh_rule_tag_job(**job.args)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM procrastinate_jobs WHERE id = %s", [job.id])
    return len(jobs)


def set_condition(page, condition: dict) -> None:
    """Type into the JSON box; when a visual builder hides it, set it as the builder would."""
    box = page.locator("[name=condition]")
    text = json.dumps(condition)
    if box.is_visible():
        box.fill(text)
    else:
        box.evaluate(
            "(el, text) => { el.value = text;"
            " el.dispatchEvent(new Event('input', {bubbles: true}));"
            " el.dispatchEvent(new Event('change', {bubbles: true})); }",
            text,
        )


@pytest.mark.parametrize("locale", LANGUAGES)
def test_edit_a_rule_tag_see_it_refresh_then_read_why(
    locale, live_server, admin_user, settings, screenshots
):
    # Given a rule tag held by the one person without a phone (refreshed on creation)
    with_phone = [PersonFactory(phone=f"+861380013800{n}") for n in range(2)]
    PersonFactory()
    tag = save_tag(
        tag=Tag(
            key="phone-holders",
            name="Phone holders",
            kind=TagKind.RULE,
            condition={"has_phone": False},
        ),
        actor=Actor.system("test"),
    )
    settings.JOBS_RUN_INLINE = False  # from here on, saves queue their refresh for a worker
    lang = LANGUAGES[locale]

    with chromium() as browser:
        page = open_page(browser, locale=locale)
        log_in(page, live_server.url)
        assert page.locator("html").get_attribute("lang") == lang

        # When staff change the condition and save
        tag_page = f"{live_server.url}/admin/profiles/tag/{tag.pk}/change/"
        page.goto(tag_page)
        expect(page.locator(".field-members .readonly a")).to_have_text("1")
        set_condition(page, WITH_PHONE)
        page.click("input[name=_continue]")

        # Then the tag says it is refreshing until the worker ran
        expect(page.locator(".field-last_refresh .refreshing")).to_be_visible()
        expect(page.locator(".field-members .readonly a")).to_have_text("1")
        assert run_queued_refreshes() == 1
        page.goto(tag_page)
        expect(page.locator(".field-last_refresh .refreshing")).to_have_count(0)
        expect(page.locator(".field-members .readonly a")).to_have_text("2")

        # And a person's page says why they hold it: the condition's leaf holds for them
        page.goto(f"{live_server.url}/admin/identity/person/{with_phone[0].pk}/change/")
        rule = page.locator('.why-rule[data-why-kind="tag"][data-why-key="phone-holders"]')
        expect(rule).to_have_attribute("data-why-result", "held")
        expect(rule).to_have_attribute("data-why-holds", "yes")
        expect(rule.locator('[data-why-node="leaf"][data-why-held="true"]')).to_have_count(1)
        expect(rule.locator("[data-why-differs]")).to_have_count(0)
        # A rule tag it does not hold reads "not held" (a lifecycle preset: never seen)
        churned = page.locator('.why-rule[data-why-key="churned"]')
        expect(churned).to_have_attribute("data-why-result", "not-held")
        rule.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / f"person-{lang}.png"), full_page=True)

    assert Tag.objects.get(pk=tag.pk).last_refresh_added == 2
