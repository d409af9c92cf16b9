"""The person representation `P` of DESIGN.md: each key declared once, built without queries.

Built as plain dicts from the JSON rows that `person_reads.read_persons` has PostgreSQL
aggregate: a batch lookup shapes up to 1000 persons per request, where a nested DRF serializer
(or a query per relation) would dominate the response time. The schema's `PersonOut` and
`IdentityOut` are derived from the same declarations (`identity.api.shapes`), so that the
documented shape and the one built cannot drift apart. Sections that other apps register
(stats, tags) bring their own part of both (`identity.person_sections`).
"""

from collections.abc import Callable

from rest_framework import serializers

from config.api import scopes
from config.api.views import ApiView
from identity import selectors
from identity.api.shapes import Key, Shape, schema_fields
from identity.exceptions import PersonNotFound
from identity.models import Person
from identity.person_sections import sections

# One identity of `P`: its keys are those of the read's `identity_rows`, shown as read.
IDENTITY_FIELDS: dict[str, Callable[[], serializers.Field]] = {
    "appid": serializers.CharField,
    "app_kind": serializers.CharField,
    "openid": serializers.CharField,
    "followed": lambda: serializers.BooleanField(allow_null=True),
    "followed_at": lambda: serializers.DateTimeField(allow_null=True),
}
_IDENTITY_KEYS = tuple(IDENTITY_FIELDS)


def _phone(person: Person, show_phone: bool, allowed_app_ids: set[int] | None) -> str | None:
    phone = person.phone_e164
    if not phone:
        return None
    return phone if show_phone else person.phone_masked


def _identities(person: Person, show_phone: bool, allowed_app_ids: set[int] | None) -> list:
    return [
        {key: row[key] for key in _IDENTITY_KEYS}
        for row in person.identity_rows
        if allowed_app_ids is None or row["app_id"] in allowed_app_ids
    ]


# The person's own keys, each valued from (person, show_phone, allowed_app_ids), in the order
# answers show them: the sections go between the two. (The schema lists the sections after
# both; each order is as published.)
BEFORE_SECTIONS: Shape = {
    "id": Key(serializers.CharField, lambda person, *_: person.public_id),
    "unionids": Key(
        lambda: serializers.DictField(child=serializers.CharField()),
        lambda person, *_: {row["platform"]: row["unionid"] for row in person.unionid_rows},
    ),
    "phone": Key(
        lambda: serializers.CharField(allow_null=True, help_text="Masked without phone:read."),
        _phone,
    ),
    "identities": Key(lambda: IdentityOut(many=True), _identities),
}
AFTER_SECTIONS: Shape = {
    "created_at": Key(serializers.DateTimeField, lambda person, *_: person.created_at.isoformat()),
    "updated_at": Key(serializers.DateTimeField, lambda person, *_: person.updated_at.isoformat()),
}
# As (name, value) pairs: the builder runs per person, up to 1000 a request.
_BEFORE = tuple((name, key.value) for name, key in BEFORE_SECTIONS.items())
_AFTER = tuple((name, key.value) for name, key in AFTER_SECTIONS.items())


class IdentityOut(serializers.Serializer):
    def get_fields(self):
        return {name: field() for name, field in IDENTITY_FIELDS.items()}


class PersonOut(serializers.Serializer):
    def get_fields(self):
        fields = schema_fields({**BEFORE_SECTIONS, **AFTER_SECTIONS})
        for section in sections():
            fields[section.name] = section.schema()
        return fields


def person_representation(
    person: Person, *, show_phone: bool, allowed_app_ids: set[int] | None
) -> dict:
    """Shape a live person for one caller: phone masked without `phone:read`, identities of
    apps outside the key's restriction left out.

    The person must have been read for the same restriction (`read_persons(allowed_app_ids=)`):
    its sections (stats) were computed from the apps that key may see, and showing sections
    computed for another caller would leak other apps' activity, so a mismatch fails loudly.
    """
    if person.sections_for != allowed_app_ids:
        raise ValueError("The person was read for another app restriction than the caller's.")
    body = {}
    for name, value in _BEFORE:
        body[name] = value(person, show_phone, allowed_app_ids)
    for section in sections():
        body[section.name] = section.render(person)
    for name, value in _AFTER:
        body[name] = value(person, show_phone, allowed_app_ids)
    return body


def visible_to(person: Person, allowed_app_ids: set[int] | None) -> bool:
    """A key restricted to apps sees only persons with an identity in one of them."""
    if allowed_app_ids is None:
        return True
    return any(row["app_id"] in allowed_app_ids for row in person.identity_rows)


class PersonApiView(ApiView):
    """Shared helpers: the caller's key, app checks and the person representation."""

    # As ApiView's, the docstring is the schema's description of operations without their own;
    # this class adds persons read, checked and shaped for the caller's key.

    def read_person(self, public_id: str) -> Person:
        """Read a person as this key sees it: sections (stats) only from the key's apps."""
        return selectors.get_person(public_id, allowed_app_ids=self.key.allowed_app_ids)

    def visible_person(self, public_id: str) -> Person:
        person = self.read_person(public_id)
        if not visible_to(person, self.key.allowed_app_ids):
            raise PersonNotFound()
        return person

    def represent(self, person: Person | None) -> dict | None:
        if person is None or not visible_to(person, self.key.allowed_app_ids):
            return None
        return person_representation(
            person,
            show_phone=self.key.has_scope(scopes.PHONE_READ),
            allowed_app_ids=self.key.allowed_app_ids,
        )

    def require_phone_read(self, *, field: str) -> None:
        """Answers about a number the caller sends (a lookup, a bind) confirm it: a key without
        `phone:read` could otherwise turn the masked form it sees (7 of 11 digits) into the
        number in 10,000 guesses."""
        self.require_scope(scopes.PHONE_READ, field=field)
