"""Apps' credentials (secret, callback token, EncodingAESKey): encrypted at rest, set in one
place, audited without the values."""

from django.db import transaction

from identity.models import Actor, App
from identity.services.audit import record_audit


def apply_credentials(
    app: App, *, secret: str | None, callback_token: str | None, aes_key: str | None
) -> list[str]:
    """Set the given credentials on an unsaved app (encrypted); return the names changed."""
    changes = {"secret": secret, "callback_token": callback_token, "aes_key": aes_key}
    setters = {
        "secret": app.set_secret,
        "callback_token": app.set_callback_token,
        "aes_key": app.set_aes_key,
    }
    changed = sorted(name for name, value in changes.items() if value is not None)
    for name in changed:
        setters[name](changes[name])
    return changed


def set_app_credentials(
    *,
    app: App,
    secret: str | None = None,
    callback_token: str | None = None,
    aes_key: str | None = None,
    actor: Actor,
) -> App:
    """Replace an app's secret, callback token and/or AES key; `None` keeps a value unchanged.

    An empty string clears the value. The audit entry names what changed, never the values.
    """
    if secret is None and callback_token is None and aes_key is None:
        return app
    with transaction.atomic():
        locked = App.objects.select_for_update().get(pk=app.pk)
        changed = apply_credentials(
            locked, secret=secret, callback_token=callback_token, aes_key=aes_key
        )
        locked.save(
            update_fields=[f"{name}_encrypted" for name in changed] + ["updated_at"],
        )
        record_audit(
            actor=actor,
            action="app.credentials",
            target=locked.appid,
            after={"changed": changed},
        )
    return locked
