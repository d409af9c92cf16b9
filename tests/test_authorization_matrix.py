"""Authorization matrix generated from the URL conf: every API endpoint and method, five callers.

Every DRF view under `api/v1/` (the public schema and docs excepted) must declare a scope for
each method it implements. Each endpoint-method pair is then called against real data with no
key, a revoked key, a key holding every scope but the one it needs, a key with that scope but
limited to another app, and the right key: 401 / 401 / 403 / 403-or-404 / 2xx. A new endpoint
fails the suite until it has a scope, a sample for each path parameter and a sample request.

Size when written: 26 endpoint-method pairs x 5 callers = 130 cases (`test_matrix_size`).
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.views import APIView

from analytics.periods import WEEK, local_date, period_start
from config.api.auth import ApiKeyAuthentication
from config.api.permissions import HasScopes
from config.api.scopes import ALL_SCOPES, PHONE_READ, TAGS_WRITE
from identity.models import ApiKey, App, AppKind, AuditEntry, Person
from identity.services.app_secrets import set_app_credentials
from platforms.wechat.test_double.state import FakeWeChatState
from profiles.models import Segment, Tag
from profiles.services.tags import assign_tags
from tests.clock import iso_ago
from tests.factories import PersonFactory, SegmentFactory, TagFactory

API_PREFIX = "api/v1/"
PUBLIC = {"schema", "docs"}  # the OpenAPI schema and its docs are public by design
HANDLERS = ("get", "post", "put", "patch", "delete")
MATRIX_PAIRS = 26
CASES = ("no_key", "revoked_key", "wrong_scope", "other_app", "right_key")
# Endpoints that are not about one app's persons: a key limited to another app may read them,
# but sees nothing of the protected app's persons (no ids, openids, unionids, member counts).
NOT_ABOUT_ONE_APPS_PERSONS = {"tags", "segments", "segment-detail"}
# Batch endpoints that report a forbidden app per item (DESIGN.md: partial success).
PER_ITEM_ERRORS = {"events-ingest"}

OPENID_MINI, OPENID_SERVICE, UNIONID = "oMatrixMini", "oMatrixSvc", "oMatrixUnion"
PHONE = "13812345678"


# -- the endpoints, from the URL conf ------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str | None
    route: str
    view: type[APIView]

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.route)

    @property
    def methods(self) -> list[str]:
        return [method for method in HANDLERS if hasattr(self.view, method)]

    @property
    def is_public(self) -> bool:
        return not any(issubclass(p, HasScopes) for p in self.view.permission_classes)

    def __str__(self) -> str:
        return f"/{self.route} ({self.name or 'unnamed'}, {self.view.__name__})"


def _walk(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, object]]:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry, route)
        else:
            yield route, entry


def api_endpoints() -> list[Endpoint]:
    """Every URL pattern under api/v1/ whose view is a DRF APIView."""
    found = []
    for route, pattern in _walk(get_resolver()):
        view = getattr(pattern.callback, "view_class", None)
        if route.startswith(API_PREFIX) and isinstance(view, type) and issubclass(view, APIView):
            found.append(Endpoint(pattern.name, route, view))
    return found


ENDPOINTS = api_endpoints()
PROTECTED = [endpoint for endpoint in ENDPOINTS if not endpoint.is_public]
PAIRS = [(endpoint, method) for endpoint in PROTECTED for method in endpoint.methods]


def test_only_the_schema_and_docs_are_public():
    assert {endpoint.name for endpoint in ENDPOINTS if endpoint.is_public} == PUBLIC


@pytest.mark.parametrize("endpoint", PROTECTED, ids=str)
def test_every_method_declares_a_known_scope(endpoint):
    assert endpoint.name, f"{endpoint}: name the URL pattern; the matrix keys samples by name."
    assert ApiKeyAuthentication in endpoint.view.authentication_classes, endpoint
    assert endpoint.methods, f"{endpoint}: the view implements none of {HANDLERS}."
    declared = endpoint.view.required_scopes
    for method in endpoint.methods:
        scope = declared.get(method.upper())
        assert scope is not None, (
            f"{endpoint}: {method.upper()} declares no scope; add it to `required_scopes`."
        )
        assert scope in ALL_SCOPES, f"{endpoint}: {method.upper()} names unknown scope {scope!r}."
    stale = set(declared) - {method.upper() for method in endpoint.methods}
    assert not stale, f"{endpoint}: `required_scopes` names methods it lacks: {sorted(stale)}."


def test_matrix_size():
    cases = len(PAIRS) * len(CASES)
    assert len(PAIRS) == MATRIX_PAIRS, (
        f"The matrix now covers {len(PAIRS)} endpoint-method pairs x {len(CASES)} callers = "
        f"{cases} cases; update MATRIX_PAIRS and the module docstring."
    )


# -- real data: two protected apps of one person, another app, a tag and a segment ----------


@dataclass
class World:
    mini: App
    service: App
    other: App
    person: Person
    tag: Tag
    segment: Segment
    wechat: FakeWeChatState

    @property
    def protected_values(self) -> list[str]:
        return [self.person.public_id, OPENID_MINI, OPENID_SERVICE, UNIONID]


@pytest.fixture
def world(fake_wechat, miniprogram, service_account, make_app, actor):
    """One person in the mini-program and the service account, tagged and in a segment; the
    WeChat flows of both apps answered by a fake WeChat (as in tests/platforms/wechat/)."""
    state = fake_wechat
    for app in (miniprogram, service_account):
        secret = f"matrix-secret-{app.appid}"
        set_app_credentials(app=app, secret=secret, actor=actor)
        state.add_app(app.appid, secret)
    other = make_app("wxMatrixOther00000", AppKind.H5, "Another app")
    person = PersonFactory(
        openids={miniprogram: OPENID_MINI, service_account: OPENID_SERVICE}, unionid=UNIONID
    )
    tag = TagFactory(key="matrix-vip", name="Matrix VIP")
    assign_tags(person=person, keys=[tag.key], actor=actor)
    segment = SegmentFactory(key="matrix-vips", name="Matrix VIPs", condition={"tag": tag.key})
    return World(
        mini=miniprogram,
        service=service_account,
        other=other,
        person=person,
        tag=tag,
        segment=segment,
        wechat=state,
    )


# -- samples: path parameters by converter name, requests by URL name and method ------------

PATH_PARAMETERS: dict[str, Callable[[World, Endpoint], str]] = {
    "person_id": lambda w, endpoint: w.person.public_id,
    # Tags and segments both name themselves by `key`.
    "key": lambda w, endpoint: (
        w.segment.key if endpoint.route.startswith(f"{API_PREFIX}segments/") else w.tag.key
    ),
}


def _report(w: World, **extra) -> dict:
    """A report's parameters naming the protected mini-program: the last two weeks."""
    today = local_date(timezone.now())
    return {"from": str(today - timedelta(days=13)), "to": str(today), "app": w.mini.appid, **extra}


