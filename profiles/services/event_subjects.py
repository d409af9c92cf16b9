"""Attribute a batch of events to live persons, through one call to identity.

Events name their person by (app, openid) or by public person id; identity resolves both and
locks the persons (`lock_event_subjects`). What stays here is which key each event names, and
the per-item errors of the events whose person could not be found or resolved.
"""

from identity.models import Actor, App
from identity.services.subjects import lock_event_subjects
from profiles.services.event_parsing import ItemError, ParsedEvent


def attribute(
    events: list[ParsedEvent], *, allowed_app_ids: set[int] | None, actor: Actor
) -> tuple[dict[int, tuple[int, int | None]], list[dict]]:
    """Map event index -> (person pk, identity pk or None); unknown persons are item errors."""
    by_app: dict[int, tuple[App, set[str]]] = {}
    for event in events:
        if event.openid:
            by_app.setdefault(event.app.pk, (event.app, set()))[1].add(event.openid)
    found = lock_event_subjects(
        by_openid=dict(by_app.values()),
        by_public_id={e.person_public_id for e in events if e.person_public_id},
        allowed_app_ids=allowed_app_ids,
        actor=actor,
    )
    errors, subjects = [], {}
    for event in events:
        if event.openid:
            key = (event.app.pk, event.openid)
            if key in found.by_openid:
                subjects[event.index] = found.by_openid[key]
            else:
                code = found.failed[key]
                error = ItemError(code, "The openid could not be resolved.", {"openid": [code]})
                errors.append(error.as_dict(event.index))
        elif event.person_public_id in found.by_public_id:
            subjects[event.index] = (found.by_public_id[event.person_public_id], None)
        else:
            errors.append(
                ItemError(
                    "person_not_found", "No such person.", {"person_id": ["Unknown person."]}
                ).as_dict(event.index)
            )
    return subjects, errors
