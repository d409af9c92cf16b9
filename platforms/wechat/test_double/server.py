"""A fake WeChat API server on loopback, speaking the endpoints of PLATFORM.md.

Tests start it in a thread (`FakeWeChatServer().start()`) and point `WECHAT_API_BASE` at it;
`manage.py fake_wechat` runs it for the demo. Payloads follow WeChat's samples, errors included.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from operator import attrgetter
from urllib.parse import parse_qs, urlsplit

from platforms.wechat.errors import Errcode
from platforms.wechat.test_double.state import FakeWeChatState

MAX_TAGS_PER_ACCOUNT = 100
MAX_TAGS_PER_USER = 20


def _error(errcode: int, errmsg: str) -> dict:
    return {"errcode": errcode, "errmsg": errmsg}


class Routes:
    """One method per endpoint: (query, body) -> JSON answer."""

    def __init__(self, state: FakeWeChatState):
        self.state = state

    def get_token(self, query, body):
        app = self.state.apps.get(query.get("appid"))
        if app is None:
            return _error(Errcode.INVALID_APPID, "invalid appid")
        if query.get("secret") != app.secret:
            return _error(Errcode.INVALID_APPSECRET, "invalid appsecret")
        return {"access_token": self.state.issue_token(app), "expires_in": self.state.token_ttl}

    def jscode2session(self, query, body):
        app = self.state.apps.get(query.get("appid"))
        if app is None or query.get("secret") != app.secret:
            return _error(Errcode.INVALID_APPSECRET, "invalid appsecret")
        code = self.state.login_codes.get(query.get("js_code", ""))
        if code is None or code["appid"] != app.appid:
            return _error(Errcode.INVALID_CODE, "invalid code")
        if code["used"]:
            return _error(Errcode.CODE_USED, "code been used")
        code["used"] = True
        if code["blocked"]:
            return _error(Errcode.HIGH_RISK_USER, "high risk user")
        answer = {"openid": code["openid"], "session_key": code["session_key"]}
        if code["unionid"]:
            answer["unionid"] = code["unionid"]
        return answer

    def oauth_access_token(self, query, body):
        app = self.state.apps.get(query.get("appid"))
        if app is None or query.get("secret") != app.secret:
            return _error(Errcode.INVALID_APPSECRET, "invalid appsecret")
        code = self.state.oauth_codes.get(query.get("code", ""))
        if code is None or code["appid"] != app.appid:
            return _error(Errcode.INVALID_CODE, "invalid code")
        if code["used"]:
            return _error(Errcode.CODE_USED, "code been used")
        code["used"] = True
        token = "utok_" + query["code"]
        self.state.oauth_tokens[token] = code
        answer = {
            "access_token": token,
            "expires_in": 7200,
            "refresh_token": "r" + token,
            "openid": code["openid"],
            "scope": code["scope"],
        }
        if code["snapshot"]:
            answer["is_snapshotuser"] = 1
        elif code["scope"] == "snsapi_userinfo" and code["unionid"]:
            answer["unionid"] = code["unionid"]
        return answer

    def userinfo(self, query, body):
        code = self.state.oauth_tokens.get(query.get("access_token", ""))
        if code is None:
            return _error(Errcode.INVALID_CREDENTIAL, "invalid credential")
        if code["scope"] != "snsapi_userinfo":
            return _error(Errcode.API_UNAUTHORIZED, "api unauthorized")
        answer = {"openid": code["openid"], "nickname": "WeChat user", "headimgurl": ""}
        if code["unionid"]:
            answer["unionid"] = code["unionid"]
        return answer

    def phone_number(self, app, query, body):
        code = self.state.phone_codes.get((body or {}).get("code", ""))
        if code is None or code["appid"] != app.appid:
            return _error(Errcode.INVALID_CODE, "invalid code")
        if code["used"]:
            return _error(Errcode.CODE_USED, "code been used")
        code["used"] = True
        phone, country = code["phone"], code["country_code"]
        return {
            "errcode": Errcode.OK,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": phone if country == "86" else f"+{country}{phone}",
                "purePhoneNumber": phone,
                "countryCode": int(country),
                "watermark": {"timestamp": 1637744274, "appid": code["watermark_appid"]},
            },
        }

    def user_info(self, app, query, body):
        return self._user(app, query.get("openid", ""))

    def user_info_batch(self, app, query, body):
        users = (body or {}).get("user_list") or []
        if not users or len(users) > 100:
            return _error(Errcode.INVALID_OPENID_LIST, "invalid openid list size")
        return {"user_info_list": [self._user(app, item.get("openid", "")) for item in users]}

    def _user(self, app, openid):
        user = app.users.get(openid)
        if user is None or not user.subscribed:
            return {"subscribe": 0, "openid": openid}
        answer = {
            "subscribe": 1,
            "openid": openid,
            "language": "zh_CN",
            "subscribe_time": user.subscribe_time,
            "remark": "",
            "groupid": 0,
            "tagid_list": sorted(user.tags),
            "subscribe_scene": user.scene,
            "qr_scene": 0,
            "qr_scene_str": "",
        }
        if user.unionid:
            answer["unionid"] = " " + user.unionid  # WeChat's own sample has this space
        return answer

    def followers(self, app, query, body):
        """List the followers in the order they followed, `page_size` at a time, from the one
        after `next_openid`. Walks from that openid's position rather than the whole list, so
        that paging through a million followers is not quadratic."""
        after = query.get("next_openid", "")
        index = app.positions[after] + 1 if after in app.positions else 0
        page = []
        while index < len(app.followers) and len(page) < self.state.page_size:
            openid = app.followers[index]
            if app.users[openid].subscribed:
                page.append(openid)
            index += 1
        total = sum(map(attrgetter("subscribed"), app.users.values()))
        answer = {"total": total, "count": len(page), "next_openid": page[-1] if page else ""}
        if page:
            answer["data"] = {"openid": page}
        return answer

    def tags_create(self, app, query, body):
        name = ((body or {}).get("tag") or {}).get("name", "")
        if not name or len(name) > 30:
            return _error(Errcode.TAG_NAME_TOO_LONG, "tag name too long")
        if name in app.tags.values():
            return _error(Errcode.DUPLICATE_TAG_NAME, "duplicate tag name")
        if len(app.tags) >= MAX_TAGS_PER_ACCOUNT:
            return _error(Errcode.TOO_MANY_TAGS, "too many tags")
        tag_id = self.state.new_tag_id()
        app.tags[tag_id] = name
        return {"tag": {"id": tag_id, "name": name}}

    def tags_get(self, app, query, body):
        return {"tags": [{"id": i, "name": n, "count": 0} for i, n in sorted(app.tags.items())]}

    def tagging(self, app, query, body, *, untag=False):
        body = body or {}
        openids, tag_id = body.get("openid_list") or [], body.get("tagid")
        if not openids or len(openids) > 50:
            return _error(Errcode.INVALID_OPENID_LIST, "invalid openid list size")
        if tag_id not in app.tags:
            return _error(Errcode.INVALID_TAG_ID, "invalid tag id")
        users = [app.users.get(openid) for openid in openids]
        if any(user is None or not user.subscribed for user in users):
            return _error(Errcode.INVALID_OPENID, "invalid openid")
        if not untag and any(
            tag_id not in user.tags and len(user.tags) >= MAX_TAGS_PER_USER for user in users
        ):
            return _error(Errcode.USER_TAG_LIMIT, "user has too many tags")
        for user in users:
            (user.tags.discard if untag else user.tags.add)(tag_id)
        return _error(Errcode.OK, "ok")

    def change_openid(self, app, query, body):
        body = body or {}
        openids = body.get("openid_list") or []
        if not openids or len(openids) > 100:
            return _error(Errcode.INVALID_OPENID_LIST, "invalid openid list size")
        results = []
        for openid in openids:
            new = self.state.openid_changes.get((body.get("from_appid", ""), openid))
            results.append(
                {
                    "ori_openid": openid,
                    "new_openid": new or "",
                    "err_msg": "ok" if new else "ori_openid error",
                }
            )
        return {"errcode": Errcode.OK, "errmsg": "ok", "result_list": results}


TOKEN_ROUTES = {
    ("POST", "/wxa/business/getuserphonenumber"): "phone_number",
    ("GET", "/cgi-bin/user/info"): "user_info",
    ("POST", "/cgi-bin/user/info/batchget"): "user_info_batch",
    ("GET", "/cgi-bin/user/get"): "followers",
    ("POST", "/cgi-bin/tags/create"): "tags_create",
    ("GET", "/cgi-bin/tags/get"): "tags_get",
    ("POST", "/cgi-bin/tags/members/batchtagging"): "tagging",
    ("POST", "/cgi-bin/tags/members/batchuntagging"): "untagging",
    ("POST", "/cgi-bin/changeopenid"): "change_openid",
}
PLAIN_ROUTES = {
    ("GET", "/cgi-bin/token"): "get_token",
    ("GET", "/sns/jscode2session"): "jscode2session",
    ("GET", "/sns/oauth2/access_token"): "oauth_access_token",
    ("GET", "/sns/userinfo"): "userinfo",
}


def control(state: FakeWeChatState, path: str, payload: dict) -> dict:
    """Set-up calls for the demo (`/__fake__/...`): make codes and followers on request."""
    appid = payload.get("appid", "")
    if appid not in state.apps:
        return _error(Errcode.INVALID_APPID, "invalid appid")
    if path == "/__fake__/login_code":
        return {"code": state.login_code(appid, payload["openid"], unionid=payload.get("unionid"))}
    if path == "/__fake__/oauth_code":
        scope = payload.get("scope", "snsapi_userinfo")
        code = state.oauth_code(
            appid, payload["openid"], unionid=payload.get("unionid"), scope=scope
        )
        return {"code": code}
    if path == "/__fake__/phone_code":
        return {"code": state.phone_code(appid, payload["phone"])}
    if path == "/__fake__/follower":
        state.add_follower(appid, payload["openid"], unionid=payload.get("unionid"))
        return _error(Errcode.OK, "ok")
    return _error(Errcode.INVALID_URL, "invalid url")


def answer(state: FakeWeChatState, method: str, target: str, body: bytes) -> dict:
    """Route one request to its endpoint (shared by the HTTP handler and unit tests)."""
    url = urlsplit(target)
    query = {key: values[-1] for key, values in parse_qs(url.query).items()}
    payload = json.loads(body) if body else None
    routes = Routes(state)
    if url.path.startswith("/__fake__/") and method == "POST":
        with state.lock:
            return control(state, url.path, payload or {})
    with state.lock:
        failure = state.injected_failure(url.path)
        if failure is not None:
            return _error(failure, "injected failure")
        if (method, url.path) in PLAIN_ROUTES:
            return getattr(routes, PLAIN_ROUTES[(method, url.path)])(query, payload)
        name = TOKEN_ROUTES.get((method, url.path))
        if name is None:
            return _error(Errcode.INVALID_URL, "invalid url")
        app = state.app_for_token(query.get("access_token"))
        if app is None:
            missing = not query.get("access_token")
            code = Errcode.ACCESS_TOKEN_MISSING if missing else Errcode.INVALID_CREDENTIAL
            return _error(code, "invalid credential")
        if name == "untagging":
            return routes.tagging(app, query, payload, untag=True)
        return getattr(routes, name)(app, query, payload)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeWeChat/1"
    # Keep-alive, as WeChat's servers do: a client reusing its connections must not pay a new
    # TCP connection (and a new handler thread here) per call. Headers and body go out in two
    # writes: without TCP_NODELAY the body would wait for the client's delayed ACK (~40 ms).
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = answer(self.server.state, method, self.path, self.rfile.read(length))
        except (ValueError, KeyError, TypeError):
            body = _error(Errcode.DATA_FORMAT_ERROR, "data format error")
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._respond("GET")

    def do_POST(self):
        self._respond("POST")

    def log_message(self, format, *args):
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client killed while keeping its connection open is no error of the fake's."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeWeChatServer:
    """Run the fake on 127.0.0.1 in a daemon thread; `base_url` is what WECHAT_API_BASE takes."""

    def __init__(self, state: FakeWeChatState | None = None, port: int = 0):
        self.state = state or FakeWeChatState()
        self.httpd = _Server(("127.0.0.1", port), _Handler)
        self.httpd.state = self.state
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeWeChatServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
