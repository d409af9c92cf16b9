"""Event types: configuration that admins register, edit and (when unused) delete."""

import re
from typing import Any

from django.db import IntegrityError, models, transaction

from identity.exceptions import Conflict, InvalidInput
from identity.models import Actor
from identity.services.audit import record_audit
from profiles.models import EventType

KEY_RE = re.compile(r"[-a-zA-Z0-9_]{1,32}")  # a SlugField of max_length 32


def _snapshot(event_type: EventType) -> dict[str, Any]:
    return {
        "name": event_type.name,
        "description": event_type.description,
        "is_active": event_type.is_active,
    }


def _check_name(name: str, errors: dict[str, list[str]]) -> str:
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Enter a name."]
    return name


def event_type_in_use(event_type: EventType) -> bool:
    """Tell whether rows protect the type from deletion, one indexed EXISTS per relation.

    Django's deletion collector would load every protected event into memory to list it.
    """
    # include_hidden: events, rollups and stats point here with related_name="+".
    for rel in EventType._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue
        if rel.on_delete not in (models.PROTECT, models.RESTRICT):
            continue
        rows = rel.related_model._base_manager.filter(**{rel.field.name: event_type})
        if rows.exists():
            return True
    return False


def register_event_type(*, key: str, name: str, description: str = "", actor: Actor) -> EventType:
    """Create a new, active event type; an existing key is a conflict, never an update."""
    errors: dict[str, list[str]] = {}
    if not KEY_RE.fullmatch(key or ""):
        errors["key"] = ["Use 1 to 32 characters of A-Z, a-z, 0-9, _ or -."]
    name = _check_name(name, errors)
    if errors:
        raise InvalidInput(errors)
    try:
        with transaction.atomic():
            event_type = EventType.objects.create(
                key=key, name=name, description=description or "", builtin=False
            )
            record_audit(
                actor=actor,
                action="event_type.create",
                target=key,
                after=_snapshot(event_type),
            )
    except IntegrityError as exc:
        raise Conflict("An event type with this key exists.") from exc
    return event_type


def update_event_type(
    *, event_type: EventType, name: str, description: str, is_active: bool, actor: Actor
) -> EventType:
    """Change what an admin may change of a type; its key and built-in flag stay as they are."""
    errors: dict[str, list[str]] = {}
    name = _check_name(name, errors)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        # NO KEY UPDATE: events of this type keep being inserted meanwhile.
        stored = EventType.objects.select_for_update(no_key=True).get(pk=event_type.pk)
        before = _snapshot(stored)
        stored.name, stored.description, stored.is_active = name, description or "", is_active
        stored.save(update_fields=["name", "description", "is_active"])
        record_audit(
            actor=actor,
            action="event_type.update",
            target=stored.key,
            before=before,
            after=_snapshot(stored),
        )
    return stored


def delete_event_type(*, event_type: EventType, actor: Actor) -> None:
    """Delete a type that is neither built in nor used by events, rollups or stats."""
    with transaction.atomic():
        # FOR UPDATE waits for, then blocks, inserts of events of this type.
        stored = EventType.objects.select_for_update().get(pk=event_type.pk)
        if stored.builtin:
            raise Conflict("A built-in event type cannot be deleted.")
        if event_type_in_use(stored):
            raise Conflict("The event type is in use and cannot be deleted.")
        key, before = stored.key, _snapshot(stored)
        stored.delete()  # clears the primary key, which is the key
        record_audit(actor=actor, action="event_type.delete", target=key, before=before)
