"""How a WeChat call fails when nothing answers at WECHAT_API_BASE: unreachable, not busy."""

import logging
import socket

import pytest

from platforms.wechat import transport
from platforms.wechat.errors import WeChatUnavailable
from platforms.wechat.transport import WeChatTransport


def test_nothing_listening_at_the_base_url_is_unreachable_not_busy(caplog, monkeypatch):
    # Given a base URL where nothing listens (a port just closed), retried without waiting
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setattr(transport, "BACKOFF_SECONDS", 0)
    client = WeChatTransport(base_url=base, timeout=2)

    # When a call is made
    with (
        caplog.at_level(logging.INFO, logger="platforms.wechat.client"),
        pytest.raises(WeChatUnavailable) as raised,
    ):
        client.call("GET", "/cgi-bin/token")
    client.close()

    # Then the error and the retries' log lines say unreachable, and the log names the base
    assert "unreachable (ConnectError)" in str(raised.value)
    assert raised.value.errcode == 0
    assert f"/cgi-bin/token at {base} unreachable (ConnectError), retrying" in caplog.text
    assert "busy" not in caplog.text
