from django.db import transaction

from identity.models import Actor, App
from identity.services.audit import record_audit


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
    changes = {"secret": secret, "callback_token": callback_token, "aes_key": aes_key}
    changed = sorted(name for name, value in changes.items() if value is not None)
    if not changed:
        return app
    with transaction.atomic():
        locked = App.objects.select_for_update().get(pk=app.pk)
        if secret is not None:
            locked.set_secret(secret)
        if callback_token is not None:
            locked.set_callback_token(callback_token)
        if aes_key is not None:
            locked.set_aes_key(aes_key)
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
