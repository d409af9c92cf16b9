"""What an erasure leaves in the history: audit entries and merge records of the person.

The history must keep saying what happened (action, actor, time, the ids that tie entries
together) but no longer to whom: the personal values it quotes are replaced by a marker.
Entries and records are found by the person and the tombstones merged into it (the same human),
and by the merges either side of which it was.
"""

from typing import Any

from django.db.models import Q

from identity.models import AuditEntry, MergeRecord, Person
from identity.services.person_data import movers

ERASED = "[erased]"
# Keys under which entries quote personal values (database ids under them are kept: they name
# rows, not people).
PERSONAL_KEYS = frozenset(
    {"phone", "phone_replaced", "openid", "openids", "unionid", "unionids"}
    | {"channel", "first_channel", "subscribe_scene"}
)
MERGE_ACTIONS = ("person.merge", "merge.undo")


def erase_traces(person: Person, values: set[str]) -> dict[str, int]:
    """Scrub the person's audit entries and merge records; return how many rows changed.

    `values` are the person's identifiers as they were before the erasure (openids, unionids,
    the phone in full and masked): a string equal to one of them is replaced wherever it sits.
    Runs in the erasure's transaction, with the person locked.
    """
    group = [person.pk, *Person.objects.filter(merged_into=person).values_list("pk", flat=True)]
    records = list(
        MergeRecord.objects.filter(Q(survivor_id__in=group) | Q(loser_id__in=group)).order_by("pk")
    )
    return {
        "audit_entries": _scrub_entries(group, [record.pk for record in records], values),
        "merge_records": _forget_merges(records),
    }


def _scrub_entries(group: list[int], record_pks: list[int], values: set[str]) -> int:
    whose = Q(person_id__in=group)
    if record_pks:
        whose |= Q(action__in=MERGE_ACTIONS, after__merge_record__in=record_pks)
    changed = []
    for entry in AuditEntry.objects.filter(whose).order_by("pk"):
        before, after = scrub(entry.before, values), scrub(entry.after, values)
        if (before, after) != (entry.before, entry.after):
            entry.before, entry.after = before, after
            changed.append(entry)
    AuditEntry.objects.bulk_update(changed, ["before", "after"])
    return len(changed)


def scrub(value: Any, values: set[str]) -> Any:
    """Return `value` (audit JSON) with every personal value replaced by ERASED."""
    if isinstance(value, dict):
        return {
            key: ERASED if key in PERSONAL_KEYS and _quotes_a_value(item) else scrub(item, values)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [scrub(item, values) for item in value]
    if isinstance(value, str) and value in values:
        return ERASED
    return value


def _quotes_a_value(item: Any) -> bool:
    if isinstance(item, str):
        return item not in ("", ERASED)
    if isinstance(item, list):
        return any(isinstance(element, str) and element != ERASED for element in item)
    return False


def _forget_merges(records: list[MergeRecord]) -> int:
    """Drop the phone fingerprint (keeping whether a phone moved) and what movers noted."""
    forgetters = {mover.name: mover.forget for mover in movers() if mover.forget is not None}
    changed = []
    for record in records:
        moved = dict(record.moved)
        if isinstance(moved.get("phone"), str):
            moved["phone"] = True
        for name, forget in forgetters.items():
            if name in moved:
                moved[name] = forget(moved[name])
        if moved != record.moved:
            record.moved = moved
            changed.append(record)
    MergeRecord.objects.bulk_update(changed, ["moved"])
    return len(changed)
