"""Acting on a report: the persons of one cell saved as a manual tag."""

from analytics.params import CELL_REPORTS
from analytics.reports import cell_members_sql
from identity.exceptions import InvalidInput
from identity.models import Actor
from profiles.services.tag_sets import tag_persons_of_query


def save_cell_as_tag(
    *, report: str, params, cell, key: str, name: str | None, actor: Actor, source: str
) -> int:
    """Tag the persons of a cell (a cohort's returners, a period's dormant persons, those who
    reached a step and not the next); returns how many persons the cell holds."""
    if report not in CELL_REPORTS:
        raise InvalidInput({"report": [f"Cells of {report!r} cannot be saved as a tag."]})
    sql, sql_params = cell_members_sql(report, params, cell)
    return tag_persons_of_query(
        person_sql=sql,
        params=sql_params,
        key=key,
        name=name,
        actor=actor,
        source=source,
        what={"report": report, "cell": _describe(cell)},
    )


def _describe(cell) -> dict:
    return {name: str(value) for name, value in vars(cell).items()}
