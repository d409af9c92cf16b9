"""Every endpoint runs a known number of queries (STYLE.md, "Reads"), asserted exactly.

The endpoints come from the URL conf: drf-spectacular's endpoint enumerator for the API, the URL
conf itself for the plain views (health check, WeChat callback). Each endpoint and method makes
one representative successful request against the same fixed data (`fixed_world`) under
`django_assert_num_queries(N)`. A batch endpoint is called with 2 and with 50 items and must run
the same N: a query per item shows as a failure of one of the two. An endpoint without an entry
in CASES fails `test_every_endpoint_has_a_count`.

What N counts:
- the request runs inside the test's transaction, so each atomic block of the request shows as
  SAVEPOINT and RELEASE SAVEPOINT, and counts;
- the process caches of apps and keys are off and emptied before each request (identity.selectors
  `_apps`, `forget_cached_keys`), and the key is new: every API request includes the key's
  lookup and its first last-used write (two queries), whatever ran before.

When a change legitimately alters a number: run `pytest tests/test_query_counts.py -v`; the
failing case prints "Expected to perform N queries but M were done" and, with -v, the queries.
Check that each new query is wanted (one per request, not one per item or row), then set the
case's count to M in CASES in the same change and say why in its message. A batch case whose
sizes disagree is not fixed by a number: it is a query per item, which the change must remove.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from drf_spectacular.generators import EndpointEnumerator
from rest_framework.test import APIClient

from analytics.periods import WEEK, local_date, period_start
from identity import selectors
from identity.models import App, Person
from identity.services.app_secrets import set_app_credentials
from platforms.wechat.callback_crypto import signature
from platforms.wechat.test_double.state import FakeWeChatState
from profiles.models import Segment
from profiles.services.ingest import ingest_events
from profiles.services.tags import assign_tags
from tests.clock import iso_ago
from tests.conftest import PERSON_OPENID, PERSON_SERVICE_OPENID, PERSON_UNIONID
from tests.factories import PersonFactory, TagFactory

pytestmark = pytest.mark.django_db

BATCH_SIZES = (2, 50)
SECRET, TOKEN, NEW_PHONE = "count-secret-0123456789", "countToken42", "13987654321"
ADMIN_PREFIX = "admin/"


# -- the endpoints, from the URL conf ------------------------------------------------------


def api_endpoints() -> set[tuple[str, str]]:
    """(path, method) of every DRF endpoint, as the OpenAPI schema names them."""
    return {(path, method) for path, _, method, _ in EndpointEnumerator().get_api_endpoints()}


def _routes(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route)
        else:
            yield route, entry.callback


def plain_routes() -> set[str]:
    """Paths of the views outside DRF and the admin, with `{name}` for a path parameter."""
    return {
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        for route, callback in _routes(get_resolver())
        if not route.startswith(ADMIN_PREFIX) and not hasattr(callback, "cls")
    }


# -- the fixed data ----------------------------------------------------------------------------


@dataclass
class World:
    mini: App
    service: App
    person: Person
    crowd: list[Person]  # the items of batch requests, one openid each in the mini-program
    tags: list[str]  # manual tags the person does not hold
    segment: Segment
    wechat: FakeWeChatState


@pytest.fixture
def fixed_world(fake_wechat, person_with_phone, miniprogram, service_account, vip_segment, actor):
    """The person of two apps (one unionid, a phone, the VIP tag, three events), fifty more
    persons and fifty manual tags; both apps known to the fake WeChat, the service account with
    a callback token."""
    for app in (miniprogram, service_account):
        set_app_credentials(app=app, secret=SECRET, actor=actor)
        fake_wechat.add_app(app.appid, SECRET)
    set_app_credentials(app=service_account, callback_token=TOKEN, actor=actor)
    size = max(BATCH_SIZES)
    crowd = [PersonFactory(openids={miniprogram: f"oCrowd{n}"}) for n in range(size)]
    tags = [TagFactory(key=f"count-{n}").key for n in range(size)]
    assign_tags(person=person_with_phone, keys=["vip"], actor=actor)
    ingest_events(
        events=[
            {
                "event_id": f"count-{kind}",
                "appid": miniprogram.appid,
                "openid": PERSON_OPENID,
                "type": kind,
                "occurred_at": iso_ago(days=days),
                **({"amount": "12.50"} if kind == "pay" else {}),
            }
            for kind, days in (("view", 3), ("pay", 2), ("login", 1))
        ],
        actor=actor,
    )
    return World(
        mini=miniprogram,
        service=service_account,
        person=person_with_phone,
        crowd=crowd,
        tags=tags,
        segment=vip_segment,
        wechat=fake_wechat,
    )


# -- the cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A request: its path (with the query string of a plain view) and its body."""

    path: str
    data: dict | str | None = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class Case:
    queries: int
    call: Callable[[World, int], Call]  # the world and the batch size (0 for no batch)
    # A batch endpoint: how many of the request's items its answer served (all of them, or the
    # same N would prove nothing); None for an endpoint that takes no batch.
    served: Callable[[dict], int] | None = None
    # A plain view whose success is a redirect (the admin's language switch), not a 2xx.
    redirects: bool = False


