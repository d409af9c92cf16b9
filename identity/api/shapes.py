"""Answers declared once: each key with the field that documents it and how it is filled.

The API builds its answers as plain dicts: a DRF serializer per item would dominate a batch of
1000, and answers give datetimes as `isoformat` does, as they always have. drf-spectacular
documents them from serializers. A shape (key -> `Key`) gives both from one declaration, so that
the schema and the answers cannot drift apart: a serializer's `get_fields` returns
`schema_fields(SHAPE)`, and the answer is `build(SHAPE, obj)`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers


@dataclass(frozen=True)
class Key:
    """One key of an answer: a new field that documents it, and its value for an object."""

    field: Callable[[], serializers.Field]
    value: Callable[..., Any]


Shape = dict[str, Key]


def schema_fields(shape: Shape) -> dict[str, serializers.Field]:
    return {name: key.field() for name, key in shape.items()}


def build(shape: Shape, obj: Any) -> dict:
    return {name: key.value(obj) for name, key in shape.items()}
