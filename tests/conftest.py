import pytest
from rest_framework.test import APIClient

from identity.models import Actor, AppKind
from identity.scopes import ALL_SCOPES
from identity.services.api_keys import create_api_key
from identity.services.apps import provision_app

SYSTEM = Actor.system("tests")


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """In-process caches of apps and keys must not carry rows from one test into the next."""
    from identity import selectors
    from identity.api import auth

    selectors._apps.clear()
    auth._keys.clear()
    yield
    selectors._apps.clear()
    auth._keys.clear()


@pytest.fixture
def actor():
    return SYSTEM


@pytest.fixture
def make_app(db):
    def make(appid: str, kind: str = AppKind.MINIPROGRAM, name: str | None = None):
        app, _ = provision_app(appid=appid, kind=kind, name=name or appid, actor=SYSTEM)
        return app

    return make


@pytest.fixture
def miniprogram(make_app):
    return make_app("wx1111111111111111", AppKind.MINIPROGRAM, "Shop mini-program")


@pytest.fixture
def service_account(make_app):
    return make_app("wx2222222222222222", AppKind.SERVICE_ACCOUNT, "Service account")


@pytest.fixture
def h5(make_app):
    return make_app("wx3333333333333333", AppKind.H5, "Campaign pages")


@pytest.fixture
def make_client(db):
    """Return an API client authenticated with a new key of the given scopes and apps."""

    def make(scopes=ALL_SCOPES, apps=(), name="test key"):
        _, raw = create_api_key(name=name, scopes=scopes, appids=apps, actor=SYSTEM)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture
def api(make_client):
    """A client whose key holds every scope and every app."""
    return make_client()
