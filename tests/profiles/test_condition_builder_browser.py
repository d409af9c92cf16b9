"""The condition builder in a real browser (Playwright, Debian's headless Chromium), in English
and in Chinese: build "bought at least twice, follows the service account, not churned" with the
rows alone, see the live count and the JSON box follow, see an error at its row, save, then
edit the JSON box and see the rows follow. Selectors are ids and data- attributes, never
words, so that both languages run the same steps. With REPORT_SCREENSHOTS=<dir> the
screenshots go there (`builder-en.png`, `builder-zh-hans.png`), else into tmp_path.
"""

import json

import psycopg
import pytest
from django.db import connection

from profiles.models import Segment
from profiles.selectors import COUNT_LOCK_NAMESPACE
from tests.browser import (
    BROWSER_TEST,
    LANGUAGES,
    VIEWPORT,
    chromium,
    expect,
    log_in,
    open_page,
    requests_leaving,
)
from tests.profiles.test_condition_count import Audience

pytestmark = [*BROWSER_TEST, pytest.mark.browser, pytest.mark.slow]

BUILDER = "#id_condition_builder"


def row(path: list) -> str:
    """The selector of the node drawn for a path of the condition (`[]`: the top)."""
    return f"{BUILDER} .cb-node[data-path='{json.dumps(path, separators=(',', ':'))}']"


def head(path: list) -> str:
    return f"{row(path)} > .cb-head"


@pytest.mark.parametrize("locale", list(LANGUAGES))
def test_a_segment_built_with_the_rows_alone(
    live_server, admin_user, miniprogram, service_account, actor, screenshots, locale
):
    audience = Audience(miniprogram=miniprogram, service_account=service_account, actor=actor)

    with chromium() as browser:
        page = open_page(browser, locale=locale, viewport=VIEWPORT)
        outside = requests_leaving(page, live_server.url)
        log_in(page, live_server.url)

        page.goto(f"{live_server.url}/admin/profiles/segment/add/")
        expect(page.locator("html")).to_have_attribute("lang", LANGUAGES[locale])
        page.fill("#id_key", "loyal_followers")
        page.fill("#id_name", "Loyal followers")

        # Row 0: payments at least 2.
        page.click(f"{BUILDER} [data-cb-action=cb-add-condition]")
        page.select_option(f"{head(['all', 0])} select[data-key=kind]", "field")
        page.select_option(f"{head(['all', 0])} select[data-key=field]", "pay_count")
        page.select_option(f"{head(['all', 0])} select[data-key=op]", ">=")
        page.fill(f"{head(['all', 0])} input[data-key=value]", "2")
        # Row 1: follows the service account.
        page.click(f"{head([])} [data-cb-action=cb-add-condition]")
        page.select_option(f"{head(['all', 1])} select[data-key=kind]", "followed")
        page.select_option(f"{head(['all', 1])} select[data-key=followed]", service_account.appid)
        # Row 2: not churned.
        page.click(f"{head([])} [data-cb-action=cb-add-condition]")
        page.select_option(f"{head(['all', 2])} select[data-key=kind]", "tag")
        page.select_option(f"{head(['all', 2])} select[data-key=tag]", "churned")
        page.check(f"{head(['all', 2])} input[data-cb-not]")

        count = page.locator(f"{BUILDER} [data-cb-count]")
        expect(count).to_have_attribute("data-count", "3")
        expect(count).to_contain_text("3")
        assert json.loads(page.input_value("#id_condition")) == audience.condition
        page.screenshot(path=str(screenshots / f"builder-{LANGUAGES[locale]}.png"), full_page=True)

        # A negative number of payments: the error shows at its row and its input.
        page.fill(f"{head(['all', 0])} input[data-key=value]", "-1")
        expect(page.locator(f"{row(['all', 0])} > [data-cb-errors] li")).to_have_count(1)
        expect(page.locator(f"{head(['all', 0])} input[data-key=value]")).to_have_attribute(
            "aria-invalid", "true"
        )
        expect(count).not_to_have_attribute("data-count", "3")
        expect(page.locator(f"{row(['all', 1])} > [data-cb-errors] li")).to_have_count(0)
        page.fill(f"{head(['all', 0])} input[data-key=value]", "2")
        expect(count).to_have_attribute("data-count", "3")
        expect(page.locator(f"{BUILDER} [data-cb-errors] li")).to_have_count(0)

        page.click("input[name=_continue]")
        expect(page.locator(".field-live_count .readonly")).to_have_text("3")
        # The saved condition, drawn again from the JSON box of the change page.
        expect(page.locator(f"{head(['all', 2])} input[data-cb-not]")).to_be_checked()
        expect(page.locator(f"{head(['all', 0])} input[data-key=value]")).to_have_value("2")
        expect(count).to_have_attribute("data-count", "3")

        # Editing the JSON box redraws the rows; JSON that does not parse leaves them alone.
        page.fill("#id_condition", json.dumps({"any": [{"has_phone": True}, {"tag": "vip"}]}))
        expect(page.locator(f"{head([])} select[data-key=group]")).to_have_value("any")
        expect(page.locator(f"{head(['any', 0])} select[data-key=kind]")).to_have_value("has_phone")
        expect(page.locator(f"{head(['any', 1])} select[data-key=tag]")).to_have_value("vip")
        expect(page.locator(row(["all", 0]))).to_have_count(0)
        expect(count).to_have_attribute("data-count", "0")
        page.fill("#id_condition", '{"any": [')
        expect(page.locator(f"{BUILDER} [data-cb-json-error]")).to_be_visible()
        expect(page.locator(f"{head(['any', 1])} select[data-key=tag]")).to_have_value("vip")
        # A node the rows cannot draw is kept as it is while the rows change around it.
        page.fill("#id_condition", json.dumps({"all": [{"colour": "red"}]}))
        expect(page.locator(f"{row(['all', 0])}.cb-raw")).to_be_visible()
        page.click(f"{head([])} [data-cb-action=cb-add-condition]")
        expect(page.locator(f"{row(['all', 0])} > [data-cb-errors] li")).to_have_count(1)
        assert json.loads(page.input_value("#id_condition"))["all"][0] == {"colour": "red"}

    assert outside == []
    assert Segment.objects.get(key="loyal_followers").condition == audience.condition


def test_a_count_refused_while_the_previous_one_runs_is_asked_again(live_server, admin_user):
    """One count in flight per staff user: the builder shows the 429 and asks again by itself."""
    params = connection.settings_dict
    side = psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"] or None,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        autocommit=True,
    )
    lock = [COUNT_LOCK_NAMESPACE, admin_user.pk]
    try:
        with chromium() as browser:
            page = open_page(browser, locale="en-US")
            log_in(page, live_server.url)
            page.goto(f"{live_server.url}/admin/profiles/segment/add/")
            count = page.locator(f"{BUILDER} [data-cb-count]")

            # Given a count of this user still running on the server (its lock held)
            side.execute("SELECT pg_advisory_lock(hashtext(%s), %s)", lock)

            # When the condition changes, the builder says the server is busy
            page.fill("#id_condition", json.dumps({"not": {"has_phone": True}}))
            expect(count).to_have_attribute("data-state", "busy")
            expect(count).to_contain_text("previous count is still running")

            # Then once that count ended, it counts without another edit
            side.execute("SELECT pg_advisory_unlock(hashtext(%s), %s)", lock)
            expect(count).to_have_attribute("data-state", "counted")
            expect(count).to_have_attribute("data-count", "0")
    finally:
        side.close()
