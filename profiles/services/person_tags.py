"""Carry tag assignments through merges and undos: the earliest assignment wins."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from identity.models import Actor, Person
from identity.services.locking import key_share_lock_persons
from identity.services.person_data import PersonDataMover
from profiles.models import TagAssignment
from profiles.services.rules import refresh_rule_tags

RULE_ACTOR = Actor.system("rule refresh after merge")

_FIELDS = ("tag_id", "exclusive_group_id", "source", "assigned_by", "assigned_at", "expires_at")


def _snapshot(person: Person) -> list[dict]:
    rows = TagAssignment.objects.filter(person=person).order_by("tag_id").values(*_FIELDS)
    return [
        {
            **row,
            "assigned_at": row["assigned_at"].isoformat(),
            "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
        }
        for row in rows
    ]


def move_tags(loser: Person, survivor: Person, moved: dict) -> dict:
    """Give the survivor the loser's tags; where both hold a tag (or one exclusive group), the
    active one, then the earlier one, stays. Both sides are noted so that undo restores them
    exactly. Rule tags of both persons are refreshed once the merge commits."""
    note = {"survivor": _snapshot(survivor), "loser": _snapshot(loser)}
    now = timezone.now()
    kept = {
        (row.tag_id, row.exclusive_group_id): row
        for row in TagAssignment.objects.filter(person=survivor)
    }
    for row in TagAssignment.objects.filter(person=loser).order_by("assigned_at"):
        clash = next(
            (
                other
                for (tag_id, group_id), other in kept.items()
                if tag_id == row.tag_id
                or (row.exclusive_group_id and group_id == row.exclusive_group_id)
            ),
            None,
        )
        if clash is None or _wins(row, clash, now):
            if clash is not None:
                clash.delete()
                kept.pop((clash.tag_id, clash.exclusive_group_id))
            row.person = survivor
            row.save(update_fields=["person"])
            kept[(row.tag_id, row.exclusive_group_id)] = row
    TagAssignment.objects.filter(person=loser).delete()
    _refresh_rules_after_commit(survivor, loser)
    return note


def _refresh_rules_after_commit(*persons: Person) -> None:
    """Rule tags follow the persons' new identities and stats once the change is committed
    (not inside the merge: its identities move after the movers run)."""
    pks = [person.pk for person in persons]
    transaction.on_commit(lambda: refresh_rules_of(pks))


def refresh_rules_of(pks: list[int]) -> None:
    """Refresh the rule tags of persons a merge or undo changed, holding them FOR KEY SHARE.

    Another merge of one of them may be under way: the lock makes the refresh wait for it
    instead of writing assignments that merge would delete (a deadlock PostgreSQL would break
    only after deadlock_timeout, failing one side). Each tag refreshes in its own savepoint.
    """
    with transaction.atomic():
        key_share_lock_persons(pks)
        refresh_rule_tags(actor=RULE_ACTOR, person_ids=pks)


def _wins(row: TagAssignment, other: TagAssignment, now) -> bool:
    """An active assignment beats an expired one; otherwise the earlier one wins."""
    return (not _active(row, now), row.assigned_at) < (not _active(other, now), other.assigned_at)


def _active(row: TagAssignment, now) -> bool:
    return row.expires_at is None or row.expires_at > now


def undo_move_tags(survivor: Person, loser: Person, moved: dict) -> None:
    """Put back both persons' assignments as they were before the merge, for the tags involved.

    Tags the survivor gained after the merge on other tags are kept.
    """
    note = moved["tags"]
    rows = note["survivor"] + note["loser"]
    involved = {row["tag_id"] for row in rows}
    groups = {row["exclusive_group_id"] for row in rows if row["exclusive_group_id"]}
    TagAssignment.objects.filter(
        Q(tag_id__in=involved) | Q(exclusive_group_id__in=groups), person__in=[survivor, loser]
    ).delete()
    TagAssignment.objects.bulk_create(
        [TagAssignment(person=survivor, **row) for row in note["survivor"]]
        + [TagAssignment(person=loser, **row) for row in note["loser"]]
    )
    _refresh_rules_after_commit(survivor, loser)


def erase_tags(person: Person) -> dict:
    """Erasure takes every tag from the person, whatever set it (rules skip erased persons, so
    no refresh gives one back)."""
    deleted, _ = TagAssignment.objects.filter(person=person).delete()
    return {"assignments": deleted}


def refresh_after_app_erasure(person: Person, app_ids: list[int]) -> None:
    """The person keeps its tags when a restricted key erases its apps' part, but rule tags
    follow what remains (fewer openids and events) once that erasure commits."""
    _refresh_rules_after_commit(person)


def forget_tags(note: dict) -> dict:
    """A merge record of an erased person keeps no trace of which tags either side held."""
    return {"survivor": [], "loser": [], "erased": True}


TAGS_MOVER = PersonDataMover(
    name="tags",
    move=move_tags,
    undo=undo_move_tags,
    erase=erase_tags,
    erase_apps=refresh_after_app_erasure,
    forget=forget_tags,
)
