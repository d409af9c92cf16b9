"""The parts of a person and of a merge record, as rows of (label, values) for the merge pages.

Both the manual merge's preview and the merge record (and its undo) show the same things the
same way: identities as app name and openid, unionids, the phone masked, then what the other
apps hold (tags, stats) or moved; links to persons, times in the admin's time zone.
The apps that register a section say its values in their words (`register_section_describer`);
a section without one is shown by its keys, humanised.
"""

from collections.abc import Callable
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identity.admin.common import EMPTY, local_time
from identity.admin.merge_notes import describe_notes
from identity.admin.words import key_in_words
from identity.merge_reads import MovedIdentifiers, moved_identifiers_many
from identity.models import MergeRecord, Person
from identity.person_sections import sections

Rows = list[tuple[str, list[str]]]
# The labels of the sections profiles registers (identity.person_sections has no labels).
SECTION_LABELS = {"tags": gettext_lazy("tags"), "stats": gettext_lazy("stats")}
# (rendered section) -> its values in words, from the app that registered the section.
SectionDescriber = Callable[[Any], list[str]]
# (the notes of one mover, one per record of a page) -> the same notes, each ready to be said
# without a query of its own (the undo page shows up to 20 records).
NotesPreparer = Callable[[list[Any]], list[Any]]

_section_describers: dict[str, SectionDescriber] = {}
_notes_preparers: dict[str, NotesPreparer] = {}


def register_section_describer(name: str, describe: SectionDescriber) -> None:
    """Register (or replace, on reload) how the merge pages say the values of section `name`."""
    _section_describers[name] = describe


def register_notes_preparer(name: str, prepare: NotesPreparer) -> None:
    """Register (or replace) how the notes of mover `name` are read for many records at once."""
    _notes_preparers[name] = prepare


def person_link(person: Person) -> str:
    url = reverse("admin:identity_person_change", args=[person.pk])
    return format_html('<a href="{}" data-person="{}">{}</a>', url, person.pk, person.public_id)


def _scalar(value: Any) -> str:
    if isinstance(value, str) and (moment := _moment(value)) is not None:
        return local_time(moment)
    if value is None or value == "":
        return EMPTY
    return str(value)


def _moment(text: str):
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None
    return moment if moment is not None and timezone.is_aware(moment) else None


def section_values(value: Any, label: Callable[[str], str] = key_in_words) -> list[str]:
    """A section of the person representation in words, whatever app registered it.

    A list of named things (tags) gives their names; an object (stats) its scalar entries,
    each named by `label` (the key humanised, unless the app names its keys).
    """
    if isinstance(value, list):
        return [
            str(item.get("name") or item.get("key")) for item in value if isinstance(item, dict)
        ]
    if isinstance(value, dict):
        scalars = {key: item for key, item in value.items() if not isinstance(item, dict | list)}
        nested = [item for item in value.values() if isinstance(item, dict)]
        if not scalars and len(nested) == 1:  # {"stats": {...}, "events": {...}}
            scalars = nested[0]
        return [
            f"{label(key)}: {_scalar(item)}"
            for key, item in scalars.items()
            if not isinstance(item, dict | list) and item not in (None, "")
        ]
    return [] if value is None else [str(value)]


def person_rows(person: Person, app_names: dict[int, str]) -> Rows:
    """What a person read by `read_persons` holds: identifiers first, then each section."""
    rows: Rows = [
        (
            _("identities"),
            [
                f"{app_names.get(row['app_id'], row['appid'])}: {row['openid']}"
                for row in person.identity_rows
            ],
        ),
        (_("unionids"), [f"{row['platform']}: {row['unionid']}" for row in person.unionid_rows]),
        (_("phone"), [person.phone_masked] if person.phone_encrypted else []),
    ]
    for section in sections():
        if hasattr(person, f"section_{section.name}"):
            label = SECTION_LABELS.get(section.name) or key_in_words(section.name)
            describe = _section_describers.get(section.name, section_values)
            rows.append((label, describe(section.render(person))))
    return rows


def moved_rows(record: MergeRecord) -> Rows:
    """What a merge moved from the loser to the survivor, by value, without raw pks."""
    return moved_rows_many([record])[record.pk]


def moved_rows_many(records: list[MergeRecord]) -> dict[int, Rows]:
    """`moved_rows` of each record by pk, in a fixed number of queries however many records."""
    moved = moved_identifiers_many(records)
    notes = {pk: dict(found.notes) for pk, found in moved.items()}
    for name, prepare in _notes_preparers.items():
        holders = [pk for pk in notes if name in notes[pk]]
        for pk, note in zip(holders, prepare([notes[pk][name] for pk in holders]), strict=True):
            notes[pk][name] = note
    return {pk: _rows(found, notes[pk]) for pk, found in moved.items()}


def _rows(moved: MovedIdentifiers, notes: dict[str, Any]) -> Rows:
    rows: Rows = [
        (_("identities"), [f"{app}: {openid}" for app, openid in moved.identities]),
        (_("unionids"), [f"{platform}: {unionid}" for platform, unionid in moved.unionids]),
        (_("phone"), [] if moved.phone is None else [moved.phone or EMPTY]),
    ]
    if moved.tombstones:
        rows.append(
            (_("persons merged into the loser before"), list(map(person_link, moved.tombstones)))
        )
    if moved.missing:
        rows.append((_("erased since"), [_("%(count)d identifiers") % {"count": moved.missing}]))
    rows.extend(describe_notes(notes))
    return rows
