"""Property-based fuzzing of the REST API with schemathesis, against its own OpenAPI schema.

Every operation of /api/v1/schema/ is called in-process through the WSGI app, with a key that
holds every scope, on the suite's PostgreSQL. Realistic data is seeded first (apps of each kind;
persons with openids, unionids, a phone, a tag and events; a merged-away and an erased person; a
segment) and generated values are swapped for seeded ones most of the time, so that requests
get past the 404s and 400s into the services; now and then a string becomes a hostile one (NUL,
an impossible time). Each case runs in a savepoint that is rolled back, so every case starts
from the same data. WeChat calls go to the fake WeChat server on loopback, which knows the apps
and a few login, OAuth and phone codes, and is rate limited or refuses the secret at times.

Checks: every check schemathesis enables by default: `not_a_server_error`, response schema,
status code, content type and response header conformance, negative data rejection, ... with
three adjustments:
- `positive_data_acceptance` is off. It expects a 2xx for any schema-valid request, but the API
  rightly answers 400 to values no OpenAPI schema can describe: placeholder identifiers ("0",
  "null", "undefined"), strings that are not phone numbers, appids that name no app, a lookup
  that gives two of openid, unionid and phone, a code WeChat refuses.
- `negative_data_rejection` is off for POST /api/v1/events only: invalid events are reported
  per item in a 200 (partial success, DESIGN.md), not refused with 400.
- `not_a_server_error` accepts 502 and 503, the documented answers when WeChat fails or is
  busy upstream (or the database is down); a 500 always fails.
Requests carry the key; schemathesis does not generate Authorization headers of its own.

The seed is fixed, so a run is reproducible. FUZZ_EXAMPLES sets the examples per operation of
the fuzzing phase (default 25 for `make test`; `.ci/run` runs 400 in a step of its own); the
coverage and examples phases add their own deterministic cases on top. The module prints the
requests it made per operation and status.
"""

import os
import time
from collections import Counter
from functools import partial

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections, transaction
from hypothesis import strategies as st
from schemathesis import GenerationMode

from config.api.scopes import ALL_SCOPES
from config.wsgi import application
from identity.models import Actor, AppKind
from identity.services.api_keys import create_api_key
from identity.services.app_secrets import set_app_credentials
from identity.services.apps import provision_app
from identity.services.erase import erase_person
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from profiles.models import Segment, TagSource
from profiles.services.definitions import save_segment
from profiles.services.ingest import ingest_events
from profiles.services.tags import assign_tags

FUZZ_SEED = 20260101
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
ACTOR = Actor.system("fuzz")
MINI, SERVICE, H5 = "wx1111111111111111", "wx2222222222222222", "wx3333333333333333"
APPS = {MINI: AppKind.MINIPROGRAM, SERVICE: AppKind.SERVICE_ACCOUNT, H5: AppKind.H5}
SECRET = "fuzz-secret-0123456789"
PHONE = "+8613800138000"

config = schemathesis.Config.from_dict(
    {
        "seed": FUZZ_SEED,
        "generation": {
            "max-examples": FUZZ_EXAMPLES,
            "database": "none",
            # Every request carries the key of `seeded`; schemathesis adds no Authorization.
            "with-security-parameters": False,
        },
        "checks": {
            "positive_data_acceptance": {"enabled": False},
            # WeChat failing upstream: documented 502 and 503, not errors of the service.
            "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "502", "503"]},
        },
        "operations": [
            {
                # Partial success (DESIGN.md): invalid events are reported in a 200.
                "include-path": "/api/v1/events",
                "checks": {"negative_data_rejection": {"enabled": False}},
            }
        ],
    }
)
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application, config=config)

# Text that PostgreSQL cannot store (NUL), a valid-looking but impossible time, a right-to-left
# override, an emoji. (Unpaired surrogates, which JSON can carry too, would break schemathesis's
# own validator: tests/test_api_hostile_input.py sends those.)
HOSTILE = ["\x00", "a\x00b", "2024-01-01T12:99:00Z", "\u202e", "\U0001f600"]
HOSTILE_OBJECTS = [{text: text} for text in HOSTILE] + [{"deep": [[[{"x": HOSTILE}]]]}]
# Values of the seeded data by field name, filled per test; cases draw from them.
REAL: dict[str, list] = {}
REQUESTS: dict[str, Counter] = {}


def _event(event_id: str, event_type: str, **fields) -> dict:
    return {
        "event_id": event_id,
        "appid": MINI,
        "openid": "o_fuzz_0",
        "type": event_type,
        "occurred_at": "2026-01-01T10:00:00+08:00",
        **fields,
    }


