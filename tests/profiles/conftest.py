import itertools

import pytest

_ids = itertools.count(1)


@pytest.fixture
def event(miniprogram):
    """Build a valid event dict; keyword arguments override fields."""

    def make(**fields):
        body = {
            "event_id": f"evt-{next(_ids)}",
            "appid": miniprogram.appid,
            "openid": "oUser1",
            "type": "view",
            "occurred_at": "2026-11-01T10:00:00+08:00",
        }
        body.update(fields)
        return {key: value for key, value in body.items() if value is not None}

    return make
