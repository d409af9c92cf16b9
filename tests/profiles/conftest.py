import itertools

import pytest

from tests.clock import iso_ago

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
            "occurred_at": iso_ago(hours=1),
        }
        body.update(fields)
        return {key: value for key, value in body.items() if value is not None}

    return make
