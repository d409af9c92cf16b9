"""Logins and phone binding through WeChat: exchange the code, then resolve or bind.

WeChat is called before the transaction opens (work that leaves the process never holds row
locks); the session key is stored encrypted in the resolve's transaction.
"""

from django.db import transaction

from identity import crypto
from identity.exceptions import Conflict, InvalidInput
from identity.models import Actor, App, AppKind, Identity, Person
from identity.services.phone import bind_phone
from identity.services.resolve import ResolveResult, resolve_identity
from platforms.wechat.client import get_client
from platforms.wechat.models import WeChatSession

WEB_KINDS = (AppKind.SERVICE_ACCOUNT, AppKind.SUBSCRIPTION_ACCOUNT, AppKind.H5)


class SnapshotUser(Conflict):
    code = "wechat_snapshot_user"
    default_message = (
        "WeChat reports a virtual snapshot-page user; it is not linked. Ask the user to open the "
        "page in full."
    )


class WatermarkMismatch(Conflict):
    code = "wechat_watermark_mismatch"
    default_message = "The phone number was issued for another app."


def _require_kind(app: App, kinds, field="appid") -> None:
    if app.kind not in kinds:
        raise InvalidInput({field: [f"This endpoint takes apps of kind {', '.join(kinds)}."]})


def miniprogram_login(*, app: App, code: str, actor: Actor) -> ResolveResult:
    """Exchange a mini-program login code for the person; keep the session key server-side."""
    _require_kind(app, (AppKind.MINIPROGRAM,))
    session = get_client().jscode2session(app, code)
    with transaction.atomic():
        result = resolve_identity(
            app=app, openid=session.openid, unionid=session.unionid, actor=actor
        )
        identity = Identity.objects.get(app=app, openid=session.openid)
        WeChatSession.objects.update_or_create(
            identity=identity,
            defaults={"session_key_encrypted": crypto.encrypt(session.session_key)},
        )
    return result


def oauth_login(*, app: App, code: str, actor: Actor) -> ResolveResult:
    """Exchange a web OAuth code (service account or H5 pages) for the person."""
    _require_kind(app, WEB_KINDS)
    user = get_client().oauth_user(app, code)
    if user.snapshot_user:
        raise SnapshotUser()
    return resolve_identity(app=app, openid=user.openid, unionid=user.unionid, actor=actor)


def bind_wechat_phone(
    *, app: App, code: str, person: Person, actor: Actor, on_conflict: str = "merge"
) -> Person:
    """Fetch the phone number behind a mini-program phone code and bind it to the person."""
    _require_kind(app, (AppKind.MINIPROGRAM,))
    if not Identity.objects.filter(app=app, person=person).exists():
        raise InvalidInput({"person_id": ["The person has no identity in this mini-program."]})
    info = get_client().user_phone_number(app, code)
    if info.watermark_appid != app.appid:
        raise WatermarkMismatch()
    phone = info.phone_number
    if info.country_code and not phone.startswith("+"):
        phone = f"+{info.country_code}{phone}"
    return bind_phone(person=person, phone=phone, on_conflict=on_conflict, actor=actor)
