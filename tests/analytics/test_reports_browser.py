"""The Reports area in a real browser: Playwright drives Debian's headless Chromium.

Over a randomised history (tests/analytics/history.py), open the dashboard and each report,
see its chart drawn by plotly.js (served by the project: the page loads nothing from the
internet), pick a cell in a chart and in a table, save each as a tag and find the tag on a
person. With REPORT_SCREENSHOTS=<dir> (`make screenshots` sets docs/screenshots) the test
writes a screenshot of each page there, in English and of two pages in Chinese; otherwise into
its temporary directory. `.ci/run` installs Chromium; elsewhere, without it, the test is
skipped.
"""

import random
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from analytics.params import REPORTS
from profiles.models import SegmentSnapshot, TagAssignment
from tests.analytics.history import build_history
from tests.browser import (
    BROWSER_TEST,
    VIEWPORT,
    chromium,
    expect,
    log_in,
    open_page,
    requests_leaving,
)
from tests.factories import SegmentFactory

pytestmark = BROWSER_TEST


@pytest.fixture
def history(settings):
    settings.ANALYTICS_TIME_ZONE = "Asia/Shanghai"
    # The live server shares this process's cache: a dashboard an earlier browser test drew
    # (over its own data, within the 60 s the widgets are kept) would be shown instead.
    cache.clear()
    built = build_history(random.Random(2026), persons=90, days=90, merges=6)
    # Two segments with a month of daily sizes, for the dashboard's trend lines.
    today = timezone.localdate()
    for key, condition, base in (
        ("payers", {"field": "pay_count", "op": ">=", "value": 1}, 30),
        ("loyal", {"field": "event_count", "op": ">=", "value": 8}, 12),
    ):
        segment = SegmentFactory(key=key, condition=condition)
        SegmentSnapshot.objects.bulk_create(
            SegmentSnapshot(
                segment=segment, day=today - timedelta(days=day), count=base + (29 - day) // 2
            )
            for day in range(30)
        )
    return built


def _drawn(page, selector: str = "#report-chart") -> None:
    expect(page.locator(f"{selector}[data-drawn=true]")).to_be_visible()
    expect(page.locator(f"{selector} .main-svg").first).to_be_visible()


def _save_chosen_cell(page, tag: str) -> int:
    expect(page.locator("#save-cell-submit")).to_be_enabled()
    page.fill("#save-cell-tag", tag)
    page.click("#save-cell-submit")
    message = page.locator(".messagelist .success")
    expect(message).to_contain_text(tag)
    return int(message.inner_text().split()[0])


def test_dashboard_and_every_report_draw_and_cells_become_tags(
    live_server, admin_user, history, screenshots
):
    with chromium() as browser:
        page = open_page(browser, locale="en-US", viewport=VIEWPORT, timeout=20_000)
        outside = requests_leaving(page, live_server.url)
        log_in(page, live_server.url)

        # The dashboard: its sections and its chart of new persons.
        page.goto(f"{live_server.url}/admin/")
        expect(page.locator("#dashboard")).to_be_visible()
        for section in ("persons", "followers", "lifecycle", "settle", "new-persons", "segments"):
            expect(page.locator(f"#dashboard-{section}")).to_be_visible()
        _drawn(page, "#dashboard-new-persons-chart")
        page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

        # Every report draws its chart and lists its numbers.
        for report in REPORTS:
            page.goto(f"{live_server.url}/admin/analytics/report/{report}/")
            _drawn(page)
            expect(page.locator("#report-table")).to_be_visible()
            expect(page.locator("#report-failed")).to_have_count(0)
            page.screenshot(path=str(screenshots / f"{report}.png"), full_page=True)

        # A funnel bar clicked in the chart: those who reached the first step.
        page.goto(f"{live_server.url}/admin/analytics/report/funnel/")
        _drawn(page)
        # Plotly's drag layer lies over the bars and takes the click, as for a user's mouse.
        bar = page.locator("#report-chart .bars .point path").first.bounding_box()
        page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
        funnel_count = _save_chosen_cell(page, "funnel_entered")

        # A retention cell picked in the table: a cohort's returners.
        page.goto(f"{live_server.url}/admin/analytics/report/retention/?period=week")
        _drawn(page)
        cells = page.locator("#report-table td.cell-pick[data-cell]")
        chosen = next(
            index
            for index in range(cells.count())
            if cells.nth(index).inner_text().strip() not in ("", "0")
        )
        cells.nth(chosen).click()
        retention_count = _save_chosen_cell(page, "came_back")

        # The message links to the persons holding the tag; a person there shows it.
        page.click(".messagelist .success a")
        expect(page.locator("#result_list")).to_be_visible()
        page.locator("#result_list tbody tr th a").first.click()
        expect(page.locator("body")).to_contain_text("came_back")

        # In Chinese: the dashboard and a report.
        chinese = open_page(browser, locale="zh-CN", viewport=VIEWPORT, timeout=20_000)
        log_in(chinese, live_server.url)
        chinese.goto(f"{live_server.url}/admin/")
        expect(chinese.locator("#dashboard")).to_contain_text("沉淀率")
        chinese.screenshot(path=str(screenshots / "dashboard-zh.png"), full_page=True)
        chinese.goto(f"{live_server.url}/admin/analytics/report/retention/")
        _drawn(chinese)
        expect(chinese.locator("#report-params")).to_contain_text("开始日期")
        chinese.screenshot(path=str(screenshots / "retention-zh.png"), full_page=True)

    assert outside == []
    assert funnel_count > 0
    assert retention_count > 0
    assert TagAssignment.objects.filter(tag__key="funnel_entered").count() <= funnel_count
    assert TagAssignment.objects.filter(tag__key="came_back").count() <= retention_count
    assert TagAssignment.objects.filter(tag__key="came_back").exists()
