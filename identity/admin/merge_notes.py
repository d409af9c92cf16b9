"""What the apps built on identity say, in words, about the notes their movers keep.

A merge record keeps, under each mover's name, what that app moved (profiles: tags, events),
by pk. Identity cannot read those models, so each app registers a describer from its own admin
module; a note without one is shown only by its name, never as raw JSON.
"""

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext_lazy as _

from identity.admin.words import key_in_words

# (note) -> rows of (label, [values in words]) for the merge record page.
Describer = Callable[[Any], list[tuple[str, list[str]]]]

_describers: dict[str, Describer] = {}


def register_merge_note(name: str, describe: Describer) -> None:
    """Register (or replace, on reload) the describer of the note of mover `name`."""
    _describers[name] = describe


def describe_notes(notes: dict[str, Any]) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []
    for name, note in notes.items():
        describe = _describers.get(name)
        if describe is None:
            rows.append((key_in_words(name), [str(_("moved with the person"))]))
        else:
            rows.extend(describe(note))
    return rows
