"""Create and change tag groups, tags and segments (admin), conditions validated first."""

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils.translation import ngettext

from identity import person_cache
from identity.exceptions import InvalidInput
from identity.models import Actor
from identity.services.audit import record_audit
from jobs.queue import enqueue
from profiles.conditions import ConditionInvalid, validate
from profiles.models import Segment, Tag, TagAssignment, TagGroup, TagKind


def check_condition(condition, *, field: str = "condition", forbidden_tag: str | None = None):
    """Validate a condition, turning problems into InvalidInput with node paths."""
    try:
        validate(condition, forbidden_tag=forbidden_tag)
    except ConditionInvalid as exc:
        raise InvalidInput(
            {field: [f"{path}: {' '.join(msgs)}" for path, msgs in exc.errors.items()]}
        ) from exc


def save_tag(*, tag: Tag, actor: Actor) -> Tag:
    """Create or update a tag definition (one audit entry).

    A rule tag needs a valid condition; a manual tag has none. Moving a tag into or out of an
    exclusive group updates its assignments' group marker in the same transaction. A rule tag
    created, or whose condition changed, has its refresh queued in the same transaction: its
    members follow the new condition without staff asking.
    """
    if tag.kind == TagKind.RULE:
        if tag.condition is None:
            raise InvalidInput({"condition": ["A rule tag needs a condition."]})
        check_condition(tag.condition, forbidden_tag=tag.key)
    else:
        tag.condition = None
    creating = tag.pk is None
    try:
        with transaction.atomic():
            return _save_tag(tag, creating, actor)
    except IntegrityError as exc:
        if _constraint(exc) != "tag_assignment_exclusive":
            raise
        raise InvalidInput(
            {
                "group": [
                    f"Some persons hold this tag and another tag of the exclusive group "
                    f"“{tag.group}”. Remove one of them first."
                ]
            }
        ) from exc


def _save_tag(tag: Tag, creating: bool, actor: Actor) -> Tag:
    before = None
    needs_refresh = creating
    if not creating:
        stored = Tag.objects.get(pk=tag.pk)
        before = _tag_state(stored)
        needs_refresh = stored.kind != tag.kind or stored.condition != tag.condition
        if stored.kind != tag.kind:
            # Holders of the old kind do not carry over: a new rule starts from its condition,
            # a new manual tag from staff's choices.
            TagAssignment.objects.filter(tag=tag).delete()
    tag.save()
    if not creating:
        # Holders show the tag's name and group: every answer may change.
        person_cache.forget_all_on_commit()
    exclusive = tag.group_id if tag.group and tag.group.exclusive else None
    TagAssignment.objects.filter(tag=tag).exclude(exclusive_group_id=exclusive).update(
        exclusive_group_id=exclusive
    )
    record_audit(
        actor=actor,
        action="tag.create" if creating else "tag.update",
        target=tag.key,
        before=before,
        after=_tag_state(tag),
    )
    if needs_refresh and tag.kind == TagKind.RULE:
        queue_refresh(tag=tag, actor=actor)
    return tag


def queue_refresh(*, tag: Tag, actor: Actor) -> None:
    """Enqueue a refresh of the rule tag for everyone, unless one already waits (it will read
    the condition in force when it runs)."""
    from profiles.tasks.rules import refresh_lock, refresh_rule_tag_job

    lock = refresh_lock(tag.pk)
    enqueue(
        refresh_rule_tag_job,
        queueing_lock=lock,
        lock=lock,
        tag_id=tag.pk,
        actor_type=str(actor.type),
        actor_label=actor.label,
    )


def save_tag_group(*, group: TagGroup, actor: Actor) -> TagGroup:
    """Create or update a tag group; making it exclusive needs every person to hold one tag of
    it at most (the database refuses otherwise, and nothing changes)."""
    creating = group.pk is None
    try:
        with transaction.atomic():
            before = None
            if not creating:
                stored = TagGroup.objects.get(pk=group.pk)
                before = {"name": stored.name, "exclusive": stored.exclusive}
            group.save()
            person_cache.forget_all_on_commit()
            exclusive = group.pk if group.exclusive else None
            TagAssignment.objects.filter(tag__group=group).update(exclusive_group_id=exclusive)
            record_audit(
                actor=actor,
                action="tag_group.create" if creating else "tag_group.update",
                target=group.key,
                before=before,
                after={"name": group.name, "exclusive": group.exclusive},
            )
    except IntegrityError as exc:
        if _constraint(exc) != "tag_assignment_exclusive":
            raise
        count = persons_holding_several(group)
        message = ngettext(
            "%(count)d person holds more than one tag of this group, so it cannot be "
            "exclusive. Remove the extra tags first.",
            "%(count)d persons hold more than one tag of this group, so it cannot be "
            "exclusive. Remove the extra tags first.",
            count,
        ) % {"count": count}
        raise InvalidInput({"exclusive": [message]}) from exc
    return group


def persons_holding_several(group: TagGroup) -> int:
    """Count the persons who hold two or more tags of a group (what stops it being exclusive)."""
    return (
        TagAssignment.objects.filter(tag__group=group)
        .values("person_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )


def _constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint PostgreSQL reported."""
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def save_segment(*, segment: Segment, actor: Actor) -> Segment:
    """Create or update a segment after validating its condition (one audit entry)."""
    check_condition(segment.condition)
    creating = segment.pk is None
    with transaction.atomic():
        before = None if creating else {"condition": Segment.objects.get(pk=segment.pk).condition}
        segment.save()
        record_audit(
            actor=actor,
            action="segment.create" if creating else "segment.update",
            target=segment.key,
            before=before,
            after={"name": segment.name, "condition": segment.condition},
        )
    return segment


def _tag_state(tag: Tag) -> dict:
    return {
        "name": tag.name,
        "kind": tag.kind,
        "group": tag.group.key if tag.group_id else None,
        "condition": tag.condition,
    }
