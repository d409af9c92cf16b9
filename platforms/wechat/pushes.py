"""Service-account pushes: follow, unfollow and QR scans become follow state and events.

A push is turned into an event whose id is derived from (FromUserName, CreateTime, Event), the
key WeChat's retries share, so a retried push is a duplicate and changes nothing.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from identity.exceptions import DomainError
from identity.models import Actor, App, Identity, UnionId
from identity.services.resolve import resolve_identity
from identity.validators import IDENTIFIER_RE
from platforms.wechat.callback_crypto import MalformedCallback, parse_xml
from platforms.wechat.client import get_client
from platforms.wechat.errors import WeChatError
from profiles.models.events import EventKey
from profiles.services.ingest import ingest_events

logger = logging.getLogger(__name__)

ACTOR = Actor.system("wechat_callback")
EVENT_TYPES = {"subscribe": "subscribe", "unsubscribe": "unsubscribe", "SCAN": "qr_scan"}
# Unix seconds in ASCII digits: ten reach the year 2286. Anything else (signs, "1_000", other
# scripts' digits, which int() accepts) is not WeChat's, and a longer one overflows datetime.
CREATE_TIME_RE = re.compile(r"[0-9]{1,10}")


class PushInvalid(Exception):
    """The body is not a WeChat message."""


@dataclass(frozen=True)
class Push:
    openid: str
    create_time: int
    msg_type: str
    event: str
    event_key: str

    @property
    def event_id(self) -> str:
        digest = hashlib.sha256(f"{self.openid}|{self.create_time}|{self.event}".encode())
        return "wxpush-" + digest.hexdigest()[:40]


def parse_push(xml: bytes | str) -> Push:
    """Read a push's fields; bytes are parsed as sent, so bytes that are not UTF-8 are refused."""
    try:
        root = parse_xml(xml)
    except MalformedCallback as exc:
        raise PushInvalid("not XML") from exc
    if root.tag != "xml":
        raise PushInvalid("not a WeChat message")

    def text(tag: str) -> str:
        node = root.find(tag)
        return (node.text or "").strip() if node is not None else ""

    create_time = text("CreateTime")
    if not CREATE_TIME_RE.fullmatch(create_time):
        raise PushInvalid("bad CreateTime")
    return Push(
        openid=text("FromUserName"),
        create_time=int(create_time),
        msg_type=text("MsgType"),
        event=text("Event"),
        event_key=text("EventKey"),
    )


def handle_push(app: App, push: Push) -> str:
    """Apply one push; returns what happened ("ignored", "duplicate", "stored")."""
    event_type = EVENT_TYPES.get(push.event) if push.msg_type == "event" else None
    # An openid that cannot be stored is refused here, before it is sent to WeChat.
    if event_type is None or not IDENTIFIER_RE.fullmatch(push.openid):
        return "ignored"
    if EventKey.objects.filter(app=app, event_id=push.event_id).exists():
        return "duplicate"
    if push.event == "subscribe":
        _link_unionid(app, push.openid)
    scene = push.event_key.removeprefix("qrscene_")
    result = ingest_events(
        events=[
            {
                "event_id": push.event_id,
                "appid": app.appid,
                "openid": push.openid,
                "type": event_type,
                "occurred_at": _iso(push.create_time),
                "channel": "service_account_qr" if scene else "",
                "properties": {"scene": scene} if scene else {},
            }
        ],
        actor=ACTOR,
        source="wechat_push",
    )
    if result.errors:
        logger.warning(
            "push from app %s not stored: %s", app.appid, result.errors[0]["error"]["code"]
        )
        return "ignored"
    return "stored" if result.accepted else "duplicate"


def _link_unionid(app: App, openid: str) -> None:
    """Fetch the unionid of a new follower that we know no unionid for, and resolve with it.

    Best effort: WeChat being slow or down must not lose the follow, which is stored anyway.
    """
    identity = Identity.objects.filter(app=app, openid=openid).first()
    if (
        identity
        and UnionId.objects.filter(person_id=identity.person_id, platform=app.platform).exists()
    ):
        return
    try:
        info = get_client().user_info(app, openid)
    except WeChatError as exc:
        logger.warning(
            "unionid of a new follower of %s not fetched: errcode %s", app.appid, exc.errcode
        )
        return
    unionid = str(info.get("unionid") or "").strip() or None
    if unionid:
        try:
            resolve_identity(app=app, openid=openid, unionid=unionid, actor=ACTOR)
        except DomainError as exc:
            logger.warning("follower of %s not linked by unionid: %s", app.appid, exc.code)


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()
