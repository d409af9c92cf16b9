"""Compile a validated condition tree into one boolean filter over persons.

Every leaf becomes an `EXISTS` over the person's rows, so the whole tree is a single SQL query
with two-valued logic: a person without stats counts as zero payments and is never "seen within
N days"; `not` is plain negation (`NOT EXISTS`, which PostgreSQL runs as an anti-join, where
`NOT IN` would hash the whole subquery). The planner picks per-person index probes for a small
set of persons (refresh after an ingest) and hash joins for everyone (a segment count).

The tree's shape and literals are checked again here (without reading the database), so that a
condition stored before today's bounds fails as ConditionInvalid naming its node, never in
PostgreSQL; `profiles.conditions.limits` bounds how long the compiled statements may run.
"""

import operator
from datetime import datetime, timedelta
from functools import reduce

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from identity.models import Identity, Person
from profiles.conditions.grammar import AMOUNT_FIELDS, COUNT_FIELDS, TIME_FIELDS
from profiles.conditions.validation import check_shape
from profiles.conditions.values import as_amount
from profiles.models import Event, PersonStats, TagAssignment

_COMPARE = {
    "=": (operator.eq, "exact"),
    "<": (operator.lt, "lt"),
    "<=": (operator.le, "lte"),
    ">": (operator.gt, "gt"),
    ">=": (operator.ge, "gte"),
}


def matching_persons(condition: dict, *, now: datetime | None = None) -> QuerySet[Person]:
    """Live persons for whom a validated condition holds."""
    return Person.objects.live().filter(compile_condition(condition, now=now))


def compile_condition(condition: dict, *, now: datetime | None = None) -> Q:
    """Compile a tree into one boolean filter; raise ConditionInvalid for an unsound one."""
    check_shape(condition)
    return _compile(condition, now or timezone.now())


def _compile(node: dict, now: datetime) -> Q:
    if "all" in node:
        return reduce(operator.and_, (_compile(child, now) for child in node["all"]))
    if "any" in node:
        return reduce(operator.or_, (_compile(child, now) for child in node["any"]))
    if "not" in node:
        return ~_compile(node["not"], now)
    if "tag" in node:
        return _exists(TagAssignment.objects.active(now).filter(tag__key=node["tag"]))
    if "app" in node:
        return _exists(Identity.objects.filter(app__appid=node["app"]))
    if "followed" in node:
        return _exists(Identity.objects.filter(app__appid=node["followed"], followed=True))
    if "has_phone" in node:
        return Q(phone_index__isnull=not node["has_phone"])
    if "field" in node:
        return _field(node["field"], node["op"], node["value"], now)
    if "event" in node:
        return _event(node, now)
    raise ValueError(f"not a validated condition node: {sorted(node)}")


def _exists(rows: QuerySet) -> Q:
    return Q(Exists(rows.filter(person_id=OuterRef("pk"))))


def _field(field: str, op: str, value, now: datetime) -> Q:
    if field in TIME_FIELDS:
        cutoff = now - timedelta(days=value)
        lookup = "gte" if op == "within_days" else "lt"
        return _exists(PersonStats.objects.filter(**{f"{field}__{lookup}": cutoff}))
    if op == "!=":
        return ~_field(field, "=", value, now)
    if field in COUNT_FIELDS:
        value, default = int(value), 0
    elif field in AMOUNT_FIELDS:
        value, default = as_amount(value), as_amount(0)
    else:
        default = ""
    test, lookup = _COMPARE[op]
    rows = PersonStats.objects.filter(**{f"{field}__{lookup}": value})
    if test(default, value):
        # Persons without stats hold the default, which satisfies the comparison: match all
        # but those whose stats row fails it.
        return ~_exists(PersonStats.objects.exclude(**{f"{field}__{lookup}": value}))
    return _exists(rows)


def _event(node: dict, now: datetime) -> Q:
    counts = (
        Event.objects.filter(
            type_id=node["event"], occurred_at__gte=now - timedelta(days=node["within_days"])
        )
        .values("person_id")
        .annotate(n=Count("id"))
    )
    low, high = node.get("min_count") or 0, node.get("max_count")
    if low < 1 and high is None:
        return Q(pk__isnull=False)  # "at least 0 times": everyone
    if low >= 1:
        bounded = counts.filter(n__gte=low)
        if high is not None:
            bounded = bounded.filter(n__lte=high)
        return Q(pk__in=bounded.values("person_id"))
    return ~Q(pk__in=counts.filter(n__gt=high).values("person_id"))
