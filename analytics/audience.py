"""Who and what a report counts: the apps its events may come from, the segment its people
must belong to.

Every report takes an Audience and turns it into SQL conditions, so that the rules of
analytics.md hold alike everywhere: `app` restricts every event used to that app, a key
restricted to apps sees only the events of its apps, `segment` restricts the people to the
current members of the segment (live persons matching its condition now).
"""

from dataclasses import dataclass

from django.utils import timezone

from identity.exceptions import AppForbidden, InvalidInput
from identity.models import App, Person
from profiles.conditions import ConditionInvalid, compile_condition
from profiles.models import Segment


@dataclass(frozen=True)
class Audience:
    """`app_ids` None: events of every app (and those without one); else only those apps."""

    app_ids: tuple[int, ...] | None = None
    segment: Segment | None = None

    def events_sql(self, alias: str) -> tuple[str, list]:
        """A condition on a table with `app_id` (events, daily activity): the apps allowed."""
        if self.app_ids is None:
            return "TRUE", []
        return f"{alias}.app_id = ANY(%s)", [list(self.app_ids)]

    def persons_sql(self, column: str) -> tuple[str, list]:
        """A condition on a person id column: a current member of the segment, if any."""
        if self.segment is None:
            return "TRUE", []
        members, params = _segment_members_sql(self.segment)
        return f"{column} IN ({members})", params

    def where(self, alias: str, *, person_column: str = "person_id") -> tuple[str, list]:
        """Both conditions on one table alias, joined by AND."""
        apps, app_params = self.events_sql(alias)
        persons, person_params = self.persons_sql(f"{alias}.{person_column}")
        return f"({apps}) AND ({persons})", app_params + person_params


def _segment_members_sql(segment: Segment) -> tuple[str, list]:
    try:
        condition = compile_condition(segment.condition, now=timezone.now())
    except ConditionInvalid as exc:
        raise InvalidInput(
            {"segment": [f"The condition of segment {segment.key!r} no longer compiles: {exc}"]}
        ) from exc
    members = Person.objects.live().filter(condition).values("pk")
    sql, params = members.query.sql_with_params()
    return sql, list(params)


def audience_for(
    *, app: App | None, segment: Segment | None, allowed_app_ids: set[int] | None
) -> Audience:
    """The audience of a request: its `app` (refused outside the key's apps), else the key's
    apps when it is restricted, else every app."""
    if app is not None:
        if allowed_app_ids is not None and app.pk not in allowed_app_ids:
            raise AppForbidden()
        return Audience(app_ids=(app.pk,), segment=segment)
    if allowed_app_ids is not None:
        return Audience(app_ids=tuple(sorted(allowed_app_ids)), segment=segment)
    return Audience(segment=segment)
