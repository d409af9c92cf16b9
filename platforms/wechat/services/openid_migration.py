"""Service-account migration: map the old account's openids to the new account's.

WeChat's `cgi-bin/changeopenid` (100 openids a call, asked by the new account) answers the new
openid of each old one; each becomes an identity of the same person in the new app, with the
follow state carried over. Idempotent: openids whose person already has an identity in the new
app are skipped, so an interrupted run simply continues.
"""

from collections.abc import Callable
from dataclasses import dataclass

from identity.exceptions import DomainError, InvalidInput
from identity.models import Actor, App, AppKind, Identity
from identity.services.audit import record_audit
from identity.services.migrated_openids import link_migrated_openid
from identity.validators import IDENTIFIER_RE
from platforms.wechat.client import get_client

CHUNK = 100


@dataclass
class MigrationCounts:
    mapped: int = 0
    merged: int = 0
    skipped: int = 0
    failed: int = 0

    def add(self, outcome: str) -> None:
        """Count one mapping by its outcome ("mapped", "merged", "skipped" or "failed")."""
        setattr(self, outcome, getattr(self, outcome) + 1)


def migrate_openids(
    *,
    app: App,
    from_appid: str,
    actor: Actor,
    progress: Callable[[MigrationCounts], None] | None = None,
) -> MigrationCounts:
    """Give every identity of the old account its identity in `app` (the new account)."""
    old = App.objects.filter(appid=from_appid).first()
    if old is None:
        raise InvalidInput({"from_appid": [f"Unknown appid {from_appid!r}."]})
    if AppKind.SERVICE_ACCOUNT not in (app.kind, old.kind) or old.pk == app.pk:
        raise InvalidInput({"appid": ["Both apps must be distinct service accounts."]})
    counts = MigrationCounts()
    client = get_client()
    pending = (
        Identity.objects.filter(app=old)
        .exclude(person__identities__app=app)
        .order_by("pk")
        .select_related("person")
    )
    last_pk = 0
    while True:
        chunk = list(pending.filter(pk__gt=last_pk)[:CHUNK])
        if not chunk:
            break
        last_pk = chunk[-1].pk
        by_openid = {identity.openid: identity for identity in chunk}
        for result in client.change_openids(app, from_appid, list(by_openid)):
            old_identity = by_openid.get(str(result.get("ori_openid", "")))
            new_openid = str(result.get("new_openid") or "").strip()
            if old_identity is None or not IDENTIFIER_RE.fullmatch(new_openid):
                counts.failed += 1
                continue
            try:
                outcome = link_migrated_openid(
                    app=app, old=old_identity, new_openid=new_openid, actor=actor
                )
            except DomainError:
                # A conflict (e.g. two openids of the new app for one person) fails this one only.
                outcome = "failed"
            counts.add(outcome)
        if progress:
            progress(counts)
    record_audit(
        actor=actor,
        action="openid.migrate",
        target=app.appid,
        after={"from_appid": from_appid, **counts.__dict__},
    )
    return counts