def _crowd_event(world: World, n: int) -> dict:
    return {
        "event_id": f"count-batch-{n}",
        "appid": world.mini.appid,
        "openid": f"oCrowd{n}",
        "type": "view",
        "occurred_at": iso_ago(hours=1),
    }


def _callback(world: World, method: str) -> Call:
    timestamp, nonce = str(int(timezone.now().timestamp())), "1514711492"
    query = f"signature={signature(TOKEN, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
    path = f"/wechat/callback/{world.service.appid}?{query}"
    if method == "GET":
        return Call(f"{path}&echostr=hello")
    xml = (
        "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
        f"<FromUserName><![CDATA[{PERSON_SERVICE_OPENID}]]></FromUserName>"
        f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[]]></EventKey></xml>"
    )
    return Call(path, xml, "text/xml")


PERSON = "/api/v1/persons/{person_id}"
CASES: dict[tuple[str, str], Case] = {
    ("/healthz", "GET"): Case(1, lambda w, n: Call("/healthz")),
    ("/wechat/callback/{appid}", "GET"): Case(1, lambda w, n: _callback(w, "GET")),
    # The push's event leaves its follow state and stats to the worker (profiles pipeline).
    ("/wechat/callback/{appid}", "POST"): Case(20, lambda w, n: _callback(w, "POST")),
    # The admin's language switch: a cookie and a redirect back, no session and no query.
    ("/i18n/setlang/", "POST"): Case(
        0,
        lambda w, n: Call(
            "/i18n/setlang/",
            "language=zh-hans&next=/admin/",
            "application/x-www-form-urlencoded",
        ),
        redirects=True,
    ),
    # The key's lookup and last-used write, then the queue's state (the /healthz statement).
    ("/metrics", "GET"): Case(3, lambda w, n: Call("/metrics")),
    ("/api/v1/schema/", "GET"): Case(0, lambda w, n: Call("/api/v1/schema/")),
    ("/api/v1/docs/", "GET"): Case(0, lambda w, n: Call("/api/v1/docs/")),
    # A returning user: one read, plus the sighting (identity.seen.record_sighting: the
    # upsert, committed without waiting for the WAL flush).
    ("/api/v1/identities/resolve", "POST"): Case(
        5,
        lambda w, n: Call(
            "/api/v1/identities/resolve",
            {"appid": w.mini.appid, "openid": PERSON_OPENID, "unionid": PERSON_UNIONID},
        ),
    ),
    ("/api/v1/persons/lookup", "GET"): Case(
        4,
        lambda w, n: Call(
            f"/api/v1/persons/lookup?appid={w.mini.appid}&openid={PERSON_OPENID}", None
        ),
    ),
    ("/api/v1/persons/lookup", "POST"): Case(
        4,
        lambda w, n: Call(
            "/api/v1/persons/lookup",
            {"appid": w.mini.appid, "openids": [f"oCrowd{i}" for i in range(n)]},
        ),
        served=lambda body: sum(1 for result in body["results"] if result["person"]),
    ),
    (PERSON, "GET"): Case(3, lambda w, n: Call(f"/api/v1/persons/{w.person.public_id}")),
    # 31: the erasure folds the daily activity rows of the erased openids (one statement); the
    # stats rebuild keeps the seen times (one statement); the person cache reads the keys the
    # erasure takes away (one statement; the keys after the commit are read after it).
    (PERSON, "DELETE"): Case(31, lambda w, n: Call(f"/api/v1/persons/{w.person.public_id}")),
    # The person cache reads the keys before the number changes (the old number's among them).
    (f"{PERSON}/phone", "PUT"): Case(
        11, lambda w, n: Call(f"/api/v1/persons/{w.person.public_id}/phone", {"phone": NEW_PHONE})
    ),
    (f"{PERSON}/events", "GET"): Case(
        4, lambda w, n: Call(f"/api/v1/persons/{w.person.public_id}/events")
    ),
    (f"{PERSON}/tags", "POST"): Case(
        10,
        lambda w, n: Call(f"/api/v1/persons/{w.person.public_id}/tags", {"tags": w.tags[:n]}),
        served=lambda body: sum(1 for tag in body["tags"] if tag["key"].startswith("count-")),
    ),
    (f"{PERSON}/tags/{{key}}", "DELETE"): Case(
        10, lambda w, n: Call(f"/api/v1/persons/{w.person.public_id}/tags/vip")
    ),
    # 18: validate, attribute, the partition check, one insert of keys and events, the pending
    # row and the coalesced job; stats, follow state and rule tags run in the worker.
    ("/api/v1/events", "POST"): Case(
        18,
        lambda w, n: Call("/api/v1/events", {"events": [_crowd_event(w, i) for i in range(n)]}),
        served=lambda body: body["accepted"],
    ),
    ("/api/v1/tags", "GET"): Case(3, lambda w, n: Call("/api/v1/tags")),
    ("/api/v1/segments", "GET"): Case(8, lambda w, n: Call("/api/v1/segments")),
    ("/api/v1/segments/{key}", "GET"): Case(
        8, lambda w, n: Call(f"/api/v1/segments/{w.segment.key}")
    ),
    ("/api/v1/segments/{key}/members", "GET"): Case(
        6, lambda w, n: Call(f"/api/v1/segments/{w.segment.key}/members?appid={w.mini.appid}")
    ),
    # +1 in each login: the resolve marks the person seen (profiles.services.seen).
    ("/api/v1/wechat/miniprogram/login", "POST"): Case(
        19,
        lambda w, n: Call(
            "/api/v1/wechat/miniprogram/login",
            {
                "appid": w.mini.appid,
                "code": w.wechat.login_code(w.mini.appid, PERSON_OPENID, unionid=PERSON_UNIONID),
            },
        ),
    ),
    ("/api/v1/wechat/oauth/login", "POST"): Case(
        10,
        lambda w, n: Call(
            "/api/v1/wechat/oauth/login",
            {
                "appid": w.service.appid,
                "code": w.wechat.oauth_code(
                    w.service.appid,
                    PERSON_SERVICE_OPENID,
                    unionid=PERSON_UNIONID,
                    scope="snsapi_userinfo",
                ),
            },
        ),
    ),
    ("/api/v1/wechat/miniprogram/phone", "POST"): Case(
        14,  # the person cache's keys before the number changes, as PUT phone
        lambda w, n: Call(
            "/api/v1/wechat/miniprogram/phone",
            {
                "appid": w.mini.appid,
                "code": w.wechat.phone_code(w.mini.appid, NEW_PHONE),
                "person_id": w.person.public_id,
            },
        ),
    ),
}


