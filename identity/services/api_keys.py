"""API keys: created with their scopes and apps (the plaintext shown once), revoked at once
in every process."""

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from config.api.scopes import ALL_SCOPES
from identity.exceptions import InvalidInput
from identity.models import Actor, ApiKey, App
from identity.models.api_keys import generate_key, hash_key
from identity.selectors import forget_cached_keys
from identity.services.audit import record_audit

LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_api_key(
    *, name: str, scopes: Iterable[str], appids: Iterable[str] = (), actor: Actor
) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is shown once and never stored."""
    scopes = sorted(set(scopes))
    appids = sorted(set(appids))
    errors = {}
    if not (name or "").strip():
        errors["name"] = ["Enter a name."]
    unknown = [scope for scope in scopes if scope not in ALL_SCOPES]
    if unknown:
        errors["scopes"] = [
            f"Unknown scopes: {', '.join(unknown)}. Known: {', '.join(ALL_SCOPES)}."
        ]
    apps = list(App.objects.filter(appid__in=appids))
    missing = sorted(set(appids) - {app.appid for app in apps})
    if missing:
        errors["apps"] = [f"Unknown appids: {', '.join(missing)}."]
    if errors:
        raise InvalidInput(errors)
    prefix, raw_key = generate_key()
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name.strip(), prefix=prefix, key_hash=hash_key(raw_key), scopes=scopes
        )
        key.apps.set(apps)
        record_audit(
            actor=actor,
            action="api_key.create",
            target=str(key),
            after={"scopes": scopes, "apps": appids},
        )
    return key, raw_key


def revoke_api_key(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Revoke a key at once; requests with it get 401 from then on."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            record_audit(actor=actor, action="api_key.revoke", target=str(key))
    transaction.on_commit(forget_cached_keys)
    return key


def touch_api_key(*, key: ApiKey) -> None:
    """Record when a key was last used, to the minute: one UPDATE a minute per key at most,
    so that the hot path does not write on every request (usage telemetry, not audited)."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
