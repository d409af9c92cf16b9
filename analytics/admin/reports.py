"""The admin's Reports area: one page per report (form, chart, table), its CSV, and saving a
cell of retention, lifecycle or funnel as a manual tag.

The pages hang on the table-less Report model (analytics.models): its view permission opens
them, `analytics.save_report_cell` the save-as-tag form and its POST. Parameters travel in the
query string under the API's names, so that the CSV link and the save form compute exactly the
report on the screen.
"""

import json
import logging
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from analytics.admin.pages import (
    DESCRIPTIONS,
    TITLES,
    compute_page,
    failure_message,
    page_url,
    parse_page,
)
from analytics.admin.plotly_js import VERSION, plotly_js
from analytics.exports import csv_text, filename
from analytics.models import Report
from analytics.params import CELL_REPORTS, REPORTS, parse_cell
from analytics.reports import ReportTimeout, run_report, time_limit
from analytics.services.cells import save_cell_as_tag
from identity.admin.common import NoWrites, describe_error
from identity.exceptions import DomainError, InvalidInput
from identity.models import Actor
from profiles.models import TagSource
from profiles.services.tag_sets import KEY_CHARS, NAME_CHARS

logger = logging.getLogger(__name__)

SAVE_PERMISSION = "analytics.save_report_cell"
SAVE_FAILED = _("The cell could not be saved as a tag: nobody was tagged. Try again later.")


@admin.register(Report)
class ReportAdmin(NoWrites, admin.ModelAdmin):
    """The list of reports (the model's changelist) and the pages of each."""

    def get_urls(self):
        view = self.admin_site.admin_view
        js = view(plotly_js, cacheable=True)
        urls = [path(f"plotly-{VERSION}.min.js", js, name="analytics_plotly_js")]
        for report in REPORTS:
            name, kwargs = f"analytics_report_{report}", {"report": report}
            urls.append(path(f"{report}/", view(self.report_view), kwargs, name=name))
            urls.append(path(f"{report}/csv/", view(self.csv_view), kwargs, name=f"{name}_csv"))
            if report in CELL_REPORTS:
                save = view(require_POST(self.save_cell_view))
                urls.append(path(f"{report}/save-as-tag/", save, kwargs, name=f"{name}_save"))
        return urls + super().get_urls()

    def _context(self, request, **extra) -> dict:
        request.current_app = self.admin_site.name
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        reports = [
            {"title": TITLES[name], "description": DESCRIPTIONS[name], "url": page_url(name)}
            for name in REPORTS
        ]
        context = self._context(request, title=_("Reports"), report_list=reports)
        return TemplateResponse(request, "admin/analytics/report_list.html", context)

    def report_view(self, request, report: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        page = compute_page(parse_page(report, request.GET))
        context = self._context(
            request,
            **page.context(),
            can_save=report in CELL_REPORTS and request.user.has_perm(SAVE_PERMISSION),
            tag_key_chars=KEY_CHARS,
            tag_name_chars=NAME_CHARS,
        )
        return TemplateResponse(request, "admin/analytics/report.html", context)

    def csv_view(self, request, report: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        page = parse_page(report, request.GET)
        if page.parsed is None:  # the page shows why
            return HttpResponseRedirect(page_url(report, page.params))
        try:
            answer = run_report(report, page.parsed)
        except DomainError as exc:  # the report timed out
            self.message_user(request, failure_message(exc), level=messages.ERROR)
            return HttpResponseRedirect(page_url(report, page.params))
        response = HttpResponse(csv_text(report, answer), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename(report, page.parsed)}"'
        return response

    def save_cell_view(self, request, report: str):
        """Tag the persons of the chosen cell, then go back to the same report."""
        if not (self.has_view_permission(request) and request.user.has_perm(SAVE_PERMISSION)):
            raise PermissionDenied
        page = parse_page(report, request.GET)
        back = HttpResponseRedirect(page_url(report, page.params))
        key = request.POST.get("tag", "").strip()
        try:
            if page.parsed is None:
                raise InvalidInput({"report": [str(_("The report's parameters are invalid."))]})
            cell = parse_cell(report, _cell_fields(request.POST.get("cell", "")))
            with time_limit():  # as the API's: the cell is the report's statement
                count = save_cell_as_tag(
                    report=report,
                    params=page.parsed,
                    cell=cell,
                    key=key,
                    name=request.POST.get("name", "").strip() or None,
                    actor=Actor.admin(request.user),
                    source=TagSource.ADMIN,
                )
        except ReportTimeout as exc:
            self.message_user(request, failure_message(exc), level=messages.ERROR)
            return back
        except DomainError as exc:
            self.message_user(request, describe_error(exc), level=messages.ERROR)
            return back
        except DatabaseError as exc:  # rolled back; its text may quote values: the class only
            logger.error("Saving a %s cell as a tag failed: %s", report, type(exc).__name__)
            self.message_user(request, SAVE_FAILED, level=messages.ERROR)
            return back
        logger.info("A %s cell saved as a tag by admin user %s", report, request.user.pk)
        self.message_user(request, _tagged_message(key, count), level=messages.SUCCESS)
        return back


def _cell_fields(raw: str) -> dict[str, str]:
    """The cell chosen on the page: a JSON object of the cell's fields (see charts.common)."""
    try:
        cell = json.loads(raw)
    except ValueError:
        cell = None
    if not isinstance(cell, dict) or not cell:
        raise InvalidInput({"cell": [str(_("Click a cell of the chart or the table first."))]})
    return {str(name): str(value) for name, value in cell.items()}


def _tagged_message(key: str, count: int):
    """ "N persons tagged with X", X linking to the persons list filtered by the tag."""
    persons = reverse("admin:identity_person_changelist") + "?" + urlencode({"tag": key})
    link = format_html('<a href="{}">{}</a>', persons, key)
    text = ngettext(
        "%(count)d person tagged with %(tag)s.", "%(count)d persons tagged with %(tag)s.", count
    )
    # The translation is escaped; only the link's markup is kept.
    return mark_safe(conditional_escape(text) % {"count": count, "tag": link})  # noqa: S308
