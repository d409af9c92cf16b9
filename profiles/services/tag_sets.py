"""Tag a set of persons named by a query: the cells of the reports, saved as a manual tag.

A report cell can hold a hundred thousand persons: the set is read once, the live ones are
share-locked in id order (a merge or erasure waits for this transaction instead of leaving a
tag on a tombstone) and tagged with one INSERT ... SELECT, and one audit entry records the key,
the count and what the set was (never the persons).
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, connection, transaction

from identity import person_cache
from identity.exceptions import Conflict, InvalidInput
from identity.models import Actor
from identity.services.audit import record_audit
from profiles.models import Tag, TagKind

KEY_CHARS = Tag._meta.get_field("key").max_length
NAME_CHARS = Tag._meta.get_field("name").max_length


class RuleTagConflict(Conflict):
    code = "rule_tag"
    default_message = "A rule tag is kept by its rule: choose the key of a manual tag."


def _check_key(key: str, name: str | None) -> None:
    try:
        validate_slug(key)
    except ValidationError as exc:
        raise InvalidInput({"tag": ["Use letters, digits, hyphens and underscores."]}) from exc
    if len(key) > KEY_CHARS:
        raise InvalidInput({"tag": [f"At most {KEY_CHARS} characters."]})
    if name is not None and (not name.strip() or len(name) > NAME_CHARS or "\x00" in name):
        # PostgreSQL text cannot hold NUL: refused here rather than a 500 at the insert.
        raise InvalidInput({"name": [f"Give 1 to {NAME_CHARS} characters, without NUL."]})


def _manual_tag(key: str, name: str | None, actor: Actor) -> Tag:
    """The manual tag of a key, created (in no group) when the key names no tag yet."""
    tag = Tag.objects.select_related("group").filter(key=key).first()
    if tag is None:
        try:
            with transaction.atomic():
                tag = Tag.objects.create(key=key, name=(name or key).strip(), kind=TagKind.MANUAL)
        except IntegrityError:  # created by a concurrent request meanwhile
            tag = Tag.objects.select_related("group").get(key=key)
        else:
            record_audit(
                actor=actor,
                action="tag.create",
                target=key,
                after={"name": tag.name, "kind": TagKind.MANUAL, "group": None},
            )
    if tag.is_rule:
        raise RuleTagConflict(details={"tag": [f"{key!r} is a rule tag."]})
    return tag


def tag_persons_of_query(
    *,
    person_sql: str,
    params: list,
    key: str,
    name: str | None = None,
    actor: Actor,
    source: str,
    what: dict,
) -> int:
    """Give the manual tag `key` to every live person the query's `person_id` column names.

    Returns how many distinct persons the query named (erased ones count but are not tagged,
    as a tag on them would mean nothing). A person who holds the tag keeps it and its first
    assignment time, and loses its expiry; a tag of an exclusive group displaces the person's
    other tag of that group. `what` describes the set for the audit entry.
    """
    _check_key(key, name)
    with transaction.atomic():
        tag = _manual_tag(key, name, actor)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT person_id FROM ({person_sql}) AS cell",  # noqa: S608
                params,
            )
            named = [row[0] for row in cursor.fetchall()]
            # Not identity.services.locking: share_lock_live_persons raises StaleRead at the
            # first merged or erased person, where a set keeps the live ones and skips the
            # rest; key_share_lock_persons (FOR KEY SHARE) returns nothing to filter by and
            # lets a plain UPDATE of the person through. Re-checked once the lock is granted,
            # the WHERE drops whoever the merge or erasure that held it made a tombstone.
            cursor.execute(
                "SELECT id FROM identity_person WHERE id = ANY(%s) AND merged_into_id IS NULL "
                "AND erased_at IS NULL ORDER BY id FOR SHARE",
                [named],
            )
            live = [row[0] for row in cursor.fetchall()]
            exclusive = tag.group_id if tag.group and tag.group.exclusive else None
            if exclusive is not None:
                cursor.execute(
                    "DELETE FROM profiles_tagassignment WHERE person_id = ANY(%s) "
                    "AND exclusive_group_id = %s AND tag_id <> %s",
                    [live, exclusive, tag.pk],
                )
            cursor.execute(
                "INSERT INTO profiles_tagassignment "
                "(person_id, tag_id, exclusive_group_id, source, assigned_by, assigned_at, "
                " expires_at) "
                "SELECT p, %s, %s, %s, %s, now(), NULL FROM unnest(%s::bigint[]) AS p "
                "ON CONFLICT (person_id, tag_id) DO UPDATE SET expires_at = NULL, "
                "source = EXCLUDED.source, assigned_by = EXCLUDED.assigned_by",
                [tag.pk, exclusive, source, str(actor)[:200], live],
            )
            person_cache.changed(live)
        record_audit(
            actor=actor,
            action="tag.assign_set",
            target=key,
            after={**what, "persons": len(named), "tagged": len(live)},
        )
    return len(named)
