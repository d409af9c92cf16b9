"""Registering client apps: an unknown appid is a client error, so apps exist only by this."""

from django.db import transaction

from identity import person_cache
from identity.exceptions import InvalidInput
from identity.models import Actor, App, AppKind, Platform
from identity.services.app_secrets import apply_credentials
from identity.services.audit import record_audit
from identity.validators import IDENTIFIER_RE


def provision_app(
    *,
    appid: str,
    kind: str,
    name: str,
    platform: str = Platform.WECHAT,
    secret: str | None = None,
    callback_token: str | None = None,
    aes_key: str | None = None,
    actor: Actor,
) -> tuple[App, bool]:
    """Create an app, or update its name, kind and credentials when it exists; returns
    (app, created). `None` keeps a credential unchanged. One audit entry, naming which
    credentials changed, never their values.

    Idempotent so that provisioning scripts can run on every deploy.
    """
    errors = {}
    if not IDENTIFIER_RE.fullmatch(appid or ""):
        errors["appid"] = ["Must be 1 to 64 characters of A-Z, a-z, 0-9, _ or -."]
    if kind not in AppKind.values:
        errors["kind"] = [f"Must be one of {', '.join(AppKind.values)}."]
    if platform not in Platform.values:
        errors["platform"] = [f"Must be one of {', '.join(Platform.values)}."]
    if not (name or "").strip():
        errors["name"] = ["Enter a name."]
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        app = App.objects.select_for_update().filter(appid=appid).first()
        created = app is None
        if created:
            app = App(appid=appid)
        elif app.platform != platform:
            raise InvalidInput({"platform": ["An existing app cannot change platform."]})
        before = None if created else {"name": app.name, "kind": app.kind}
        app.name, app.kind, app.platform = name.strip(), kind, platform
        changed = apply_credentials(
            app, secret=secret, callback_token=callback_token, aes_key=aes_key
        )
        app.save()
        if not created:
            person_cache.forget_all_on_commit()  # identities show the app's kind
        record_audit(
            actor=actor,
            action="app.create" if created else "app.update",
            target=app.appid,
            before=before,
            after={
                "name": app.name,
                "kind": app.kind,
                "secret_changed": secret is not None,
                "credentials_changed": changed,
            },
        )
    return app, created