def _report(w: World, report: str, **extra) -> Call:
    """A report over the last two weeks of the fixed world, as a GET or a save-as-tag body."""
    today = local_date(timezone.now())
    query = {"from": str(today - timedelta(days=13)), "to": str(today), **extra}
    if "tag" in extra:
        return Call(f"/api/v1/analytics/{report}/save-as-tag", query)
    return Call(f"/api/v1/analytics/{report}?{urlencode(query)}")


def _week() -> str:
    return str(period_start(local_date(timezone.now()) - timedelta(days=13), WEEK))


# A report: the key (2), the parameters' reads (an event type or app each), the statement time
# limit (a savepoint, set_config and its reset) and the report's one statement.
CASES.update(
    {
        ("/api/v1/analytics/retention", "GET"): Case(8, lambda w, n: _report(w, "retention")),
        ("/api/v1/analytics/funnel", "GET"): Case(
            10, lambda w, n: _report(w, "funnel", steps="view,pay,login")
        ),
        ("/api/v1/analytics/lifecycle", "GET"): Case(7, lambda w, n: _report(w, "lifecycle")),
        ("/api/v1/analytics/active", "GET"): Case(7, lambda w, n: _report(w, "active")),
        ("/api/v1/analytics/acquisition", "GET"): Case(7, lambda w, n: _report(w, "acquisition")),
        ("/api/v1/analytics/settle", "GET"): Case(
            9,
            lambda w, n: _report(
                w, "settle", miniprogram=w.mini.appid, service_account=w.service.appid
            ),
        ),
        # A save-as-tag: the key and the parameters' reads, the time limit, the tag read and
        # created (in a savepoint) with its audit entry, the cell's persons read and the live
        # ones locked, one insert of the assignments and one audit entry.
        ("/api/v1/analytics/retention/save-as-tag", "POST"): Case(
            18, lambda w, n: _report(w, "retention", cohort=_week(), offset=0, tag="cell")
        ),
        ("/api/v1/analytics/lifecycle/save-as-tag", "POST"): Case(
            17, lambda w, n: _report(w, "lifecycle", period=_week(), state="new", tag="cell")
        ),
        ("/api/v1/analytics/funnel/save-as-tag", "POST"): Case(
            19, lambda w, n: _report(w, "funnel", steps="view,pay", step=2, tag="cell")
        ),
    }
)
# DRF views outside /api/: called with the key, counted among the API's endpoints.
DRF_OUTSIDE_API = {"/metrics"}
PLAIN = {path for path, _ in CASES if not path.startswith("/api/") and path not in DRF_OUTSIDE_API}
PUBLIC = {"/api/v1/schema/", "/api/v1/docs/"}  # no key: the schema and its docs are public


