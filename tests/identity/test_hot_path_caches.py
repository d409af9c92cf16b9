"""The in-process caches of the lookup hot path, and what they must never hide."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from identity.models import ApiKey, App
from identity.services.api_keys import revoke_api_key
from identity.services.resolve import resolve_identity

pytestmark = pytest.mark.django_db


def test_a_warm_lookup_is_one_query(settings, api, miniprogram, actor):
    settings.API_KEY_CACHE_SECONDS = 60
    settings.APP_CACHE_SECONDS = 60
    resolve_identity(app=miniprogram, openid="oMini1", actor=actor)
    path = f"/api/v1/persons/lookup?appid={miniprogram.appid}&openid=oMini1"
    api.get(path)
    with CaptureQueriesContext(connection) as queries:
        assert api.get(path).status_code == 200
    assert len(queries) == 1


def test_a_revoked_key_stops_at_once_in_this_process(
    settings, make_client, actor, django_capture_on_commit_callbacks
):
    settings.API_KEY_CACHE_SECONDS = 60
    client = make_client(name="soon revoked")
    assert client.get("/api/v1/tags").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        revoke_api_key(key=ApiKey.objects.get(name="soon revoked"), actor=actor)
    assert client.get("/api/v1/tags").status_code == 401


def test_cached_apps_never_serve_a_stale_secret(settings, miniprogram, actor):
    from identity.selectors import get_app
    from identity.services.app_secrets import set_app_credentials
    from platforms.wechat.transport import app_secret as _secret

    settings.APP_CACHE_SECONDS = 60
    cached = get_app(miniprogram.appid)
    set_app_credentials(app=miniprogram, secret="new-secret-value", actor=actor)
    assert get_app(miniprogram.appid) is cached
    assert _secret(cached) == "new-secret-value"
    assert App.objects.get(pk=miniprogram.pk).get_secret() == "new-secret-value"
