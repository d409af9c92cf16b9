"""Sections that other apps add to the person representation (stats, tags).

Each section contributes one SQL expression evaluated per person (it must return JSON), renders
its part of `P` from that value, and documents it for the OpenAPI schema; identity never imports
the apps that register them. The person read (`identity.person_reads`) puts every section into
its single statement, which binds the only names a section's SQL may use:

- `PERSON_ID`: the person's pk (the read's `identity_person` row is `p`);
- `ALLOWED_APP_IDS` (bigint[]): the apps of a key restricted to apps, in `restricted_sql` only.

A section whose answer changes by itself at some moment (a tag that expires) gives
`valid_until`, so that the person cache (`identity.person_cache`) keeps it no longer.

A section whose content depends on the apps a key may see (stats count events per app) gives
`restricted_sql`, used for a key restricted to apps; other sections show the same to every key.
Such a section also gives `app_parts_sql` and `restrict`, so that the person cache derives a
restricted key's answer from the entry it keeps for everyone.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rest_framework import serializers

PERSON_ID = "p.id"
ALLOWED_APP_IDS = "allowed.app_ids"


@dataclass(frozen=True)
class PersonSection:
    name: str
    sql: str
    render: Callable[[Any], Any]
    schema: Callable[[], serializers.Field]
    restricted_sql: str | None = None
    valid_until: Callable[[Any], datetime | None] = lambda value: None
    # The restricted value derived from per-app parts, for the person cache: `app_parts_sql`
    # gives JSON keyed by app id, `restrict(parts, app_ids)` what `restricted_sql` would.
    app_parts_sql: str | None = None
    restrict: Callable[[Any, frozenset[int]], Any] | None = None

    def sql_for(self, *, restricted: bool) -> str:
        return self.restricted_sql if restricted and self.restricted_sql else self.sql


_sections: dict[str, PersonSection] = {}


def register_section(section: PersonSection) -> None:
    _sections[section.name] = section


def sections() -> list[PersonSection]:
    return list(_sections.values())