def _cohort() -> str:
    return str(period_start(local_date(timezone.now()) - timedelta(days=13), WEEK))


# The JSON body (query parameters for GET) of a request that the right key gets a 2xx for;
# None for a request without one.
Sample = Callable[[World], dict | None]
SAMPLE_REQUESTS: dict[str, dict[str, Sample]] = {
    "identities-resolve": {"post": lambda w: {"appid": w.mini.appid, "openid": "oMatrixNew"}},
    "persons-lookup": {
        "get": lambda w: {"appid": w.mini.appid, "openid": OPENID_MINI},
        "post": lambda w: {"appid": w.mini.appid, "openids": [OPENID_MINI]},
    },
    "person-detail": {"get": lambda w: None, "delete": lambda w: None},
    "person-phone": {"put": lambda w: {"phone": PHONE}},
    "wechat-miniprogram-login": {
        "post": lambda w: {
            "appid": w.mini.appid,
            "code": w.wechat.login_code(w.mini.appid, OPENID_MINI, unionid=UNIONID),
        }
    },
    "wechat-oauth-login": {
        "post": lambda w: {
            "appid": w.service.appid,
            "code": w.wechat.oauth_code(
                w.service.appid, OPENID_SERVICE, unionid=UNIONID, scope="snsapi_userinfo"
            ),
        }
    },
    "wechat-miniprogram-phone": {
        "post": lambda w: {
            "appid": w.mini.appid,
            "code": w.wechat.phone_code(w.mini.appid, PHONE),
            "person_id": w.person.public_id,
        }
    },
    "events-ingest": {
        "post": lambda w: {
            "events": [
                {
                    "event_id": "evt-matrix-1",
                    "appid": w.mini.appid,
                    "openid": OPENID_MINI,
                    "type": "view",
                    "occurred_at": iso_ago(hours=1),
                }
            ]
        }
    },
    "person-events": {"get": lambda w: None},
    "person-tags": {"post": lambda w: {"tags": [w.tag.key]}},
    "person-tag": {"delete": lambda w: None},
    "tags": {"get": lambda w: None},
    "segments": {"get": lambda w: None},
    "segment-detail": {"get": lambda w: None},
    "segment-members": {"get": lambda w: {"appid": w.mini.appid}},
    "analytics-retention": {"get": lambda w: _report(w)},
    "analytics-funnel": {"get": lambda w: _report(w, steps="register,view")},
    "analytics-lifecycle": {"get": lambda w: _report(w)},
    "analytics-active": {"get": lambda w: _report(w)},
    "analytics-acquisition": {"get": lambda w: _report(w)},
    "analytics-settle": {
        # Its apps are `miniprogram` and `service_account` (an `app` is a 400 there).
        "get": lambda w: {
            key: value
            for key, value in _report(
                w, miniprogram=w.mini.appid, service_account=w.service.appid
            ).items()
            if key != "app"
        }
    },
    "analytics-retention-save-as-tag": {
        "post": lambda w: _report(w, cohort=_cohort(), offset=0, tag="matrix-cell")
    },
    "analytics-lifecycle-save-as-tag": {
        "post": lambda w: _report(w, period=_cohort(), state="new", tag="matrix-cell")
    },
    "analytics-funnel-save-as-tag": {
        "post": lambda w: _report(w, steps="register,view", step=1, tag="matrix-cell")
    },
}


