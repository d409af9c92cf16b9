"""PostgreSQL goes away under a running service and comes back.

The test owns its PostgreSQL (a private pgserver instance), so it can stop and start it without
disturbing the suite's database. The service runs as it does in production: gunicorn, one worker
with two threads, persistent connections that must be health-checked after the outage.
"""

import os
import shutil
import signal
import tempfile
import time
import warnings
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from tests.faults.conftest import free_port, manage, service_env, spawn_gunicorn, stop

APPID = "wx1111111111111111"
CONNECT_TIMEOUT = 2
# Nothing may make a client wait longer than this while the database is down.
MAX_OUTAGE_ANSWER_SECONDS = 10


def _pgserver():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR on headless machines
        import pgserver

    return pgserver


@pytest.fixture
def private_postgres():
    """Start a PostgreSQL of this test's own in a short path (unix socket paths are limited)."""
    base = Path(tempfile.mkdtemp(prefix="pg", dir="/tmp"))
    server = _pgserver().get_server(base / "data", cleanup_mode="delete")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE faults")
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def stop_postgres(server) -> None:
    """Fast shutdown (SIGINT to the postmaster), waiting until the server is gone."""
    pid = int((server.pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("PostgreSQL did not stop")


@pytest.fixture
def service_on_private_postgres(private_postgres, tmp_path):
    """Migrate the private database and run the service on it (gunicorn, as in production).

    Yields (process, base url, api key, log file).
    """
    env = service_env(
        private_postgres.get_uri("faults"),
        DB_CONN_MAX_AGE="60",
        DB_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
    )
    for args in (
        ("migrate", "--no-input"),
        ("create_app", APPID, "--kind", "miniprogram", "--name", "Fault shop"),
    ):
        done = manage(*args, env=env)
        assert done.returncode == 0, done.stderr
    created = manage("create_api_key", "fault", "--scopes", "all", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]

    port = free_port()
    log = tmp_path / "service.log"
    process = spawn_gunicorn(port, env=env, output=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _get(base_url, "/healthz").status_code == 200, log, process)
        yield process, base_url, key, log
    finally:
        stop(process)


def _get(base_url: str, path: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(base_url + path, headers=headers, timeout=MAX_OUTAGE_ANSWER_SECONDS)


def _resolve(base_url: str, key: str, openid: str) -> httpx.Response:
    return httpx.post(
        base_url + "/api/v1/identities/resolve",
        json={"appid": APPID, "openid": openid},
        headers={"Authorization": f"Bearer {key}"},
        timeout=MAX_OUTAGE_ANSWER_SECONDS,
    )


def _wait_for(condition, log: Path, process, seconds: float = 20) -> None:
    """Poll `condition` until it holds, failing after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        assert process.poll() is None, f"the service exited:\n{log.read_text()}"
        try:
            if condition():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s; service log:\n{log.read_text()}")


def _workers(process) -> set[int]:
    return {child.pid for child in psutil.Process(process.pid).children()}


def _assert_unavailable(response: httpx.Response) -> None:
    """A 503 in the API's format. That it came at all is the client's timeout
    (MAX_OUTAGE_ANSWER_SECONDS): a request that hung on the dead database raises instead."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    assert response.headers["Retry-After"].isdigit()


def test_api_answers_503_while_postgres_is_down_and_recovers_without_restart(
    service_on_private_postgres, private_postgres
):
    process, base_url, key, log = service_on_private_postgres
    # Given a healthy service with persistent connections open in both threads
    for _ in range(4):
        assert _get(base_url, "/healthz").json()["database"] == "ok"
        assert _get(base_url, "/api/v1/tags", key).status_code == 200
    assert _resolve(base_url, key, "oBeforeOutage").status_code == 200
    workers = _workers(process)

    # When PostgreSQL stops
    stop_postgres(private_postgres)

    # Then every request answers 503 in the API error format, quickly, and never a traceback
    for attempt in range(3):
        health = _get(base_url, "/healthz")
        _assert_unavailable(health)
        assert health.json() == {"status": "unavailable", "database": "unavailable"}

        for call in (
            lambda: _get(base_url, "/api/v1/tags", key),
            lambda n=attempt: _resolve(base_url, key, f"oDuringOutage{n}"),
            lambda: _get(base_url, "/api/v1/persons/p_unknown", key),
        ):
            response = call()
            _assert_unavailable(response)
            error = response.json()["error"]
            assert error["code"] == "database_unavailable"
            assert set(error) == {"code", "message", "details"}
    assert "Traceback" not in log.read_text()

    # When PostgreSQL comes back, the same process answers again (polled for at most 10 s)
    private_postgres.ensure_postgres_running()
    _wait_for(lambda: _get(base_url, "/healthz").status_code == 200, log, process, seconds=10)
    for _ in range(4):
        assert _get(base_url, "/healthz").json()["database"] == "ok"
        assert _get(base_url, "/api/v1/tags", key).status_code == 200
    after = _resolve(base_url, key, "oAfterOutage")
    assert after.status_code == 200, after.text
    assert after.json()["created"] is True
    assert process.poll() is None  # never restarted, nor its worker
    assert _workers(process) == workers
