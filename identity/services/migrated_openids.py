"""An openid a service-account migration gave an existing identity, linked to its person.

When a service account moves to a new one, the platform answers the new openid of each old one
(WeChat's `changeopenid`). The new identity joins the same person and carries the old one's
follow state over; a new openid that already has a person of its own (a login since the
migration) proves the two are one human, and they merge.
"""

from typing import Literal

from django.db import IntegrityError, transaction

from identity.exceptions import Conflict
from identity.models import Actor, App, Identity, MergeReason
from identity.services.audit import record_audit
from identity.services.merge import merge_persons

Outcome = Literal["mapped", "merged", "skipped"]


def link_migrated_openid(*, app: App, old: Identity, new_openid: str, actor: Actor) -> Outcome:
    """Give the person of `old` the identity `new_openid` in `app`; say what it took.

    "skipped": already done; "merged": the new openid's person was merged with old's;
    "mapped": a new identity was created, with old's follow state. Raises a DomainError (and
    changes nothing) when the link would break an invariant, e.g. the person already has
    another openid in `app`.
    """
    existing = Identity.objects.filter(app=app, openid=new_openid).first()
    if existing is not None and existing.person_id == old.person_id:
        return "skipped"
    try:
        if existing is not None:
            merge_persons(
                first=old.person, second=existing.person, reason=MergeReason.MANUAL, actor=actor
            )
            return "merged"
        _create(app, old, new_openid, actor)
    except IntegrityError as exc:
        # The new openid, or another openid of the person in this app, is already stored.
        raise Conflict("The openid cannot join this person.") from exc
    return "mapped"


def _create(app: App, old: Identity, new_openid: str, actor: Actor) -> None:
    """Store the identity and its audit entry in one transaction."""
    with transaction.atomic():
        Identity.objects.create(
            app=app,
            openid=new_openid,
            person=old.person,
            followed=old.followed,
            followed_at=old.followed_at,
            unfollowed_at=old.unfollowed_at,
            subscribe_scene=old.subscribe_scene,
        )
        record_audit(
            actor=actor,
            action="identity.link",
            person=old.person,
            after={"app": app.appid, "via": "changeopenid", "from_identity": old.pk},
        )
