"""The API's orjson renderer writes the JSON DRF's renderer wrote, faster, and falls back to it
for what orjson refuses (config/api/renderers.py)."""

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail

from config.api.renderers import JSONRenderer

SAMPLES = [
    {"at": datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)},  # Z, milliseconds
    {"at": datetime(2026, 12, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))},
    {"day": date(2026, 12, 1), "amount": Decimal("12.30"), "id": uuid.UUID(int=7)},
    {"message": gettext_lazy("Enter a name."), "detail": ErrorDetail("bad", code="invalid")},
    {1: "int key", "nested": [{"a": None, "b": True, "c": 1.5}]},
    {"text": "中文 and line\u2028separators\u2029"},
    [1, 2, 3],
    {"big": 2**70},  # beyond 64 bits: DRF's renderer writes it
]


@pytest.mark.parametrize("data", SAMPLES)
def test_the_same_json_as_drfs_renderer(data):
    ours = JSONRenderer().render(data)
    drf = renderers.JSONRenderer().render(data)

    assert ours == drf


def test_an_unpaired_surrogate_is_escaped_not_a_500():
    body = JSONRenderer().render({"message": '"x\udfff" is not a valid choice.'})

    assert json.loads(body) == {"message": '"x\udfff" is not a valid choice.'}


def test_an_indented_answer_is_indented():
    body = JSONRenderer().render({"a": 1}, "application/json; indent=2")

    assert body == b'{\n  "a": 1\n}'


def test_nothing_renders_empty():
    assert JSONRenderer().render(None) == b""
