"""WeChat error codes (PLATFORM.md), named once, as exceptions, and how the API answers each.

Code elsewhere (the client, the tag sync, the fake server) names a code by `Errcode` rather than
by its number. Messages never carry secrets, session keys, tokens or phone numbers: only the code
and WeChat's own short error text, which names none of them.
"""

from enum import IntEnum

from config.upstream import UpstreamError


class Errcode(IntEnum):
    """The `errcode` values the service handles or the fake server answers, by their meaning."""

    OK = 0
    BUSY = -1
    INVALID_CREDENTIAL = 40001  # access token invalid (or another's newer token replaced it)
    INVALID_OPENID = 40003
    INVALID_APPID = 40013
    INVALID_ACCESS_TOKEN = 40014
    INVALID_CODE = 40029
    INVALID_OPENID_LIST = 40032  # empty or too long a list of openids
    INVALID_URL = 40066
    INVALID_APPSECRET = 40125
    CODE_USED = 40163
    HIGH_RISK_USER = 40226
    ACCESS_TOKEN_MISSING = 41001
    ACCESS_TOKEN_EXPIRED = 42001
    RATE_LIMITED = 45011
    TOO_MANY_TAGS = 45056  # 100 tags per account
    USER_TAG_LIMIT = 45059  # 20 tags per user
    DUPLICATE_TAG_NAME = 45157
    TAG_NAME_TOO_LONG = 45158
    INVALID_TAG_ID = 45159
    DATA_FORMAT_ERROR = 47001
    API_UNAUTHORIZED = 48001  # the user granted no `snsapi_userinfo`


class WeChatError(UpstreamError):
    """A call to WeChat failed; `errcode` is WeChat's code (0 for transport failures)."""

    status = 502
    code = "wechat_error"

    def __init__(self, errcode: int, errmsg: str = "", *, endpoint: str = ""):
        self.errcode = errcode
        self.errmsg = _scrub(errmsg)
        self.endpoint = endpoint
        super().__init__(f"WeChat {endpoint} failed with errcode {errcode}: {self.errmsg}")

    def details(self) -> dict:
        return {"wechat_errcode": self.errcode}


class WeChatUnavailable(WeChatError):
    """Busy (-1), rate limited (45011) or unreachable: retry later."""

    status = 503
    code = "wechat_unavailable"


class WeChatBadCode(WeChatError):
    """The login or phone code is invalid, used or expired: the client must get a new one."""

    status = 400
    code = "wechat_invalid_code"


class WeChatUserBlocked(WeChatError):
    status = 400
    code = "wechat_user_blocked"


class WeChatScopeMissing(WeChatError):
    status = 400
    code = "wechat_scope_missing"


class WeChatCredentialsRejected(WeChatError):
    """The app secret or access token was refused: a configuration problem on our side."""

    status = 502
    code = "wechat_credentials_rejected"


class WeChatTokenExpired(WeChatCredentialsRejected):
    """The cached access token is no longer valid; the client refreshes it and retries once."""


class WeChatTagLimit(WeChatError):
    status = 409
    code = "wechat_tag_limit"


class WeChatDuplicateTagName(WeChatError):
    status = 409
    code = "wechat_duplicate_tag"


class WeChatInvalidTag(WeChatError):
    status = 409
    code = "wechat_invalid_tag"


class WeChatUserTagLimit(WeChatError):
    status = 409
    code = "wechat_user_tag_limit"


ERRORS_BY_CODE: dict[int, type[WeChatError]] = {
    Errcode.BUSY: WeChatUnavailable,
    Errcode.RATE_LIMITED: WeChatUnavailable,
    Errcode.INVALID_CODE: WeChatBadCode,
    Errcode.CODE_USED: WeChatBadCode,
    Errcode.HIGH_RISK_USER: WeChatUserBlocked,
    Errcode.API_UNAUTHORIZED: WeChatScopeMissing,
    Errcode.INVALID_APPSECRET: WeChatCredentialsRejected,
    Errcode.INVALID_APPID: WeChatCredentialsRejected,
    Errcode.INVALID_CREDENTIAL: WeChatTokenExpired,
    Errcode.INVALID_ACCESS_TOKEN: WeChatTokenExpired,
    Errcode.ACCESS_TOKEN_EXPIRED: WeChatTokenExpired,
    Errcode.TOO_MANY_TAGS: WeChatTagLimit,
    Errcode.DUPLICATE_TAG_NAME: WeChatDuplicateTagName,
    Errcode.INVALID_TAG_ID: WeChatInvalidTag,
    Errcode.USER_TAG_LIMIT: WeChatUserTagLimit,
    Errcode.INVALID_OPENID_LIST: WeChatError,
}


def error_for(errcode: int, errmsg: str, *, endpoint: str) -> WeChatError:
    return ERRORS_BY_CODE.get(errcode, WeChatError)(errcode, errmsg, endpoint=endpoint)


def _scrub(text: str) -> str:
    """Keep WeChat's message short and free of anything that looks like a credential."""
    words = [w for w in str(text).split() if len(w) < 24]  # tokens, keys and ids are long
    return " ".join(words)[:120]
