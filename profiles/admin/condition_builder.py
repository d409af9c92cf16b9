"""The visual condition builder of the tag and segment forms: its widget and its vocabulary.

Operations staff build a condition from rows of dropdowns (condition_builder.js) instead of
typing JSON. The JSON box stays the field that is submitted, visible and editable: the script
keeps it and the rows in step, and without JavaScript the box works alone, as before. The
vocabulary (fields with their types, operators per type, apps, tags, event types) is read and
translated here, on the server, and handed to the script with json_script: the script knows no
word of its own, so the page is in the staff's language.
"""

from django import forms
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from identity.models import App, AppKind
from profiles.conditions.grammar import (
    FIELDS,
    LEAVES,
    MAX_COUNT,
    MAX_DAYS,
    MAX_DEPTH,
    MAX_NODES,
    MAX_TEXT,
)
from profiles.conditions.labels import (
    FIELD_LABELS,
    GROUP_LABELS,
    KIND_LABELS,
    OPERATOR_LABELS,
    OPERATORS_BY_TYPE,
    field_type,
)
from profiles.event_type_names import event_type_name
from profiles.models import EventType, Tag
from profiles.presets import tag_name

COUNT_URL_NAME = "admin:profiles_condition_count"


def _choice(value: str, label) -> dict:
    return {"value": value, "label": str(label)}


def vocabulary() -> dict:
    """What a condition may name, with the words to show for it (three queries).

    Apps read "name (appid)", tags "name (key)": staff know the names, the JSON holds the keys.
    Preset tags and built-in event types go by their names in the staff's language.
    """
    apps = App.objects.order_by("name", "appid").values_list("appid", "name", "kind")
    tags = Tag.objects.order_by("key").values_list("key", "name")
    event_types = EventType.objects.order_by("key").values_list("key", "name")
    return {
        "kinds": [_choice(kind, KIND_LABELS[kind]) for kind in LEAVES],
        "groups": [_choice(op, label) for op, label in GROUP_LABELS.items()],
        "fields": [
            {**_choice(field, FIELD_LABELS[field]), "type": field_type(field)} for field in FIELDS
        ],
        "operators": {
            kind: [_choice(op, OPERATOR_LABELS[op]) for op in ops]
            for kind, ops in OPERATORS_BY_TYPE.items()
        },
        "apps": [
            {
                **_choice(appid, f"{name} ({appid})"),
                "service_account": kind == AppKind.SERVICE_ACCOUNT,
            }
            for appid, name, kind in apps
        ],
        "tags": [_choice(key, f"{tag_name(key, name)} ({key})") for key, name in tags],
        "event_types": [
            _choice(key, f"{event_type_name(key, name)} ({key})") for key, name in event_types
        ],
        "limits": {
            "max_days": MAX_DAYS,
            "max_count": MAX_COUNT,
            "max_text": MAX_TEXT,
            "max_depth": MAX_DEPTH,
            "max_nodes": MAX_NODES,
        },
        "messages": messages(),
    }


def messages() -> dict[str, str]:
    """The builder's own words, translated here since the script has no gettext."""
    return {
        "title": _("Condition builder"),
        "empty": _("No condition yet: add a condition or a group."),
        "add_condition": _("Add condition"),
        "add_group": _("Add group"),
        "remove": _("Remove"),
        "negate": _("not"),
        "yes_phone": _("has a phone number"),
        "no_phone": _("has no phone number"),
        "days": _("days"),
        "within_days": _("in the last"),
        "min_count": _("at least (times)"),
        "max_count": _("at most (times)"),
        "unknown": _("unknown: %(value)s"),
        "raw": _("Edited as JSON only:"),
        "invalid_json": _("The JSON is not valid, so the builder was left as it was: %(error)s"),
        "counting": _("Counting…"),
        # The script picks the form; Chinese has one, English two (ngettext's own choice).
        "match_one": ngettext("%(count)s person matches", "%(count)s persons match", 1),
        "match_other": ngettext("%(count)s person matches", "%(count)s persons match", 2),
        "count_failed": _("The count failed."),
        "no_count": _("Fix the errors to see how many persons match."),
    }


class ConditionBuilderWidget(forms.Textarea):
    """The condition's JSON box with the builder drawn above it by the script.

    `forbidden_tag` is the key of the rule tag being edited: the live count refuses a
    condition that depends on it, as saving would.
    """

    template_name = "admin/profiles/condition_builder_widget.html"

    class Media:
        css = {"all": ["profiles/condition_builder.css"]}
        js = ["profiles/condition_builder.js"]

    def __init__(self, attrs=None, forbidden_tag: str | None = None):
        defaults = {"rows": 14, "cols": 60, "spellcheck": "false", "class": "condition-json"}
        super().__init__({**defaults, **(attrs or {})})
        self.forbidden_tag = forbidden_tag

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget_id = context["widget"]["attrs"].get("id") or f"id_{name}"
        context["builder"] = {
            "id": f"{widget_id}_builder",
            "vocabulary_id": f"{widget_id}_vocabulary",
            "vocabulary": vocabulary(),
            "count_url": reverse(COUNT_URL_NAME),
            "forbidden_tag": self.forbidden_tag or "",
            "textarea_id": widget_id,
        }
        return context
