"""What a report page shows: its form, the report's answer as a figure and a table, and the
links that repeat its parameters (CSV download, save as tag).

The answer is computed once per page; a report that fails (a database error, a report not yet
written) leaves the form usable with an error note instead of a server error, and is logged by
its class name only (messages of database errors may quote values).
"""

import logging
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics.admin.forms import Choices, ReportForm
from analytics.admin.tables import Table, build_table
from analytics.charts import build_figure, figure_json
from analytics.params import (
    ACQUISITION,
    ACTIVE,
    CELL_REPORTS,
    FUNNEL,
    LIFECYCLE,
    REPORTS,
    RETENTION,
    SETTLE,
    parse_params,
)
from analytics.periods import local_date
from analytics.reports import run_report
from identity.exceptions import DomainError

logger = logging.getLogger(__name__)

TITLES = {
    RETENTION: _("Retention"),
    FUNNEL: _("Funnel"),
    LIFECYCLE: _("Lifecycle"),
    ACTIVE: _("Active users"),
    ACQUISITION: _("Acquisition"),
    SETTLE: _("Settle rate"),
}
DESCRIPTIONS = {
    RETENTION: _("Of the persons who started in a period, how many came back in each later one."),
    FUNNEL: _("How many persons went through the steps in order, within the window."),
    LIFECYCLE: _("New, returning, resurrecting and dormant persons per period."),
    ACTIVE: _("Daily, weekly and monthly active persons, and their stickiness (DAU / MAU)."),
    ACQUISITION: _("New persons per period, by first channel or by first app."),
    SETTLE: _("How many mini-program visitors follow the service account."),
}


def failure_message(exc: Exception):
    """What the page says when a report could not be computed."""
    if getattr(exc, "code", None) == "report_timeout":
        return _("The report took too long and was stopped: choose a shorter range or try again.")
    return _("This report could not be computed. Try again later or with a shorter range.")


def page_url(report: str, params: dict[str, str] | None = None) -> str:
    url = reverse(f"admin:analytics_report_{report}")
    return f"{url}?{urlencode(params)}" if params else url


@dataclass
class ReportPage:
    report: str
    form: ReportForm
    params: dict[str, str]  # the API's parameters, repeated by the links
    parsed: object | None = None
    answer: dict | None = None
    failed: str = ""  # why the report could not be computed
    figure: dict | None = None
    table: Table | None = None
    names: dict[str, str] = field(default_factory=dict)

    @property
    def query(self) -> str:
        return urlencode(self.params)

    def context(self) -> dict:
        report = self.report
        query = f"?{self.query}" if self.params else ""
        context = {
            "report": report,
            "title": TITLES[report],
            "description": DESCRIPTIONS[report],
            "form": self.form,
            "failed": self.failed,
            "answer": self.answer,
            "figure": self.figure,
            "table": self.table,
            "csv_url": reverse(f"admin:analytics_report_{report}_csv") + query,
            "reports": [(name, TITLES[name], page_url(name)) for name in REPORTS],
        }
        if report in CELL_REPORTS:
            context["save_url"] = reverse(f"admin:analytics_report_{report}_save") + query
        return context


def parse_page(report: str, query) -> ReportPage:
    """The form bound to the query and the report's validated parameters (None, the form
    showing why, when they are refused)."""
    choices = Choices()
    form = ReportForm(report, query, choices=choices, today=local_date(timezone.now()))
    page = ReportPage(report=report, form=form, params=form.api_params())
    page.names = {app.appid: app.name for app in choices.apps}
    try:
        page.parsed = parse_params(report, page.params)
    except DomainError as exc:
        form.show_errors(exc.details if _field_details(exc) else {None: [exc.message]})
    return page


def _field_details(exc: DomainError) -> bool:
    return bool(exc.details) and all(isinstance(v, list) for v in exc.details.values())


def compute_page(page: ReportPage) -> ReportPage:
    """Run the report of a page whose parameters were accepted; draw its figure and table."""
    if page.parsed is None:
        return page
    try:
        with transaction.atomic():  # a failed statement must not spoil the page's other reads
            page.answer = run_report(page.report, page.parsed)
    except Exception as exc:  # the page stays usable; the log names the failure
        logger.error("The %s report failed: %s", page.report, type(exc).__name__)
        page.failed = str(failure_message(exc))
        return page
    period = page.parsed.range.period
    figure = build_figure(page.report, page.answer, names=page.names, period=period)
    page.figure = figure_json(figure)
    page.table = build_table(page.report, page.answer, names=page.names)
    return page
