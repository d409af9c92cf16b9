"""How every WeChat call travels: plain HTTP with httpx, a base URL from settings, timeouts,
retries on -1 (busy) and transport errors, error codes mapped to exceptions (errors.py), and
access tokens from the shared cache (tokens.py), refreshed once when WeChat says they expired.
"""

import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx
from django.conf import settings

from config.metrics import WECHAT_CALL_DURATION, WECHAT_CALLS
from identity.models import App
from platforms.wechat import tokens
from platforms.wechat.errors import (
    Errcode,
    WeChatError,
    WeChatTokenExpired,
    WeChatUnavailable,
    error_for,
)

logger = logging.getLogger("platforms.wechat.client")  # the name operators' log filters know

RETRIES = 2
BACKOFF_SECONDS = 0.2


class WeChatTransport:
    """The transport and credentials under the typed endpoints of `client.WeChatClient`."""

    def __init__(
        self,
        base_url: str | None = None,
        timeout: float | None = None,
        *,
        known_secrets: Mapping[int, str] | None = None,
    ):
        """`known_secrets` (app pk -> secret) are read beforehand by a caller whose thread must
        not open a database connection of its own (the follower import's fetch thread)."""
        self.base_url = (base_url or settings.WECHAT_API_BASE).rstrip("/")
        self.known_secrets = dict(known_secrets or {})
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout or settings.WECHAT_TIMEOUT_SECONDS,
            headers={"User-Agent": "unified-identity"},
        )

    def close(self) -> None:
        """Close the pooled connections (a client made for one job; not the process-wide one)."""
        self.http.close()

    # -- transport -------------------------------------------------------------------------

    def call(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> dict:
        """Call an endpoint and return its JSON body, raising WeChatError on an error code."""
        for attempt in range(RETRIES + 1):
            started = time.perf_counter()
            try:
                response = self.http.request(method, path, params=params, json=json)
                body = response.json()
            # Not "busy" (errcode 0 is no WeChat answer): nothing or something else answered,
            # which is what a wrong WECHAT_API_BASE looks like; the log line names the base.
            except httpx.HTTPError as exc:
                reason = f"unreachable ({type(exc).__name__})"
                error: WeChatError = WeChatUnavailable(0, reason, endpoint=path)
            except ValueError:
                reason = f"answered no JSON (HTTP {response.status_code})"
                error = WeChatUnavailable(0, reason, endpoint=path)
            else:
                errcode = int(body.get("errcode") or 0) if isinstance(body, dict) else 0
                if errcode == 0 and response.status_code == 200 and isinstance(body, dict):
                    _observe(path, "ok", started)
                    return body
                error = error_for(
                    errcode, body.get("errmsg", "") if isinstance(body, dict) else "", endpoint=path
                )
            _observe(path, str(error.errcode) if error.errcode else "transport_error", started)
            if not isinstance(error, WeChatUnavailable) or error.errcode == Errcode.RATE_LIMITED:
                raise error
            if attempt < RETRIES:
                if error.errcode:
                    logger.info("WeChat %s busy (errcode %s), retrying", path, error.errcode)
                else:
                    logger.info("WeChat %s at %s %s, retrying", path, self.base_url, error.errmsg)
                time.sleep(BACKOFF_SECONDS * (attempt + 1))
        raise error

    def call_with_token(
        self, app: App, method: str, path: str, *, params: dict | None = None, json: Any = None
    ) -> dict:
        """Call with the app's access token; an expired token is refreshed once and retried."""
        for attempt in range(2):
            token = tokens.access_token(app, self, force_refresh=attempt > 0)
            try:
                return self.call(
                    method, path, params={**(params or {}), "access_token": token}, json=json
                )
            except WeChatTokenExpired:
                if attempt:
                    raise
                logger.info("WeChat access token of app %s expired; refreshing", app.appid)
        raise AssertionError("unreachable")

    # -- credentials -----------------------------------------------------------------------

    def fetch_access_token(self, app: App) -> tuple[str, int]:
        known = app.pk in self.known_secrets
        body = self.call(
            "GET",
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": app.appid,
                "secret": self.known_secrets[app.pk] if known else app_secret(app),
            },
        )
        return body["access_token"], int(body.get("expires_in", 7200))


def _observe(path: str, outcome: str, started: float) -> None:
    """Count one HTTP call by its path (params hold the identifiers, never the path)."""
    WECHAT_CALL_DURATION.labels(path).observe(time.perf_counter() - started)
    WECHAT_CALLS.labels(path, outcome).inc()


def app_secret(app: App) -> str:
    """The app's secret, read afresh: a cached App may predate a secret change."""
    token = App.objects.filter(pk=app.pk).values_list("secret_encrypted", flat=True).first()
    return App(secret_encrypted=token or "").get_secret()
