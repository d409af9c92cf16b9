"""The contract between identity's person read and the sections other apps register."""

import pytest
from rest_framework import serializers

from identity import person_sections
from identity.person_reads import read_person
from identity.person_sections import ALLOWED_APP_IDS, PERSON_ID, PersonSection
from identity.services.resolve import resolve_identity

pytestmark = pytest.mark.django_db


@pytest.fixture
def echo_section(monkeypatch):
    """A section that shows what the read binds for it: the person's pk and the key's apps."""
    section = PersonSection(
        name="echo",
        sql=f"jsonb_build_object('person', {PERSON_ID})",
        restricted_sql=(
            f"jsonb_build_object('person', {PERSON_ID}, 'apps', to_jsonb({ALLOWED_APP_IDS}))"
        ),
        render=lambda person: person.section_echo,
        schema=serializers.DictField,
    )
    monkeypatch.setitem(person_sections._sections, section.name, section)
    return section


def test_a_section_finds_its_person_and_a_restricted_keys_apps(
    echo_section, miniprogram, h5, actor
):
    # Given a person and a section written against the names of person_sections
    person = resolve_identity(app=miniprogram, openid="oEcho1", actor=actor).person
    # When the person is read for every app, and for a key restricted to two apps
    anyone = read_person("public_id", [person.public_id])
    restricted = read_person(
        "public_id", [person.public_id], allowed_app_ids={h5.pk, miniprogram.pk}
    )
    # Then the section sees the person's pk, and the restricted read also the key's apps
    assert anyone.section_echo == {"person": person.pk}
    assert restricted.section_echo == {
        "person": person.pk,
        "apps": sorted([miniprogram.pk, h5.pk]),
    }
