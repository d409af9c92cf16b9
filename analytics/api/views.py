"""Report endpoints: thin views over analytics.params, analytics.reports and the cell service.

A GET validates the query (400 naming the field, 403 for an app outside the key's), runs one
report under the statement time limit (503 report_timeout) and answers its JSON, or its CSV
with `?format=csv`. The format is the view's own choice, not DRF's content negotiation, so that
an unknown `format` is a 400 naming it rather than DRF's 404, and errors are JSON always.
"""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from analytics import exports
from analytics import params as p
from analytics.api import serializers as s
from analytics.reports import run_report, time_limit
from analytics.services.cells import save_cell_as_tag
from config.api import scopes
from config.api.views import ERRORS, ApiView, valid
from profiles.models import TagSource

JSON, CSV = "json", "csv"
FORMAT = OpenApiParameter(
    "format",
    enum=[JSON, CSV],
    default=JSON,
    description="`csv`: the same cells as CSV (UTF-8 with a BOM), as an attachment.",
)
ANSWERS = {
    p.RETENTION: s.RetentionOut,
    p.FUNNEL: s.FunnelOut,
    p.LIFECYCLE: s.LifecycleOut,
    p.ACTIVE: s.ActiveOut,
    p.ACQUISITION: s.AcquisitionOut,
    p.SETTLE: s.SettleOut,
}
SUMMARIES = {
    p.RETENTION: "Retention: cohorts by period, and how many of each came back k periods later",
    p.FUNNEL: "Funnel: persons reaching each step within the window, conversion, median times",
    p.LIFECYCLE: "Lifecycle: new, returning, resurrecting and dormant persons per period",
    p.ACTIVE: "Active users: DAU, WAU, MAU and stickiness per local day",
    p.ACQUISITION: "Acquisition: new persons per period, by first channel or by first app",
    p.SETTLE: "Settle rate: mini-program visitors who follow the service account",
}


class FormatQuery(serializers.Serializer):
    format = serializers.ChoiceField((JSON, CSV), default=JSON)


class JsonNegotiation(DefaultContentNegotiation):
    """Always the JSON renderer: the view itself answers `?format=csv`."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReportView(ApiView):
    """GET one report; `report` names it (analytics.params)."""

    required_scopes = {"GET": scopes.ANALYTICS_READ}
    content_negotiation_class = JsonNegotiation
    report: str

    def get(self, request):
        query = request.query_params.dict()
        answer_format = valid(FormatQuery, {"format": query.pop("format", JSON)})["format"]
        params = p.parse_params(self.report, query, allowed_app_ids=self.key.allowed_app_ids)
        answer = run_report(self.report, params)
        if answer_format == JSON:
            return Response(answer)
        response = HttpResponse(
            exports.csv_text(self.report, answer), content_type="text/csv; charset=utf-8"
        )
        name = exports.filename(self.report, params)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def _report_view(report: str) -> type[ReportView]:
    schema = extend_schema(
        operation_id=f"analytics_{report}",
        parameters=[p.QUERIES[report], FORMAT],
        responses={
            (200, "application/json"): ANSWERS[report],
            (200, "text/csv"): OpenApiTypes.STR,
            **ERRORS,
        },
        summary=SUMMARIES[report],
        description="analytics.md and docs/analytics.md give the definitions.",
    )
    name = f"{report.capitalize()}ReportView"
    return extend_schema_view(get=schema)(type(name, (ReportView,), {"report": report}))


class SaveAsTagView(ApiView):
    """POST a cell of a report with its parameters; its persons get a manual tag."""

    # The tag it writes needs tags:write as well, checked in `post` (naming `tag`).
    required_scopes = {"POST": scopes.ANALYTICS_READ}
    report: str

    def post(self, request):
        self.require_scope(scopes.TAGS_WRITE, field="tag")
        query, cell_values, tag_values = s.split_body(self.report, request.data)
        params = p.parse_params(self.report, query, allowed_app_ids=self.key.allowed_app_ids)
        cell = p.parse_cell(self.report, cell_values)
        target = valid(s.TagTargetIn, tag_values)
        with time_limit():
            tagged = save_cell_as_tag(
                report=self.report,
                params=params,
                cell=cell,
                key=target["tag"],
                name=target.get("name"),
                actor=self.actor(),
                source=TagSource.API,
                allowed_app_ids=self.key.allowed_app_ids,
            )
        return Response({"tag": target["tag"], "tagged": tagged})


def _save_as_tag_view(report: str) -> type[SaveAsTagView]:
    schema = extend_schema(
        operation_id=f"analytics_{report}_save_as_tag",
        request=s.save_as_tag_doc(report),
        responses={200: s.SaveAsTagOut, **ERRORS},
        summary=f"Tag the persons of one cell of the {report} report (scopes analytics:read "
        "and tags:write)",
        description="The body holds the report's parameters (as in the GET), the cell and "
        "`tag` (a manual tag's key; a new key creates the tag, a rule tag's is a 409).",
    )
    name = f"{report.capitalize()}SaveAsTagView"
    return extend_schema_view(post=schema)(type(name, (SaveAsTagView,), {"report": report}))


REPORT_VIEWS = {report: _report_view(report) for report in p.REPORTS}
SAVE_AS_TAG_VIEWS = {report: _save_as_tag_view(report) for report in p.CELL_REPORTS}
