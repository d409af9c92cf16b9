"""In-memory state of the fake WeChat server: apps, users, codes, followers and tags.

Tests set it up through these methods and read what was called; the demo seeds it once.
"""

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field


@dataclass
class FakeUser:
    openid: str
    unionid: str | None = None
    subscribed: bool = True
    subscribe_time: int = 0
    scene: str = "ADD_SCENE_SEARCH"
    tags: set[int] = field(default_factory=set)


@dataclass
class FakeApp:
    appid: str
    secret: str
    token: str | None = None
    token_expires_at: float = 0.0
    followers: list[str] = field(default_factory=list)  # in the order they followed
    positions: dict[str, int] = field(default_factory=dict)  # openid -> index in followers
    users: dict[str, FakeUser] = field(default_factory=dict)
    tags: dict[int, str] = field(default_factory=dict)


class FakeWeChatState:
    """Everything the fake server knows; thread-safe behind one lock."""

    def __init__(self, *, page_size: int = 10_000, token_ttl: int = 7200):
        self.lock = threading.RLock()
        self.apps: dict[str, FakeApp] = {}
        self.login_codes: dict[str, dict] = {}
        self.oauth_codes: dict[str, dict] = {}
        self.oauth_tokens: dict[str, dict] = {}
        self.phone_codes: dict[str, dict] = {}
        self.openid_changes: dict[tuple[str, str], str] = {}
        self.failures: list[list] = []  # [path, errcode, remaining, calls to let through first]
        self.calls: list[str] = []
        self.page_size = page_size
        self.token_ttl = token_ttl
        self.tokens_issued = 0
        self._tag_ids = itertools.count(100)

    # -- set-up ------------------------------------------------------------------------

    def add_app(self, appid: str, secret: str) -> FakeApp:
        with self.lock:
            self.apps[appid] = FakeApp(appid=appid, secret=secret)
            return self.apps[appid]

    def add_follower(
        self, appid: str, openid: str, *, unionid=None, scene="ADD_SCENE_QR_CODE", at=None
    ) -> FakeUser:
        with self.lock:
            app = self.apps[appid]
            user = FakeUser(openid, unionid, True, at or int(time.time()), scene)
            app.users[openid] = user
            if openid not in app.positions:  # a dict: seeding a million stays linear
                app.positions[openid] = len(app.followers)
                app.followers.append(openid)
            return user

    def login_code(self, appid: str, openid: str, *, unionid=None, blocked=False) -> str:
        """Make a mini-program login code (single use, like WeChat's)."""
        code = "code_" + secrets.token_hex(8)
        with self.lock:
            self.login_codes[code] = {
                "appid": appid,
                "openid": openid,
                "unionid": unionid,
                "used": False,
                "session_key": secrets.token_urlsafe(16),
                "blocked": blocked,
            }
        return code

    def oauth_code(
        self, appid: str, openid: str, *, unionid=None, scope="snsapi_base", snapshot=False
    ) -> str:
        code = "oauth_" + secrets.token_hex(8)
        with self.lock:
            self.oauth_codes[code] = {
                "appid": appid,
                "openid": openid,
                "unionid": unionid,
                "scope": scope,
                "snapshot": snapshot,
                "used": False,
            }
        return code

    def phone_code(self, appid: str, phone: str, *, country_code="86", watermark_appid=None) -> str:
        code = "phone_" + secrets.token_hex(8)
        with self.lock:
            self.phone_codes[code] = {
                "appid": appid,
                "phone": phone,
                "country_code": country_code,
                "watermark_appid": watermark_appid or appid,
                "used": False,
            }
        return code

    def fail_next(self, path: str, errcode: int, times: int = 1, *, after: int = 0) -> None:
        """Make `times` calls to `path` answer `errcode`, once `after` calls went through."""
        with self.lock:
            self.failures.append([path, errcode, times, after])

    def expire_tokens(self, appid: str) -> None:
        with self.lock:
            self.apps[appid].token_expires_at = 0.0

    # -- helpers for the server --------------------------------------------------------

    def injected_failure(self, path: str) -> int | None:
        with self.lock:
            self.calls.append(path)
            for failure in self.failures:
                if failure[0] != path or failure[2] <= 0:
                    continue
                if failure[3] > 0:
                    failure[3] -= 1
                    continue
                failure[2] -= 1
                return failure[1]
        return None

    def issue_token(self, app: FakeApp) -> str:
        app.token = "tok_" + secrets.token_hex(12)
        app.token_expires_at = time.time() + self.token_ttl
        self.tokens_issued += 1
        return app.token

    def app_for_token(self, token: str | None) -> FakeApp | None:
        for app in self.apps.values():
            if token and app.token == token and app.token_expires_at > time.time():
                return app
        return None

    def new_tag_id(self) -> int:
        return next(self._tag_ids)
