"""Reads behind the WeChat endpoints, out of the views so that each read has a name and a why."""

from identity.models import App
from platforms.wechat.models import WeChatTagSync
from profiles.models import Segment


def callback_app(appid: str) -> App | None:
    """Return the app a callback URL names, read afresh, or None when no such app is registered.

    Not `identity.selectors.get_app`: its per-process cache is for requests that read nothing
    secret, and a callback checks its signature with the app's token (and AES key) as stored now.
    """
    return App.objects.filter(appid=appid).first()


def tag_syncs_of(segment: Segment) -> list[WeChatTagSync]:
    """The segment's WeChat tag syncs with their apps, one query, for the segment admin's page."""
    return list(
        WeChatTagSync.objects.filter(segment=segment).select_related("app").order_by("app__name")
    )