@schema.hook
def flatmap_case(context, case):
    """Swap generated values for seeded ones most of the time, and for hostile ones now and then.

    A pool named "<path> <field>" overrides the pool of the field for one path (the codes of
    the right kind for each WeChat endpoint). One string in ten becomes a HOSTILE one, which
    random text seldom contains. Generated events get a valid id, type, time and subject, so
    that their generated amount, channel and properties reach the database. Negative cases keep
    their generated query and body (a swap could make them valid); their path parameters, which
    no schema constrains, may still point at seeded objects.
    """
    positive = case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE
    slots = []  # (strategy of a value or None, how to apply the value)
    for container in [case.path_parameters, *([case.query, case.body] if positive else [])]:
        if not isinstance(container, dict):
            continue
        for name, value in container.items():
            pool = REAL.get(f"{case.operation.path} {name}") or REAL.get(name) or []
            pool = [item for item in pool if isinstance(value, type(item))]
            hostile = HOSTILE if isinstance(value, str) else []
            if pool or hostile:
                slots.append((_choice(pool, hostile), partial(container.__setitem__, name)))
    events = case.body.get("events") if positive and isinstance(case.body, dict) else None
    for item in events if isinstance(events, list) else []:
        if isinstance(item, dict):
            slots.append((_choice(REAL["envelope"]), partial(_wrap, item)))
            slots.append((_choice(HOSTILE), partial(item.__setitem__, "channel")))
            slots.append((_choice(HOSTILE_OBJECTS), partial(item.__setitem__, "properties")))
    if not slots:
        return st.just(case)

    def swap(choices):
        for (_, apply), choice in zip(slots, choices, strict=True):
            if choice is not None:
                apply(choice)
        return case

    return st.tuples(*(strategy for strategy, _ in slots)).map(swap)


def _choice(pool: list, hostile: list = ()):
    """None (keep the generated value) or a value of the pool; one time in ten a hostile one.

    Shrinking goes towards None, so that a failure is shown with as few swaps as it needs.
    """
    usual = st.sampled_from([None, *pool])
    if not hostile:
        return usual
    return st.integers(0, 9).flatmap(lambda n: st.sampled_from(hostile) if n == 9 else usual)


def _wrap(item: dict, envelope: dict) -> None:
    """Give a generated event the envelope's fields; None in the envelope drops the field."""
    for key in ("appid", "openid", "person_id"):
        item.pop(key, None)
    for key, value in envelope.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value


