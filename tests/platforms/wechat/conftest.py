import base64
import secrets

import pytest

from identity.models import AppKind
from identity.services.app_secrets import set_app_credentials

MINI, SERVICE, H5 = "wx1111111111111111", "wx2222222222222222", "wx3333333333333333"
SECRETS = {
    MINI: "mini-secret-0123456789",
    SERVICE: "svc-secret-0123456789",
    H5: "h5-secret-0123456789",
}
# The service account's callback credentials (set by `callback_app` and `aes_app`).
CALLBACK_TOKEN = "callbackToken42"
AES_KEY = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")


@pytest.fixture
def wechat_apps(fake_wechat, miniprogram, service_account, h5, actor):
    """The three test apps, registered with the same secrets here and at the fake WeChat."""
    for app in (miniprogram, service_account, h5):
        set_app_credentials(app=app, secret=SECRETS[app.appid], actor=actor)
        app.refresh_from_db()
        fake_wechat.add_app(app.appid, SECRETS[app.appid])
    return {
        AppKind.MINIPROGRAM: miniprogram,
        AppKind.SERVICE_ACCOUNT: service_account,
        AppKind.H5: h5,
    }


@pytest.fixture
def callback_app(wechat_apps, service_account, actor):
    """The service account with a callback token: it takes signed plain pushes."""
    return set_app_credentials(app=service_account, callback_token=CALLBACK_TOKEN, actor=actor)


@pytest.fixture
def aes_app(callback_app, actor):
    """The service account in safe mode: it takes encrypted pushes only."""
    return set_app_credentials(app=callback_app, aes_key=AES_KEY, actor=actor)
