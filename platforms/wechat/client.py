"""A small typed client for the WeChat server APIs the service uses (PLATFORM.md).

One method per endpoint, answering plain dataclasses; how calls travel (retries, errors, access
tokens) is `transport.py`.
"""

from dataclasses import dataclass

from django.conf import settings

from identity.models import App
from platforms.wechat.transport import WeChatTransport, app_secret


@dataclass(frozen=True)
class Session:
    openid: str
    session_key: str
    unionid: str | None


@dataclass(frozen=True)
class OAuthUser:
    openid: str
    unionid: str | None
    scope: str
    snapshot_user: bool


@dataclass(frozen=True)
class PhoneInfo:
    phone_number: str
    country_code: str
    watermark_appid: str


class WeChatClient(WeChatTransport):
    """One client per process is enough; it holds an httpx connection pool."""

    # -- logins ----------------------------------------------------------------------------

    def jscode2session(self, app: App, code: str) -> Session:
        body = self.call(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": app.appid,
                "secret": app_secret(app),
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        return Session(
            openid=str(body["openid"]).strip(),
            session_key=str(body["session_key"]),
            unionid=_optional(body.get("unionid")),
        )

    def oauth_user(self, app: App, code: str) -> OAuthUser:
        body = self.call(
            "GET",
            "/sns/oauth2/access_token",
            params={
                "appid": app.appid,
                "secret": app_secret(app),
                "code": code,
                "grant_type": "authorization_code",
            },
        )
        openid, scope = str(body["openid"]).strip(), str(body.get("scope", ""))
        unionid = _optional(body.get("unionid"))
        snapshot = str(body.get("is_snapshotuser", "0")) == "1"
        if unionid is None and "snsapi_userinfo" in scope and not snapshot:
            info = self.call(
                "GET",
                "/sns/userinfo",
                params={"access_token": body["access_token"], "openid": openid, "lang": "zh_CN"},
            )
            unionid = _optional(info.get("unionid"))
        return OAuthUser(openid=openid, unionid=unionid, scope=scope, snapshot_user=snapshot)

    def user_phone_number(self, app: App, code: str) -> PhoneInfo:
        body = self.call_with_token(
            app, "POST", "/wxa/business/getuserphonenumber", json={"code": code}
        )
        info = body.get("phone_info") or {}
        return PhoneInfo(
            phone_number=str(info.get("phoneNumber") or info.get("purePhoneNumber") or ""),
            country_code=str(info.get("countryCode") or ""),
            watermark_appid=str((info.get("watermark") or {}).get("appid") or ""),
        )

    # -- followers -------------------------------------------------------------------------

    def user_info(self, app: App, openid: str) -> dict:
        return self.call_with_token(
            app, "GET", "/cgi-bin/user/info", params={"openid": openid, "lang": "zh_CN"}
        )

    def user_info_batch(self, app: App, openids: list[str]) -> list[dict]:
        if len(openids) > 100:
            raise ValueError("at most 100 openids per batchget")
        body = self.call_with_token(
            app,
            "POST",
            "/cgi-bin/user/info/batchget",
            json={"user_list": [{"openid": openid, "lang": "zh_CN"} for openid in openids]},
        )
        return list(body.get("user_info_list") or [])

    def followers_page(self, app: App, next_openid: str = "") -> tuple[list[str], str, int]:
        """Return (openids, next_openid, total); next_openid is empty after the last page."""
        body = self.call_with_token(
            app, "GET", "/cgi-bin/user/get", params={"next_openid": next_openid}
        )
        openids = list((body.get("data") or {}).get("openid") or [])
        following = str(body.get("next_openid") or "") if openids else ""
        return openids, following, int(body.get("total") or 0)

    def change_openids(self, app: App, from_appid: str, openids: list[str]) -> list[dict]:
        if len(openids) > 100:
            raise ValueError("at most 100 openids per changeopenid call")
        body = self.call_with_token(
            app,
            "POST",
            "/cgi-bin/changeopenid",
            json={"from_appid": from_appid, "openid_list": openids},
        )
        return list(body.get("result_list") or [])

    # -- user tags -------------------------------------------------------------------------

    def create_tag(self, app: App, name: str) -> int:
        body = self.call_with_token(
            app, "POST", "/cgi-bin/tags/create", json={"tag": {"name": name}}
        )
        return int(body["tag"]["id"])

    def list_tags(self, app: App) -> list[dict]:
        return list(self.call_with_token(app, "GET", "/cgi-bin/tags/get").get("tags") or [])

    def tag_users(self, app: App, tag_id: int, openids: list[str], *, untag: bool = False) -> None:
        if len(openids) > 50:
            raise ValueError("at most 50 openids per tagging call")
        path = (
            "/cgi-bin/tags/members/batchuntagging"
            if untag
            else "/cgi-bin/tags/members/batchtagging"
        )
        self.call_with_token(app, "POST", path, json={"openid_list": openids, "tagid": tag_id})


def _optional(value) -> str | None:
    """WeChat fields come and go (and carry stray spaces): blank means absent."""
    text = str(value).strip() if value is not None else ""
    return text or None


_client: WeChatClient | None = None


def get_client() -> WeChatClient:
    """The process-wide client for the configured base URL."""
    global _client
    if _client is None or _client.base_url != settings.WECHAT_API_BASE.rstrip("/"):
        _client = WeChatClient()
    return _client