@pytest.fixture
def seeded(db, fake_wechat):
    """Seed apps, persons, tags, events, a segment and WeChat codes; return a full API key."""
    state = fake_wechat
    apps = {}
    for appid, kind in APPS.items():
        apps[appid], _ = provision_app(appid=appid, kind=kind, name=appid, actor=ACTOR)
        set_app_credentials(app=apps[appid], secret=SECRET, actor=ACTOR)
        state.add_app(appid, SECRET)
    # WeChat rate limiting (503 wechat_unavailable) and refusing the secret (502) now and then;
    # an expired access token is refreshed and the call retried.
    phone_path = "/wxa/business/getuserphonenumber"
    for path in ("/sns/jscode2session", "/sns/oauth2/access_token", phone_path):
        state.fail_next(path, 45011, times=3, after=5)
        state.fail_next(path, 40125, times=3, after=15)
    state.fail_next(phone_path, 40001, times=1, after=2)

    def resolve(appid, openid, unionid=None):
        return resolve_identity(app=apps[appid], openid=openid, unionid=unionid, actor=ACTOR).person

    buyer = resolve(MINI, "o_fuzz_0", "u_fuzz_0")
    follower = resolve(SERVICE, "o_fuzz_1", "u_fuzz_1")
    merged = resolve(H5, "o_fuzz_2")
    erased = resolve(MINI, "o_fuzz_3")
    bind_phone(person=buyer, phone=PHONE, actor=ACTOR)
    bind_phone(person=merged, phone=PHONE, actor=ACTOR)  # merges it into the buyer
    erase_person(person=erased, actor=ACTOR)
    assign_tags(person=buyer, keys=["vip"], expires_at=None, source=TagSource.API, actor=ACTOR)
    ingest_events(
        events=[
            _event("fuzz-0", "register"),
            _event("fuzz-1", "view"),
            _event("fuzz-2", "pay", amount="12.50"),
        ],
        actor=ACTOR,
    )
    save_segment(segment=Segment(key="vips", name="VIPs", condition={"tag": "vip"}), actor=ACTOR)
    openids = ["o_fuzz_0", "o_fuzz_1", "o_fuzz_2", "o_fuzz_3"]
    phones = [PHONE, "13800138000", "+86 139 0013 9009", "+12025550100"]
    REAL.clear()
    REAL.update(
        person_id=[p.public_id for p in (buyer, follower, merged, erased)],
        key=["vip", "vips", "dormant", "new"],
        tags=[["vip"], ["vip"], ["dormant"]],
        appid=list(APPS),
        openid=openids,
        openids=[openids, openids[:1]],
        unionid=["u_fuzz_0", "u_fuzz_1"],
        unionids=[["u_fuzz_0", "u_fuzz_1", "u_fuzz_9"]],
        phone=phones,
        phones=[phones, [PHONE, PHONE]],
        code=["code_unknown"],
        **{
            "/api/v1/wechat/miniprogram/login appid": [MINI],
            "/api/v1/wechat/miniprogram/login code": [
                state.login_code(MINI, f"o_fuzz_login_{n}", unionid="u_fuzz_1") for n in range(5)
            ],
            "/api/v1/wechat/oauth/login appid": [SERVICE, H5],
            "/api/v1/wechat/oauth/login code": [
                state.oauth_code(SERVICE, f"o_fuzz_oauth_{n}", scope="snsapi_userinfo")
                for n in range(5)
            ],
            "/api/v1/wechat/miniprogram/phone appid": [MINI],
            "/api/v1/wechat/miniprogram/phone person_id": [buyer.public_id, merged.public_id],
            "/api/v1/wechat/miniprogram/phone code": [
                state.phone_code(MINI, f"1390013900{n}") for n in range(5)
            ],
        },
        type=["pay", "view"],
        # The reports: the seeded events' weeks, their apps and types, the segment.
        app=list(APPS),
        miniprogram=[MINI],
        service_account=[SERVICE],
        segment=["vips"],
        steps=["register,view,pay", "view,any"],
        start_event=["register", "any"],
        return_event=["any", "pay"],
        event=["any", "view"],
        to=["2026-01-04", "2026-01-31"],
        cohort=["2025-12-29"],
        offset=[0, 1],
        tag=["fuzz-cell", "vip", "dormant"],
        **{
            "from": ["2025-12-29", "2026-01-01"],
            "/api/v1/analytics/lifecycle/save-as-tag period": ["2025-12-29", "2026-01-01"],
        },
        events=[
            [_event("fuzz-2", "pay", amount="12.50"), _event("fuzz-new", "pay", amount="1.00")],
            [_event("fuzz-other", "login", openid="o_fuzz_new", channel="qr")],
        ],
        envelope=[
            _event("fuzz-view", "view", amount=None),
            _event("fuzz-pay", "pay", appid=SERVICE, openid="o_fuzz_new"),  # generated amount
            {
                "event_id": "fuzz-person",
                "person_id": buyer.public_id,
                "type": "login",
                "occurred_at": "2026-01-01T10:00:00+08:00",
                "amount": None,
            },
            _event("fuzz-scan", "qr_scan", appid=SERVICE, openid="o_fuzz_1", amount=None),
        ],
    )
    _, raw_key = create_api_key(name="fuzz", scopes=ALL_SCOPES, actor=ACTOR)
    yield raw_key
    cache.clear()


@pytest.fixture
def keep_connection():
    """Keep the test's transaction across requests, as Django's test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(scope="module", autouse=True)
def report_requests(request):
    start = time.monotonic()
    yield
    total = sum(sum(statuses.values()) for statuses in REQUESTS.values())
    lines = [
        f"schemathesis {schemathesis.__version__}, seed {FUZZ_SEED}, FUZZ_EXAMPLES="
        f"{FUZZ_EXAMPLES}: {total} requests over {len(REQUESTS)} operations in "
        f"{time.monotonic() - start:.0f}s"
    ]
    for label, statuses in REQUESTS.items():
        counts = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
        lines.append(f"  {label}: {sum(statuses.values())} ({counts})")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n" + "\n".join(lines))


@schema.parametrize()
@hypothesis.settings(suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_schema(case, seeded, keep_connection):
    # Each case starts from the seeded data: its changes are rolled back with its savepoint.
    with transaction.atomic():
        response = case.call_and_validate(headers={"Authorization": f"Bearer {seeded}"})
        transaction.set_rollback(True)
    REQUESTS.setdefault(case.operation.label, Counter())[response.status_code] += 1
