import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db


def test_each_key_is_throttled_with_retry_after(settings, make_client):
    settings.API_RATE_LIMIT = "3/min"
    cache.clear()
    first, second = make_client(name="first"), make_client(name="second")
    answers = [first.get("/api/v1/tags").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = first.get("/api/v1/tags")
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited["Retry-After"]) > 0
    assert second.get("/api/v1/tags").status_code == 200  # budgets are per key
    cache.clear()


def test_oversize_bodies_are_413(settings, api):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"appid": "wx1111111111111111", "openids": ["o" * 20] * 100}
    response = api.post("/api/v1/persons/lookup", body, format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