def build_request(world: World, endpoint: Endpoint, method: str) -> tuple[str, dict | None]:
    kwargs = {}
    for name in endpoint.parameters:
        if name not in PATH_PARAMETERS:
            pytest.fail(
                f"{endpoint}: no sample for the path parameter {name!r}; add one to "
                f"PATH_PARAMETERS in tests/test_authorization_matrix.py."
            )
        kwargs[name] = PATH_PARAMETERS[name](world, endpoint)
    sample = SAMPLE_REQUESTS.get(endpoint.name, {}).get(method)
    if sample is None:
        pytest.fail(
            f"{endpoint}: no sample request for {method.upper()}; add one to SAMPLE_REQUESTS "
            f"in tests/test_authorization_matrix.py (a function returning None for no body)."
        )
    return reverse(endpoint.name, kwargs=kwargs), sample(world)


def call(client: APIClient, method: str, path: str, data: dict | None):
    if method == "get":
        return client.get(path, data or {})
    return getattr(client, method)(path, data, format="json")


# -- the five callers ------------------------------------------------------------------------


# Beyond the declared scope: binding a number confirms whether someone holds it, so it needs
# phone:read as well (tests/identity/test_restricted_keys.py).
# Saving a report's cell as a tag writes the tag: tags:write beside analytics:read.
EXTRA_SCOPES = {
    ("person-phone", "put"): [PHONE_READ],
    **{
        (f"analytics-{r}-save-as-tag", "post"): [TAGS_WRITE]
        for r in ("retention", "lifecycle", "funnel")
    },
}


def caller(case: str, scope: str, world: World, make_client, extra: list[str] = ()) -> APIClient:
    if case == "no_key":
        return APIClient()
    if case == "revoked_key":
        client = make_client(scopes=ALL_SCOPES, name="matrix revoked")
        ApiKey.objects.filter(name="matrix revoked").update(revoked_at=timezone.now())
        return client
    if case == "wrong_scope":
        return make_client(scopes=[s for s in ALL_SCOPES if s != scope], name="matrix wrong scope")
    if case == "other_app":
        return make_client(
            scopes=[scope, *extra], apps=[world.other.appid], name="matrix other app"
        )
    return make_client(
        scopes=[scope, *extra],
        apps=[world.mini.appid, world.service.appid],
        name="matrix right key",
    )


def error_code(response) -> str:
    return response.json()["error"]["code"]


def assert_nothing_of_the_protected_persons(world: World, response) -> None:
    content = response.content.decode()
    leaked = [value for value in world.protected_values if value in content]
    assert not leaked, f"the answer shows the protected app's persons: {leaked}"
    assert all(count == 0 for count in _counts(response.json())), "member counts leak"


def _counts(body) -> Iterator[int]:
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "count":
                yield value
            else:
                yield from _counts(value)
    elif isinstance(body, list):
        for item in body:
            yield from _counts(item)


def assert_other_app_refused(world: World, endpoint: Endpoint, response) -> None:
    if endpoint.name in NOT_ABOUT_ONE_APPS_PERSONS:
        assert 200 <= response.status_code < 300, response.content
        assert_nothing_of_the_protected_persons(world, response)
    elif endpoint.name in PER_ITEM_ERRORS:
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["accepted"] == 0
        assert body["errors"]
        assert {item["error"]["code"] for item in body["errors"]} == {"app_forbidden"}
    else:
        assert response.status_code in (403, 404), response.content
        assert error_code(response) in ("app_forbidden", "person_not_found", "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    ("endpoint", "method"), PAIRS, ids=[f"{m.upper()} {e.name}" for e, m in PAIRS]
)
def test_authorization(world, make_client, endpoint, method, case):
    scope = endpoint.view.required_scopes.get(method.upper())
    assert scope is not None, f"{endpoint}: {method.upper()} declares no scope."
    extra = EXTRA_SCOPES.get((endpoint.name, method), [])
    client = caller(case, scope, world, make_client, extra)
    path, data = build_request(world, endpoint, method)
    audit_before, persons_before = AuditEntry.objects.count(), Person.objects.count()

    response = call(client, method, path, data)

    if case == "right_key":
        assert 200 <= response.status_code < 300, response.content
        if endpoint.name in NOT_ABOUT_ONE_APPS_PERSONS:
            counts = list(_counts(response.json()))
            assert not counts or sum(counts) > 0, "the right key should count the person"
        return
    if case in ("no_key", "revoked_key"):
        assert response.status_code == 401, response.content
        expected = "not_authenticated" if case == "no_key" else "invalid_api_key"
        assert error_code(response) == expected
    elif case == "wrong_scope":
        assert response.status_code == 403, response.content
        assert error_code(response) == "scope_missing"
    else:
        assert_other_app_refused(world, endpoint, response)
    # A refused caller changes nothing.
    assert AuditEntry.objects.count() == audit_before
    assert Person.objects.count() == persons_before
