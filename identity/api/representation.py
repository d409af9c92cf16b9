"""The person representation `P` of DESIGN.md, built without per-row queries.

Built as plain dicts from the JSON rows that `person_reads.read_persons` has PostgreSQL
aggregate: a batch lookup shapes up to 1000 persons per request, where a nested DRF serializer
(or a query per relation) would dominate the response time. `PersonSerializer` in
serializers.py documents the same shape for the OpenAPI schema (tests keep the two in step).
"""

from config.api import scopes
from config.api.views import ApiView
from identity import selectors
from identity.exceptions import PersonNotFound
from identity.models import Person
from identity.person_sections import sections


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
    phone = person.phone_e164
    identities = [
        {
            "appid": row["appid"],
            "app_kind": row["app_kind"],
            "openid": row["openid"],
            "followed": row["followed"],
            "followed_at": row["followed_at"],
        }
        for row in person.identity_rows
        if allowed_app_ids is None or row["app_id"] in allowed_app_ids
    ]
    body = {
        "id": person.public_id,
        "unionids": {row["platform"]: row["unionid"] for row in person.unionid_rows},
        "phone": (phone if show_phone else person.phone_masked) if phone else None,
        "identities": identities,
    }
    for section in sections():
        body[section.name] = section.render(person)
    body["created_at"] = person.created_at.isoformat()
    body["updated_at"] = person.updated_at.isoformat()
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
