"""Static files served by the application itself (WhiteNoise): the admin's styles and scripts,
the API docs' Swagger UI and the reports' own files, under gunicorn alone, with DEBUG off."""

import time

import httpx
import pytest
from django.db import connection
from django.test import Client

from tests.faults.conftest import free_port, service_env, spawn_gunicorn, stop, url_of

ASSETS = {
    "/static/admin/css/base.css": "text/css",
    "/static/admin/js/core.js": "text/javascript",
    "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css": "text/css",
    "/static/analytics/reports.js": "text/javascript",
}


@pytest.mark.parametrize(("path", "content_type"), ASSETS.items())
def test_the_application_serves_static_files_with_debug_off(settings, path, content_type):
    settings.DEBUG = False
    response = Client().get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert "max-age" in response["Cache-Control"]


def test_an_unknown_static_file_is_a_404(settings):
    settings.DEBUG = False
    assert Client().get("/static/admin/css/nothing-here.css").status_code == 404


@pytest.mark.slow
def test_gunicorn_alone_serves_the_admin_and_the_api_docs_with_their_assets(
    django_db_setup, tmp_path
):
    """The server reads the test database; this test writes nothing, so it needs no database
    marker (a transactional one would flush the tables under the serialized-rollback tests)."""
    port = free_port()
    env = service_env(
        url_of(connection.settings_dict),
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1",
    )
    server = spawn_gunicorn(port, env=env, output=tmp_path / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail((tmp_path / "gunicorn.log").read_text())
                time.sleep(0.2)
        login = httpx.get(f"{base}/admin/login/", timeout=10)
        assert login.status_code == 200
        assert "/static/admin/css/base.css" in login.text
        docs = httpx.get(f"{base}/api/v1/docs/", timeout=10)
        assert docs.status_code == 200
        assert "/static/drf_spectacular_sidecar/" in docs.text
        for path, content_type in ASSETS.items():
            asset = httpx.get(f"{base}{path}", timeout=10)
            assert asset.status_code == 200, path
            assert asset.headers["content-type"].startswith(content_type)
    finally:
        stop(server)
