import os
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from config.api.scopes import ALL_SCOPES
from identity.models import AppKind
from platforms.wechat.test_double.server import FakeWeChatServer
from platforms.wechat.test_double.state import FakeWeChatState
from tests.factories import (
    SYSTEM,
    ApiKeyFactory,
    AppFactory,
    H5Factory,
    MiniProgramFactory,
    PersonFactory,
    SegmentFactory,
    ServiceAccountFactory,
)

# The person of the `person` fixtures: tests that name its identifiers import these.
PERSON_OPENID, PERSON_UNIONID = "oMini1", "oUnion1"
PERSON_SERVICE_OPENID, PERSON_PHONE = "oSvc1", "13812345678"
MAX_CLOCK_SKEW_SECONDS = 60
# Markers by where a test lives (registered in pyproject.toml): `make test` runs everything,
# `make test-quick` leaves out what is marked slow.
MARKERS_BY_PATH = {
    "tests/faults/": ("faults", "slow"),
    "tests/profiles/test_admin_browser.py": ("browser", "slow"),
    "tests/analytics/test_reports_browser.py": ("browser", "slow"),
    "tests/identity/test_merge_browser.py": ("browser", "slow"),
    "tests/platforms/wechat/test_tag_sync_browser.py": ("browser", "slow"),
    "tests/profiles/test_rule_tag_browser.py": ("browser", "slow"),
    "tests/identity/test_person_pages_browser.py": ("browser", "slow"),
    "tests/test_api_fuzzing.py": ("slow",),
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for prefix, names in MARKERS_BY_PATH.items():
            if item.nodeid.startswith(prefix):
                for name in names:
                    item.add_marker(name)


@pytest.fixture(scope="session", autouse=True)
def _database_clock_agrees(django_db_setup, django_db_blocker):
    """Stop at once when PostgreSQL's clock is not this process's.

    Windows ("seen within 7 days") are computed by PostgreSQL's now() against times the tests
    build from Python's: an embedded server started under another clock (the suite's run with
    the clock moved ahead, libfaketime) would fail tests for no reason of theirs.
    """
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        skew = abs((cursor.fetchone()[0] - timezone.now()).total_seconds())
    if skew > MAX_CLOCK_SKEW_SECONDS:
        pytest.exit(
            f"PostgreSQL's clock is {skew:.0f}s away from this process's; restart the database "
            "under the same clock (for the embedded server: make stop-db).",
            returncode=3,
        )


@pytest.fixture(autouse=True)
def _jobs_run_inline(settings):
    """Enqueued jobs run at once, in the enqueuing transaction (jobs/queue.py `enqueue`).

    Tests of the API read an ingest's stats and rule tags on the next line, as a client reads
    them once the worker caught up. The tests of the worker and of the pipeline's crash safety
    set `settings.JOBS_RUN_INLINE = False` and run a real worker.
    """
    settings.JOBS_RUN_INLINE = True


@pytest.fixture(autouse=True)
def _empty_job_queue_after_transactional_tests(request, django_db_blocker):
    """Procrastinate's tables are unmanaged models: the flush after a transactional test leaves
    them alone, and a job or a killed worker's heartbeat of one test would meet the next."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM procrastinate_jobs")
            cursor.execute("DELETE FROM procrastinate_workers")


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """In-process caches of apps and keys must not carry rows from one test into the next, nor
    the person cache persons (a new epoch outdates every entry)."""
    from identity import person_cache, selectors

    selectors._apps.clear()
    selectors.forget_cached_keys()
    person_cache.forget_all()
    yield
    selectors._apps.clear()
    selectors.forget_cached_keys()


@pytest.fixture
def browser_settings(monkeypatch):
    """For the browser tests (tests/browser.py): Playwright's sync API keeps an event loop in
    the test's thread; the test does no database work while the browser waits, but Django's
    guard cannot know that."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """The folder of the browser tests' screenshots: REPORT_SCREENSHOTS (`make screenshots`
    sets docs/screenshots), else the test's temporary directory."""
    folder = Path(os.environ.get("REPORT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def actor():
    return SYSTEM


@pytest.fixture
def make_app(db):
    def make(appid: str, kind: str = AppKind.MINIPROGRAM, name: str | None = None):
        return AppFactory(appid=appid, kind=kind, name=name or appid)

    return make


@pytest.fixture
def miniprogram(db):
    return MiniProgramFactory(appid="wx1111111111111111", name="Shop mini-program")


@pytest.fixture
def service_account(db):
    return ServiceAccountFactory(appid="wx2222222222222222", name="Service account")


@pytest.fixture
def h5(db):
    return H5Factory(appid="wx3333333333333333", name="Campaign pages")


@pytest.fixture
def make_client(db):
    """Return an API client authenticated with a new key of the given scopes and apps."""

    def make(scopes=ALL_SCOPES, apps=(), name="test key"):
        _, raw = ApiKeyFactory.with_plaintext(scopes=scopes, apps=apps, name=name)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture
def api(make_client):
    """A client whose key holds every scope and every app."""
    return make_client()


@pytest.fixture
def person(miniprogram):
    """A person of the mini-program (PERSON_OPENID) with a unionid (PERSON_UNIONID)."""
    return PersonFactory(openids={miniprogram: PERSON_OPENID}, unionid=PERSON_UNIONID)


@pytest.fixture
def person_with_phone(miniprogram, service_account):
    """A person of the mini-program and the service account (PERSON_SERVICE_OPENID), one
    unionid across both, with a phone (PERSON_PHONE)."""
    return PersonFactory(
        openids={miniprogram: PERSON_OPENID, service_account: PERSON_SERVICE_OPENID},
        unionid=PERSON_UNIONID,
        phone=PERSON_PHONE,
    )


@pytest.fixture
def vip_segment(db):
    """The holders of the preset VIP tag."""
    return SegmentFactory(key="vips", name="VIP members", condition={"tag": "vip"})


@pytest.fixture(scope="session")
def fake_wechat_server():
    server = FakeWeChatServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_wechat(fake_wechat_server, settings):
    """A fake WeChat server on loopback that the service's client talks to over real HTTP,
    with fresh state for each test."""
    state = FakeWeChatState()
    fake_wechat_server.httpd.state = state
    settings.WECHAT_API_BASE = fake_wechat_server.base_url
    cache.clear()
    yield state
    cache.clear()