def _params(endpoint: tuple[str, str], case: Case):
    path, method = endpoint
    if case.served is None:
        return [pytest.param(endpoint, 0, id=f"{method} {path}")]
    return [pytest.param(endpoint, size, id=f"{method} {path} x{size}") for size in BATCH_SIZES]


PARAMS = [param for endpoint, case in CASES.items() for param in _params(endpoint, case)]


def test_every_endpoint_has_a_count():
    listed = {endpoint for endpoint in CASES if endpoint[0] not in PLAIN}
    missing, stale = api_endpoints() - listed, listed - api_endpoints()
    assert not missing, f"add a case to CASES in tests/test_query_counts.py: {sorted(missing)}"
    assert not stale, f"CASES names endpoints the API no longer has: {sorted(stale)}"
    assert plain_routes() == PLAIN, "add the plain view to CASES in tests/test_query_counts.py"


def send(client: APIClient, method: str, call: Call):
    handler = getattr(client, method.lower())
    if method == "GET":
        return handler(call.path)
    if call.content_type == "application/json":
        return handler(call.path, call.data, format="json")
    return handler(call.path, call.data, content_type=call.content_type)


@pytest.mark.parametrize(("endpoint", "size"), PARAMS)
def test_queries_per_request(fixed_world, api, settings, django_assert_num_queries, endpoint, size):
    # Given the fixed world, a new key, no process cache of apps or keys, and the jobs a
    # request enqueues left to the worker (their queries are not the request's)
    settings.API_KEY_CACHE_SECONDS = settings.APP_CACHE_SECONDS = 0
    settings.JOBS_RUN_INLINE = False
    path, method = endpoint
    case = CASES[endpoint]
    call = case.call(fixed_world, size)
    client = api if path not in PLAIN and path not in PUBLIC else APIClient()
    selectors._apps.clear()
    selectors.forget_cached_keys()

    # When the request runs, then it runs exactly the case's queries
    with django_assert_num_queries(case.queries):
        response = send(client, method, call)

    if case.redirects:
        assert response.status_code == 302, response.content[:500]
    else:
        assert 200 <= response.status_code < 300, response.content[:500]
    if case.served is not None:
        assert case.served(response.json()) == size
