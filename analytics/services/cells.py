"""Acting on a report: the persons of one cell saved as a manual tag."""

from dataclasses import fields
from datetime import date

from analytics.params import CELL_REPORTS
from analytics.reports import cell_members_sql
from identity.exceptions import InvalidInput
from identity.models import Actor, App
from profiles.selectors import visible_person_ids
from profiles.services.tag_sets import tag_persons_of_query


def save_cell_as_tag(
    *,
    report: str,
    params,
    cell,
    key: str,
    name: str | None,
    actor: Actor,
    source: str,
    allowed_app_ids: set[int] | None = None,
) -> int:
    """Tag the persons of a cell (a cohort's returners, a period's dormant persons, those who
    reached a step and not the next); returns how many persons the cell holds.

    A key restricted to apps (`allowed_app_ids`) sees a person only when the person holds an
    identity in one of them, as everywhere else in the API; a report confines events by their
    app, and an event can name a person in an app where the person has no identity (another
    key posted it): the cell is cut down to the persons the key sees, for the tag and the count.
    """
    if report not in CELL_REPORTS:
        raise InvalidInput({"report": [f"Cells of {report!r} cannot be saved as a tag."]})
    sql, sql_params = cell_members_sql(report, params, cell)
    sql_params = list(sql_params)
    if allowed_app_ids is not None:
        visible_sql, visible_params = visible_person_ids(allowed_app_ids).query.sql_with_params()
        sql = (
            f"SELECT cell.person_id FROM ({sql}) AS cell "  # noqa: S608
            f"WHERE cell.person_id IN ({visible_sql})"
        )
        sql_params += visible_params
    return tag_persons_of_query(
        person_sql=sql,
        params=sql_params,
        key=key,
        name=name,
        actor=actor,
        source=source,
        what={
            "report": report,
            "params": describe_params(params),
            "cell": _describe(cell),
            "visible_app_ids": None if allowed_app_ids is None else sorted(allowed_app_ids),
        },
    )


def describe_params(params) -> dict:
    """A report's parameters as JSON, under the API's names, so that the audit entry of a
    saved cell tells which report was computed and the set can be computed again: the range
    and its period, the audience's apps (ids; None: every app) and segment key, and the
    report's own fields (event types or steps, `any` for every type; mode, cumulative, window).
    """
    audience = params.audience
    described = {
        "from": params.range.date_from.isoformat(),
        "to": params.range.date_to.isoformat(),
        "period": params.range.period,
        "app_ids": None if audience.app_ids is None else list(audience.app_ids),
        "segment": audience.segment.key if audience.segment is not None else None,
    }
    for field in fields(params):
        if field.name not in ("audience", "range"):
            described[field.name] = _json(getattr(params, field.name))
    return described


def _json(value):
    if value is None:  # only event types are optional: None stands for `any`
        return "any"
    if isinstance(value, tuple | list):
        return [_json(item) for item in value]
    if isinstance(value, App):
        return value.appid
    if isinstance(value, date):
        return value.isoformat()
    return value


def _describe(cell) -> dict:
    return {name: str(value) for name, value in vars(cell).items()}
