"""WeChat error codes (PLATFORM.md) as exceptions, and how the API answers each.

Messages never carry secrets, session keys, tokens or phone numbers: only the code and WeChat's
own short error text, which names none of them.
"""

from config.upstream import UpstreamError


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
    -1: WeChatUnavailable,
    45011: WeChatUnavailable,
    40029: WeChatBadCode,
    40163: WeChatBadCode,
    40226: WeChatUserBlocked,
    48001: WeChatScopeMissing,
    40125: WeChatCredentialsRejected,
    40013: WeChatCredentialsRejected,
    40001: WeChatTokenExpired,
    40014: WeChatTokenExpired,
    42001: WeChatTokenExpired,
    45056: WeChatTagLimit,
    45157: WeChatDuplicateTagName,
    45159: WeChatInvalidTag,
    45059: WeChatUserTagLimit,
    40032: WeChatError,
}


def error_for(errcode: int, errmsg: str, *, endpoint: str) -> WeChatError:
    return ERRORS_BY_CODE.get(errcode, WeChatError)(errcode, errmsg, endpoint=endpoint)


def _scrub(text: str) -> str:
    """Keep WeChat's message short and free of anything that looks like a credential."""
    words = [w for w in str(text).split() if len(w) < 24]  # tokens, keys and ids are long
    return " ".join(words)[:120]
