"""First logins under contention, through real HTTP: gunicorn with threads, 48 callers at once.

A login must never fail because another request for the same human was in flight. The service
runs as in production (gunicorn, gthread workers) on the suite's test database; the callers
start together behind a barrier, so that they all read "nobody yet" before any of them commits.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from config.api.scopes import ALL_SCOPES
from identity.models import AppKind, Identity, Person, UnionId
from identity.services.api_keys import create_api_key
from identity.services.apps import provision_app
from tests.faults.conftest import free_port, spawn_gunicorn, stop

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CALLERS = 48
ROUNDS = 3
APPS = (
    ("wx4444444444444441", AppKind.MINIPROGRAM),
    ("wx4444444444444442", AppKind.SERVICE_ACCOUNT),
    ("wx4444444444444443", AppKind.H5),
)


@pytest.fixture(params=["unrestricted", "restricted"])
def service_on_test_database(request, child_env, tmp_path, actor):
    """Gunicorn on the test database: 2 workers x 8 threads. Yields (base url, api key).

    Twice: with a key of every app, and with a key restricted to the three apps, whose resolves
    also check that the unionid's person is one the key can see (a race there must not refuse
    the person another request for the same human has just created).
    """
    for appid, kind in APPS:
        provision_app(appid=appid, kind=kind, name=appid, actor=actor)
    appids = [appid for appid, _ in APPS] if request.param == "restricted" else ()
    _, key = create_api_key(name="contention", scopes=ALL_SCOPES, appids=appids, actor=actor)
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {**child_env, "DB_CONN_MAX_AGE": "60"}
    process = spawn_gunicorn(port, env=env, output=log, workers=2, threads=8, timeout=60)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, process, log)
        yield base_url, key
    finally:
        stop(process)


def _wait_until_up(base_url: str, process, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"gunicorn exited:\n{log.read_text()}"
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not answer within {seconds}s:\n{log.read_text()}")


def _storm(base_url: str, key: str, bodies: list[dict]) -> list[httpx.Response]:
    """POST every body at once: each caller waits at a barrier, then sends."""
    barrier = threading.Barrier(len(bodies))

    def call(body: dict) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            client.get("/healthz")  # connect first, so that the barrier releases sends
            barrier.wait()
            return client.post(
                "/api/v1/identities/resolve",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            )

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(call, bodies))


def _outcome(responses: list[httpx.Response]) -> tuple[list[tuple[int, str]], set[str]]:
    failures = [(r.status_code, r.text[:200]) for r in responses if r.status_code != 200]
    persons = {r.json()["person"]["id"] for r in responses if r.status_code == 200}
    return failures, persons


def test_concurrent_first_logins_of_one_openid_all_answer_the_one_person(
    service_on_test_database,
):
    base_url, key = service_on_test_database
    appid = APPS[0][0]
    for round_ in range(ROUNDS):
        body = {"appid": appid, "openid": f"oRace{round_}", "unionid": f"uRace{round_}"}

        failures, persons = _outcome(_storm(base_url, key, [body] * CALLERS))

        assert failures == []
        assert len(persons) == 1
        person = Person.objects.get(public_id=persons.pop())
        assert list(person.identities.values_list("openid", flat=True)) == [f"oRace{round_}"]
        assert list(person.unionids.values_list("unionid", flat=True)) == [f"uRace{round_}"]
    assert Person.objects.count() == ROUNDS


def test_concurrent_first_logins_in_three_apps_with_one_unionid_join_one_person(
    service_on_test_database,
):
    base_url, key = service_on_test_database
    for round_ in range(ROUNDS):
        bodies = [
            {"appid": appid, "openid": f"oTri{round_}x{n}", "unionid": f"uTri{round_}"}
            for n, (appid, _) in enumerate(APPS)
        ] * (CALLERS // len(APPS))

        failures, persons = _outcome(_storm(base_url, key, bodies))

        assert failures == []
        assert len(persons) == 1
        union = UnionId.objects.get(unionid=f"uTri{round_}")
        assert union.person.public_id == persons.pop()
        assert Identity.objects.filter(person=union.person).count() == len(APPS)
    assert Person.objects.filter(merged_into__isnull=True).count() == ROUNDS
