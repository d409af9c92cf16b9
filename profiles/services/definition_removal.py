"""Delete tag groups, tags and segments (admin), refusing what other definitions still use."""

from django.db import transaction

from identity import person_cache
from identity.exceptions import Conflict
from identity.models import Actor
from identity.services.audit import record_audit
from profiles.conditions.validation import referenced_tags
from profiles.models import Segment, Tag, TagGroup


def tag_users(key: str) -> list[str]:
    """Name the rule tags and segments whose condition mentions a tag (`tag:x`, `segment:y`)."""
    rules = Tag.objects.filter(condition__isnull=False).exclude(key=key)
    users = [
        f"tag:{tag.key}"
        for tag in rules.only("key", "condition")
        if key in referenced_tags(tag.condition)
    ]
    segments = Segment.objects.only("key", "condition")
    users += [f"segment:{seg.key}" for seg in segments if key in referenced_tags(seg.condition)]
    return sorted(users)


def delete_tag(*, tag: Tag, actor: Actor) -> int:
    """Delete a tag and its assignments; returns how many assignments went with it.

    A tag that a rule tag's or a segment's condition names stays: deleting it would silently
    turn that condition's leaf into "nobody".
    """
    with transaction.atomic():
        stored = Tag.objects.select_for_update().get(pk=tag.pk)
        users = tag_users(stored.key)
        if users:
            raise Conflict(f"The tag is used by {', '.join(users)}.", details={"used_by": users})
        held = stored.assignments.count()
        stored.delete()
        person_cache.forget_all_on_commit()  # its holders' answers show it
        record_audit(
            actor=actor,
            action="tag.delete",
            target=tag.key,
            before={
                "name": stored.name,
                "kind": stored.kind,
                "group": stored.group.key if stored.group_id else None,
                "condition": stored.condition,
                "assignments": held,
            },
        )
    return held


def delete_tag_group(*, group: TagGroup, actor: Actor) -> None:
    """Delete an empty tag group; a group that still has tags stays."""
    with transaction.atomic():
        stored = TagGroup.objects.select_for_update().get(pk=group.pk)
        keys = sorted(stored.tags.values_list("key", flat=True))
        if keys:
            raise Conflict(f"The group still has tags: {', '.join(keys)}.", details={"tags": keys})
        stored.delete()
        record_audit(
            actor=actor,
            action="tag_group.delete",
            target=group.key,
            before={"name": stored.name, "exclusive": stored.exclusive},
        )


def delete_segment(*, segment: Segment, actor: Actor) -> None:
    """Delete a segment and its snapshots."""
    with transaction.atomic():
        stored = Segment.objects.select_for_update().get(pk=segment.pk)
        stored.delete()
        record_audit(
            actor=actor,
            action="segment.delete",
            target=segment.key,
            before={"name": stored.name, "condition": stored.condition},
        )
