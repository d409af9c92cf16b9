"""The names of the preset tags and groups, and the tags' descriptions, in the operator's language.

The presets are database rows (migrations 0004 and 0017) whose names and descriptions are stored
in English. A row whose stored text is still the preset's default shows the translation of that
default; a text an operator changed is theirs and is shown as stored. The tag form shows the
translation too and stores the default back when it comes back unchanged (`stored_tag_text`).
`Tag.__str__` and `TagGroup.__str__` go through here, so every admin page that names a tag
(lists, filters, the autocomplete, the assignments inline, the person's "Why" section) shows the
translated name.
"""

from django.utils.translation import gettext_lazy as _

# key -> (stored default name, its translation)
PRESET_TAGS = {
    "new": ("New", _("New")),
    "active": ("Active", _("Active")),
    "cooling": ("Cooling", _("Cooling")),
    "dormant": ("Dormant", _("Dormant")),
    "churned": ("Churned", _("Churned")),
    "repeat_buyer": ("Repeat buyer", _("Repeat buyer")),
    "high_value": ("High value", _("High value")),
    "vip": ("VIP", _("VIP")),
}
PRESET_GROUPS = {
    "lifecycle": ("Lifecycle", _("Lifecycle")),
    "value": ("Value", _("Value")),
    "interest": ("Interest", _("Interest")),
    "channel": ("Channel", _("Channel")),
}

# key -> {stored default description: its translation}; dormant and churned keep the defaults
# of 0004 when an operator changed their condition (0017 then leaves the description alone).
PRESET_TAG_DESCRIPTIONS = {
    "new": {"First seen within 7 days.": _("First seen within 7 days.")},
    "active": {"Seen within 7 days (and not new).": _("Seen within 7 days (and not new).")},
    "cooling": {"Last seen 8 to 29 days ago.": _("Last seen 8 to 29 days ago.")},
    "dormant": {
        "Last seen 30 to 89 days ago.": _("Last seen 30 to 89 days ago."),
        "Not seen for 30 days (until churned).": _("Not seen for 30 days (until churned)."),
    },
    "churned": {
        "Last seen 90 days ago or more.": _("Last seen 90 days ago or more."),
        "Not seen for 90 days.": _("Not seen for 90 days."),
    },
    "repeat_buyer": {"Two or more payments.": _("Two or more payments.")},
    "high_value": {"Paid 1000 or more in total.": _("Paid 1000 or more in total.")},
    "vip": {"Set by operations staff.": _("Set by operations staff.")},
}


def _shown(presets: dict, key: str, name: str) -> str:
    default, translated = presets.get(key, (None, None))
    return str(translated) if name == default else name


def tag_name(key: str, name: str) -> str:
    """The name to show for a tag: the translated preset name while the stored one is the
    default, else the stored name."""
    return _shown(PRESET_TAGS, key, name)


def group_name(key: str, name: str) -> str:
    """The name to show for a tag group, as `tag_name` does for tags."""
    return _shown(PRESET_GROUPS, key, name)


def tag_description(key: str, description: str) -> str:
    """The description to show for a tag, as `tag_name` does for names."""
    translated = PRESET_TAG_DESCRIPTIONS.get(key, {}).get(description)
    return str(translated) if translated is not None else description


def stored_tag_text(key: str, field: str, shown: str) -> str:
    """What to store for a tag's name or description given as `shown` on the form: the preset's
    default when `shown` is its translation (the form showed it and it came back unchanged),
    else `shown` as given."""
    if field == "name":
        defaults = {PRESET_TAGS[key][0]: PRESET_TAGS[key][1]} if key in PRESET_TAGS else {}
    else:
        defaults = PRESET_TAG_DESCRIPTIONS.get(key, {})
    for default, translated in defaults.items():
        if shown == str(translated):
            return default
    return shown
