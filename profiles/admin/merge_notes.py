"""Profiles in words on the merge pages: which tags came from the loser, whose events (the
record's notes), and a person's tags and stats (the preview's sections)."""

from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from identity.admin.merge_notes import register_merge_note
from identity.admin.merge_parts import (
    register_notes_preparer,
    register_section_describer,
    section_values,
)
from identity.admin.words import key_in_words
from profiles.models import PersonStats, Tag
from profiles.presets import tag_name

NAMES = "_tag_names"  # what `prepare_tags` adds to a note: {tag pk: name}


def _tag_names(pks) -> dict[int, str]:
    return {
        pk: tag_name(key, name)
        for pk, key, name in Tag.objects.filter(pk__in=pks).values_list("pk", "key", "name")
    }


def prepare_tags(notes: list[dict]) -> list[dict]:
    """Name the tags of many records' notes in one query (the undo page shows up to 20)."""
    names = _tag_names({row["tag_id"] for note in notes for row in note.get("loser", [])})
    return [{**note, NAMES: names} for note in notes]


def describe_tags(note: dict) -> list[tuple[str, list[str]]]:
    """The loser's tags by name (the note keeps tag pks); a deleted tag by its former pk."""
    if note.get("erased"):
        return [(_("tags"), [_("not kept: a person of this merge was erased")])]
    rows = note.get("loser", [])
    names = note[NAMES] if NAMES in note else _tag_names([row["tag_id"] for row in rows])
    return [
        (
            _("tags"),
            [names.get(row["tag_id"]) or _("a deleted tag") for row in rows],
        )
    ]


def describe_events(note: dict) -> list[tuple[str, list[str]]]:
    count = len(note.get("origins", []))
    text = ngettext(
        "the events, stats and daily activity of %(count)d person",
        "the events, stats and daily activity of %(count)d persons "
        "(the loser and those merged into it)",
        count,
    ) % {"count": count}
    return [(_("events"), [text])]


def held_tag_names(tags: list) -> list[str]:
    """The tags section of a person: the names (a preset's in the operator's language)."""
    return [
        tag_name(tag.get("key") or "", tag.get("name") or tag.get("key") or "")
        for tag in tags or []
        if isinstance(tag, dict)
    ]


def stat_label(key: str) -> str:
    """A key of the stats section by the name of its column, as the person page says it."""
    try:
        return capfirst(PersonStats._meta.get_field(key).verbose_name)
    except FieldDoesNotExist:
        return key_in_words(key)


def stats_values(stats) -> list[str]:
    return section_values(stats, stat_label)


def register() -> None:
    register_merge_note("tags", describe_tags)
    register_notes_preparer("tags", prepare_tags)
    register_merge_note("events", describe_events)
    register_section_describer("tags", held_tag_names)
    register_section_describer("stats", stats_values)
