"""Reads of profiles, each with a fixed number of queries: events, segment members, definitions.

A person's timeline and a segment's members page by keyset (cursor), so that a deep page costs
what the first one does.
"""

import base64
import binascii
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q, QuerySet

from identity.exceptions import InvalidInput, NotFound
from identity.models import Identity, Person
from identity.person_reads import read_persons
from profiles.conditions import bounded_statements, compile_condition, matching_persons, validate
from profiles.conditions.dependencies import clock_dependent
from profiles.models import Event, Segment, Tag, TagAssignment, TagKind


def encode_cursor(event: Event) -> str:
    raw = f"{event.occurred_at.isoformat()}|{event.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pk = raw.split("|")
        return datetime.fromisoformat(at), int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput({"cursor": ["Not a cursor from a previous page."]}) from exc


def person_events(
    person: Person,
    *,
    limit: int,
    cursor: str | None = None,
    event_type: str | None = None,
    allowed_app_ids: set[int] | None = None,
) -> tuple[list[Event], str | None]:
    """Return one page of a person's events and the cursor of the next page (None at the end).

    One index range scan on (person, occurred_at desc, id desc), whatever the page. A key
    restricted to apps sees its apps' events only, as in its stats: an event reported without
    an app (by person id) came from no app of the key's.
    """
    events = Event.objects.filter(person=person).select_related("app")
    if event_type:
        events = events.filter(type_id=event_type)
    if allowed_app_ids is not None:
        events = events.filter(app_id__in=allowed_app_ids)
    if cursor:
        at, pk = decode_cursor(cursor)
        events = events.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, pk__lt=pk))
    page = list(events.order_by("-occurred_at", "-pk")[: limit + 1])
    next_cursor = encode_cursor(page[limit - 1]) if len(page) > limit else None
    return page[:limit], next_cursor


def segment_members(
    segment,
    *,
    limit: int,
    cursor: str | None = None,
    app=None,
    allowed_app_ids: set[int] | None = None,
) -> tuple[list[Person], str | None]:
    """One page of a segment's live members in id order, keyset paginated.

    With `app`, each member carries `app_openid`: its openid there (what a messaging backend
    needs), or None. A key restricted to apps sees only members with an identity in them, with
    stats from those apps only.
    A fixed number of queries whatever the page size.
    """
    members = Person.objects.live().filter(compile_condition(segment.condition))
    if allowed_app_ids is not None:
        members = members.filter(pk__in=visible_person_ids(allowed_app_ids))
    if cursor:
        members = members.filter(pk__gt=_decode_member_cursor(cursor))
    pks = list(members.order_by("pk").values_list("pk", flat=True)[: limit + 1])
    next_cursor = _encode_member_cursor(pks[limit - 1]) if len(pks) > limit else None
    pks = pks[:limit]
    read = read_persons("pks", [pks], allowed_app_ids=allowed_app_ids)
    persons = {person.pk: person for person in read}
    page = [persons[pk] for pk in pks if pk in persons]
    for person in page:
        person.app_openid = next(
            (row["openid"] for row in person.identity_rows if app and row["app_id"] == app.pk),
            None,
        )
    return page, next_cursor


def visible_person_ids(allowed_app_ids: set[int]):
    """Subquery of the persons a key restricted to these apps may see."""
    return Identity.objects.filter(app_id__in=allowed_app_ids).values("person_id")


def tag_definitions() -> QuerySet[Tag]:
    """Every tag in key order, each with its group (one query, whatever the count)."""
    return Tag.objects.select_related("group").order_by("key")


def segment_definitions() -> list[Segment]:
    """Every segment in key order."""
    return list(Segment.objects.order_by("key"))


def get_segment(key: str) -> Segment:
    """Return the segment of a key; an unknown key is a 404 for the caller."""
    segment = Segment.objects.filter(key=key).first()
    if segment is None:
        raise NotFound("No such segment.")
    return segment


def chosen_tags(tags: QuerySet[Tag]) -> QuerySet[Tag]:
    """The tags of an admin selection afresh, with their groups, in key order.

    Read again by primary key so that what the changelist added to its rows (member counts)
    is not computed once more.
    """
    return Tag.objects.filter(pk__in=tags.values("pk")).select_related("group").order_by("key")


def assignment_count(tags: Iterable[Tag]) -> int:
    """How many assignments the tags have, counted without loading them (millions, for some)."""
    return TagAssignment.objects.filter(tag__in=tags).count()


def _encode_member_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"m{pk}".encode()).decode().rstrip("=")


def _decode_member_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("m"):
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput({"cursor": ["Not a cursor from a previous page."]}) from exc


def time_dependent_rule_tags() -> list[str]:
    """Keys of the rule tags whose holders can change with the date alone (the schedule
    refreshes them just after midnight; no event would)."""
    kinds = dict(Tag.objects.values_list("key", "kind"))
    rules = dict(Tag.objects.filter(kind=TagKind.RULE).values_list("key", "condition"))
    manual = {key for key, kind in kinds.items() if kind != TagKind.RULE}
    return clock_dependent(rules, manual=manual)


# The first half of the live count's advisory lock key (the second is the staff user's id).
COUNT_LOCK_NAMESPACE = "profiles.condition_count"


def count_condition_matches(
    condition,
    *,
    forbidden_tag: str | None = None,
    timeout_ms: int | None = None,
    one_at_a_time_key: int | None = None,
) -> int | None:
    """How many live persons a condition matches now, validated as saving would validate it.

    Raises ConditionInvalid for an unsound tree (naming each bad node) and DatabaseError when
    the count outlasts `timeout_ms` (CONDITION_STATEMENT_TIMEOUT_MS if not given). With
    `one_at_a_time_key`, answer None at once when a count of that key already runs, in this
    process or another: the builder's live count asks while staff type, and a request its
    browser gave up on keeps counting until its timeout, so each staff user gets one in flight.
    The lock is a transaction-level advisory lock, let go when the count's transaction ends.
    """
    validate(condition, forbidden_tag=forbidden_tag)
    with bounded_statements(timeout_ms) as cursor:
        if one_at_a_time_key is not None:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(hashtext(%s), %s)",
                [COUNT_LOCK_NAMESPACE, one_at_a_time_key],
            )
            if not cursor.fetchone()[0]:
                return None
        return matching_persons(condition).count()
