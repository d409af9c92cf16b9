"""Audit and merge values in words for staff: actors, actions, before/after as key: value lists.

The rows keep machine labels (`admin:alice`, `person.merge`) for tools and exports; the admin
pages show these instead, so that staff read what happened without knowing the codes.
"""

from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from identity.admin.common import EMPTY
from identity.models.audit import ActorType

# Every action a service of this project writes; an unknown one is shown as stored.
ACTIONS = {
    "api_key.create": _("API key created"),
    "api_key.revoke": _("API key revoked"),
    "app.create": _("App created"),
    "app.update": _("App changed"),
    "app.credentials": _("App credentials changed"),
    "identity.create": _("Person created"),
    "identity.link": _("Openid linked"),
    "identity.follow": _("Follow state changed"),
    "unionid.link": _("Unionid linked"),
    "person.merge": _("Persons merged"),
    "merge.undo": _("Merge undone"),
    "person.erase": _("Personal data erased"),
    "person.erase_apps": _("Personal data of some apps erased"),
    "phone.bind": _("Phone number bound"),
    "phone.move": _("Phone number moved"),
    "keys.rotate": _("Personal-data key rotated"),
    "tag.create": _("Tag created"),
    "tag.update": _("Tag changed"),
    "tag.delete": _("Tag deleted"),
    "tag.refresh": _("Rule tag refreshed"),
    "tag.assign": _("Tags assigned"),
    "tag.assign_set": _("Tag given to a list of persons"),
    "tag.remove": _("Tag removed"),
    "tag.bulk_assign": _("Tag given to selected persons"),
    "tag.bulk_remove": _("Tag taken from selected persons"),
    "tag_group.create": _("Tag group created"),
    "tag_group.update": _("Tag group changed"),
    "tag_group.delete": _("Tag group deleted"),
    "segment.create": _("Segment created"),
    "segment.update": _("Segment changed"),
    "segment.delete": _("Segment deleted"),
    "segment.export": _("Segment members exported"),
    "segment.wechat_sync": _("Segment synced to a WeChat tag"),
    "event_type.create": _("Event type created"),
    "event_type.update": _("Event type changed"),
    "event_type.delete": _("Event type deleted"),
    "followers.import": _("Followers imported"),
    "openid.migrate": _("Openids migrated to a new account"),
}


def action_in_words(code: str) -> str:
    return str(ACTIONS.get(code, code))


# The labels of the system actors this project's jobs, pipelines and migrations write
# (`Actor.system(...)`), in words; the English words are the stored labels themselves.
SYSTEM_ACTORS = {
    "event pipeline": _("event pipeline"),
    "rule refresh after merge": _("rule refresh after merge"),
    "schedule: rule tags": _("schedule: rule tags"),
    "schedule: date rules": _("schedule: date rules"),
    "schedule: WeChat tag sync": _("schedule: WeChat tag sync"),
    "schedule: follower import": _("schedule: follower import"),
    "wechat_callback": _("WeChat push"),
    "migration: lifecycle stages": _("migration: lifecycle stages"),
}
# The management commands that act as a system actor under their own name.
COMMANDS = {
    "create_app",
    "create_api_key",
    "rotate_personal_data_key",
    "refresh_rule_tags",
    "wechat_change_openid",
    "wechat_import_followers",
    "wechat_sync_segment",
    "load_demo",
}


def system_actor_in_words(label: str) -> str:
    """A known job, pipeline or command in words; any other label as stored."""
    if label in SYSTEM_ACTORS:
        return str(SYSTEM_ACTORS[label])
    if label in COMMANDS:
        return gettext("command %(name)s") % {"name": label}
    return label


def actor_in_words(actor_type: str, label: str) -> str:
    """Name who acted, the same on every page: "Staff user alice", "API key shop (ab12cd34)"
    (the prefix tells apart keys of one name, an old and its replacement), "System: <job>"."""
    if actor_type == ActorType.ADMIN:
        return gettext("Staff user %(name)s") % {"name": label}
    if actor_type == ActorType.API_KEY:
        return gettext("API key %(name)s") % {"name": label}
    if actor_type == ActorType.SYSTEM:
        return gettext("System: %(what)s") % {"what": system_actor_in_words(label)}
    return label


def parse_stored_actor(stored: str) -> tuple[str, str] | None:
    """Split an actor stored as `str(Actor)` ("type:label", as merge records and tag
    assignments keep it) into (type, label); None when it is not of that form."""
    actor_type, _sep, label = (stored or "").partition(":")
    if actor_type in ActorType.values and label:
        return actor_type, label
    return None


def stored_actor_in_words(stored: str) -> str:
    """An actor stored as "type:label" in words (`actor_in_words`); another text as stored."""
    parsed = parse_stored_actor(stored)
    return actor_in_words(*parsed) if parsed else stored


# The keys services write into before/after most; others are shown as stored, humanised.
KEYS = {
    "id": _("id"),
    "app": _("app"),
    "apps": _("apps"),
    "appid": _("appid"),
    "openid": _("openid"),
    "unionid": _("unionid"),
    "unionids": _("unionids"),
    "identity": _("identity"),
    "identities": _("identities"),
    "phone": _("phone"),
    "survivor": _("survivor"),
    "loser": _("loser"),
    "merged_into": _("merged into"),
    "merge_record": _("merge record"),
    "moved_from": _("moved from"),
    "tags": _("tags"),
    "persons": _("persons"),
    "added": _("added"),
    "removed": _("removed"),
    "failed": _("failed"),
    "error": _("error"),
    "scope": _("scope"),
    "scopes": _("scopes"),
    "platform": _("platform"),
    "followed": _("followed"),
    "created": _("created"),
}


def key_in_words(key: str) -> str:
    return capfirst(str(KEYS.get(key) or str(key).replace("_", " ")))


def value_in_words(value: Any) -> SafeString | str:
    """A JSON value as nested key: value lists (escaped); scalars as text."""
    if isinstance(value, dict):
        if not value:
            return EMPTY
        return format_html(
            '<ul class="key-values">{}</ul>',
            format_html_join(
                "",
                "<li><b>{}:</b> {}</li>",
                ((key_in_words(key), value_in_words(item)) for key, item in value.items()),
            ),
        )
    if isinstance(value, list):
        if not value:
            return EMPTY
        if all(not isinstance(item, dict | list) for item in value):
            return ", ".join(str(value_in_words(item)) for item in value)
        return format_html(
            "<ol>{}</ol>",
            format_html_join("", "<li>{}</li>", ((value_in_words(i),) for i in value)),
        )
    if value is None or value == "":
        return EMPTY
    if value is True:
        return gettext("yes")
    if value is False:
        return gettext("no")
    return str(value)
