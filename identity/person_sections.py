"""Sections that other apps add to the person representation (stats, tags).

Each section contributes one SQL expression evaluated per person (`p` is the person row; it must
return JSON), renders its part of `P` from that value, and documents it for the OpenAPI schema.
The person read (`identity.person_reads`) puts every section into its single query.

A section whose content depends on the apps a key may see (stats count events per app) also gives
`restricted_sql`, used for a key restricted to apps: there `allowed.app_ids` (bigint[]) holds
the key's apps. Other sections show the same to every key.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers


@dataclass(frozen=True)
class PersonSection:
    name: str
    sql: str
    render: Callable[[Any], Any]
    schema: Callable[[], serializers.Field]
    restricted_sql: str | None = None

    def sql_for(self, *, restricted: bool) -> str:
        return self.restricted_sql if restricted and self.restricted_sql else self.sql


_sections: dict[str, PersonSection] = {}


def register_section(section: PersonSection) -> None:
    _sections[section.name] = section


def sections() -> list[PersonSection]:
    return list(_sections.values())
