"""Reads of merges for staff: what a merge of two persons would give, what a merge moved.

Each reads a fixed number of queries, whatever the persons hold or however many records a page
shows, and changes nothing: the merge and its undo check again under their own locks.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Subquery

from identity.merge_conflicts import merge_conflicts
from identity.models import App, AuditEntry, Identity, MergeRecord, Person, UnionId
from identity.person_reads import read_persons
from identity.selectors import live_pks


@dataclass(frozen=True)
class MergePreview:
    """What `merge_persons` would do with two persons, as the admin's preview shows it.

    `survivor` and `loser` are read as the person representation is (`identity_rows`,
    `unionid_rows`, `section_<name>`); `refusal` names why the merge would not happen
    ("already_one", "erased", "conflict") or is empty, `conflicts` as MergeConflict's details.
    `fingerprint` stands for the two persons as read (empty on a refusal): a confirmation
    carries it back, and a different one means the persons changed since the preview.
    """

    survivor: Person | None
    loser: Person | None
    refusal: str
    conflicts: dict[str, object]
    app_names: dict[int, str]
    fingerprint: str = ""


def _last_audit_pk():
    entries = AuditEntry.objects.filter(person=OuterRef("pk")).order_by("-created_at", "-pk")
    return Subquery(entries.values("pk")[:1])


def _fingerprint(rows: list[Person]) -> str:
    """The live pks, then a digest of what could change under them: identifiers, audit, row."""
    state = [
        [
            row.pk,
            row.updated_at.isoformat(),
            row.last_audit_pk,
            row.identity_pks,
            row.unionid_pks,
            row.phone_index,
        ]
        for row in rows
    ]
    digest = hashlib.sha256(json.dumps(state).encode()).hexdigest()[:32]
    return f"{rows[0].pk}-{rows[1].pk}-{digest}"


def previewed_pks(fingerprint: str) -> tuple[int, int] | None:
    """The two live pks a fingerprint names, or None when it is not one."""
    survivor, _sep, rest = fingerprint.partition("-")
    loser, _sep, digest = rest.partition("-")
    if survivor.isdigit() and loser.isdigit() and digest:
        return int(survivor), int(loser)
    return None


def merge_preview(first_pk: int, second_pk: int) -> MergePreview:
    """Read what a merge of two persons would give, with the merge's own checks, changing nothing.

    Tombstones stand for their survivors, as in the merge; the fingerprint names the live pks,
    so that a person merged away since the preview shows there as a change.
    """
    first_pk, second_pk = live_pks(first_pk, second_pk)
    if first_pk == second_pk:
        return MergePreview(None, None, "already_one", {}, {})
    by_pk = OuterRef("pk")
    rows = list(
        Person.objects.filter(pk__in=[first_pk, second_pk])
        .annotate(
            last_audit_pk=_last_audit_pk(),
            identity_pks=ArraySubquery(
                Identity.objects.filter(person=by_pk).order_by("pk").values("pk")
            ),
            unionid_pks=ArraySubquery(
                UnionId.objects.filter(person=by_pk).order_by("pk").values("pk")
            ),
        )
        .order_by("created_at", "pk")
    )
    if len(rows) != 2 or any(row.erased_at for row in rows):
        return MergePreview(None, None, "erased", {}, {})
    survivor, loser = rows
    conflicts = merge_conflicts(survivor, loser)
    shown = {person.pk: person for person in read_persons("pks", [[survivor.pk, loser.pk]])}
    app_ids = {row["app_id"] for p in shown.values() for row in p.identity_rows}
    names = dict(App.objects.filter(pk__in=app_ids).values_list("pk", "name"))
    return MergePreview(
        shown[survivor.pk],
        shown[loser.pk],
        "conflict" if conflicts else "",
        conflicts,
        names,
        "" if conflicts else _fingerprint(rows),
    )


@dataclass(frozen=True)
class MovedIdentifiers:
    """A merge record's `moved` identifiers, read back by their pks for staff to see."""

    identities: list[tuple[str, str]]  # (app name, openid)
    unionids: list[tuple[str, str]]  # (platform, unionid)
    tombstones: list[Person]
    phone: str | None  # masked; "" when it moved but neither person holds it now; None: none moved
    missing: int  # identifiers listed but gone since (erased)
    notes: dict[str, object] = field(default_factory=dict)  # what other apps' movers noted


_KNOWN = {"identities", "unionids", "tombstones", "phone"}


def moved_identifiers_many(records: Sequence[MergeRecord]) -> dict[int, MovedIdentifiers]:
    """Read what each merge moved, by record pk, in four queries however many records.

    The records store pks and a fingerprint of the phone's blind index, never values: the
    values are read from the rows as they are now, and the phone from whichever of the two
    persons holds the fingerprinted number.
    """
    moved = {record.pk: record.moved or {} for record in records}

    def listed(name: str) -> set[int]:
        return {pk for entry in moved.values() for pk in entry.get(name) or []}

    identities = list(
        Identity.objects.filter(pk__in=listed("identities"))
        .order_by("app__name", "pk")
        .values_list("pk", "app__name", "openid")
    )
    unionids = list(
        UnionId.objects.filter(pk__in=listed("unionids"))
        .order_by("platform", "pk")
        .values_list("pk", "platform", "unionid")
    )
    tombstones = list(Person.objects.filter(pk__in=listed("tombstones")).order_by("pk"))
    holders = []
    if any(entry.get("phone") for entry in moved.values()):
        pairs = {pk for record in records for pk in (record.survivor_id, record.loser_id)}
        holders = list(
            Person.objects.filter(pk__in=pairs, phone_index__isnull=False).order_by("pk")
        )
    return {
        record.pk: _moved(record, identities, unionids, tombstones, holders) for record in records
    }


def _moved(record: MergeRecord, identities, unionids, tombstones, holders) -> MovedIdentifiers:
    """One record's part of the rows read for all of them, in the rows' order."""
    moved = record.moved or {}
    identity_pks, unionid_pks = set(moved.get("identities") or []), set(moved.get("unionids") or [])
    tombstone_pks = set(moved.get("tombstones") or [])
    phone = None
    if fingerprint := moved.get("phone"):
        pair = (record.survivor_id, record.loser_id)
        holder = next(
            (p for p in holders if p.pk in pair and p.phone_index.startswith(fingerprint)), None
        )
        phone = (holder.phone_masked if holder else None) or ""
    its_identities = [(app, openid) for pk, app, openid in identities if pk in identity_pks]
    its_unionids = [(platform, uid) for pk, platform, uid in unionids if pk in unionid_pks]
    missing = len(identity_pks) - len(its_identities) + len(unionid_pks) - len(its_unionids)
    return MovedIdentifiers(
        its_identities,
        its_unionids,
        [person for person in tombstones if person.pk in tombstone_pks],
        phone,
        missing,
        {name: note for name, note in moved.items() if name not in _KNOWN},
    )


def moved_identifiers(record: MergeRecord) -> MovedIdentifiers:
    """Read what one merge moved (see `moved_identifiers_many`)."""
    return moved_identifiers_many([record])[record.pk]
