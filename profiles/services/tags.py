"""Manual tag assignment: by admins and the API, exclusive groups and expiry respected."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from identity import person_cache
from identity.exceptions import InvalidInput, PersonErased
from identity.models import Actor, Person
from identity.services.audit import record_audit
from identity.services.locking import lock_live_persons, lock_persons
from profiles.models import Tag, TagAssignment, TagSource


def _manual_tags(keys: list[str]) -> list[Tag]:
    """Load the tags to assign, refusing unknown keys, rule tags and two of one exclusive group."""
    if not keys:
        raise InvalidInput({"tags": ["Give at least one tag key."]})
    tags = {tag.key: tag for tag in Tag.objects.select_related("group").filter(key__in=keys)}
    unknown = sorted(set(keys) - set(tags))
    if unknown:
        raise InvalidInput({"tags": [f"Unknown tags: {', '.join(unknown)}."]})
    rules = sorted(key for key, tag in tags.items() if tag.is_rule)
    if rules:
        raise InvalidInput({"tags": [f"Rule tags are kept by their rule: {', '.join(rules)}."]})
    groups = [tag.group_id for tag in tags.values() if tag.group and tag.group.exclusive]
    if len(groups) != len(set(groups)):
        raise InvalidInput({"tags": ["Two tags of one exclusive group cannot be held together."]})
    return list(tags.values())


def assign_tags(
    *,
    person: Person,
    keys: list[str],
    actor: Actor,
    source: str = TagSource.API,
    expires_at: datetime | None = None,
) -> Person:
    """Give a person manual tags (one transaction, one audit entry).

    A tag the person already holds keeps its first assignment time and takes the new expiry;
    a tag of an exclusive group replaces the person's other tag of that group.
    """
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput({"expires_at": ["Must be in the future."]})
    tags = _manual_tags(list(dict.fromkeys(keys)))
    with transaction.atomic():
        person = lock_live_persons(person.pk)[person.pk]
        if person.erased_at:
            raise PersonErased()
        replaced = _assign([person.pk], tags, actor=actor, source=source, expires_at=expires_at)
        record_audit(
            actor=actor,
            action="tag.assign",
            person=person,
            before={"replaced": replaced} if replaced else None,
            after={
                "tags": [tag.key for tag in tags],
                "source": source,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return person


def _assign(person_pks: list[int], tags: list[Tag], *, actor, source, expires_at) -> list[str]:
    """Give each person the tags in a constant number of statements, whatever their number.

    One upsert: a tag already held keeps its first assignment time (and its exclusive group)
    and takes the new expiry, source and author. The other tags of an exclusive group go first,
    so that the group's unique constraint holds. Returns the keys displaced.
    """
    person_cache.changed(person_pks)
    exclusive = {tag.group_id for tag in tags if tag.group and tag.group.exclusive}
    displaced = TagAssignment.objects.filter(
        person_id__in=person_pks, exclusive_group_id__in=exclusive
    ).exclude(tag__in=tags)
    replaced = (
        list(dict.fromkeys(displaced.values_list("tag__key", flat=True))) if exclusive else []
    )
    if replaced:
        displaced.delete()
    TagAssignment.objects.bulk_create(
        [
            TagAssignment(
                person_id=person_pk,
                tag=tag,
                expires_at=expires_at,
                source=source,
                assigned_by=str(actor),
                exclusive_group_id=tag.group_id if tag.group_id in exclusive else None,
            )
            for person_pk in person_pks
            for tag in tags
        ],
        update_conflicts=True,
        unique_fields=["person", "tag"],
        update_fields=["expires_at", "source", "assigned_by"],
    )
    return replaced


def remove_tag(*, person: Person, key: str, actor: Actor) -> bool:
    """Take a manual tag from a person; removing a tag the person lacks changes nothing.

    Return whether the person held it (as read under the person's lock), so that callers say
    what happened without asking first.
    """
    tag = Tag.objects.filter(key=key).first()
    if tag is None:
        raise InvalidInput({"tag": [f"Unknown tag {key!r}."]})
    if tag.is_rule:
        raise InvalidInput({"tag": ["Rule tags are kept by their rule."]})
    with transaction.atomic():
        person = lock_live_persons(person.pk)[person.pk]
        deleted, _ = TagAssignment.objects.filter(person=person, tag=tag).delete()
        if deleted:
            record_audit(actor=actor, action="tag.remove", person=person, before={"tags": [key]})
    return bool(deleted)


def bulk_assign_tag(
    *, persons: list[Person], key: str, actor: Actor, expires_at: datetime | None = None
) -> int:
    """Give one manual tag to many persons (admin bulk action); returns how many got it."""
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput({"expires_at": ["Must be in the future."]})
    tag = _manual_tags([key])[0]
    with transaction.atomic():
        locked = lock_persons(*[person.pk for person in persons])
        live = [p for p in locked.values() if not p.erased_at and not p.merged_into_id]
        if not live:
            return 0
        _assign(
            [person.pk for person in live],
            [tag],
            actor=actor,
            source=TagSource.ADMIN,
            expires_at=expires_at,
        )
        record_audit(
            actor=actor,
            action="tag.bulk_assign",
            target=key,
            after={
                "persons": [person.public_id for person in live],
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return len(live)


def bulk_remove_tag(*, persons: list[Person], key: str, actor: Actor) -> int:
    """Take one manual tag from many persons (admin bulk action); returns how many lost it."""
    tag = _manual_tags([key])[0]
    with transaction.atomic():
        doomed = TagAssignment.objects.filter(tag=tag, person__in=persons)
        removed = list(doomed.values_list("person__public_id", flat=True))
        if not removed:
            return 0
        person_cache.changed(doomed.values_list("person_id", flat=True))
        doomed.delete()
        record_audit(actor=actor, action="tag.bulk_remove", target=key, after={"persons": removed})
    return len(removed)
