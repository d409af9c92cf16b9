"""Sections that other apps add to the person representation (stats, tags).

Each section prepares the person queryset (select_related / prefetch, so a lookup of 1000
persons stays a constant number of queries), renders its part of `P`, and documents it for the
OpenAPI schema.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers


@dataclass(frozen=True)
class PersonSection:
    name: str
    prepare: Callable[[QuerySet], QuerySet]
    render: Callable[[Any], Any]
    schema: Callable[[], serializers.Field]


_sections: dict[str, PersonSection] = {}


def register_section(section: PersonSection) -> None:
    _sections[section.name] = section


def sections() -> list[PersonSection]:
    return list(_sections.values())
