"""The admin in Chinese: the main pages, over data like the demo's, show no English word.

The text a person reads (the page's text, a button's value, a title or a placeholder) is tokenised
into runs of ASCII letters; every run must be Chinese's own vocabulary of technical names
(ALLOWED) or an identifier of the data on the page (its keys, appids, openids, ...). A new label
left out of gettext, or a msgid left untranslated in locale/, fails here with its word.
"""

import json
import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import translation

from identity.models import AppKind, AuditEntry, MergeReason, MergeRecord, Person
from identity.services.merge import merge_persons
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from profiles.models import Event, EventType, PersonStats, Segment, Tag, TagGroup, TagKind
from profiles.services.definitions import save_segment, save_tag
from profiles.services.event_types import register_event_type
from profiles.services.ingest import ingest_events
from profiles.services.tags import assign_tags
from tests.clock import iso_ago
from tests.factories import SYSTEM, ApiKeyFactory, AppFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def default_language(settings):
    """A request in Chinese leaves Chinese active in the thread (LocaleMiddleware activates it
    and nothing deactivates it): give the tests after these the default language back."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


ZH = {"headers": {"accept-language": "zh-hans"}}

# Words that stay as they are in the Chinese admin, each for a reason:
ALLOWED = {
    # platforms and the identifiers they name, as Chinese operators call them
    "WeChat", "Alipay", "Douyin", "openid", "unionid", "appid",
    # formats and abbreviations the Chinese text uses too (API 密钥, 下载 CSV, 公开 ID)
    "API", "JSON", "CSV", "ID",
    # the preset tag VIP, a loanword, and the worker process of the jobs pages
    "VIP", "worker",
}  # fmt: skip
ALLOWED_LOWER = {word.lower() for word in ALLOWED}  # "Openid" heads a column
# Attribute values a person reads (not alt: Django's own icons say "True" and "Search" there).
SHOWN_ATTRIBUTES = {"title", "placeholder", "aria-label"}
SKIPPED_ELEMENTS = {"script", "style", "template", "noscript"}
# Audit values are JSON, drawn as nested key: value lists (identity/admin/words.py).
JSON_AS_LIST = "key-values"
TOKEN = re.compile(r"[A-Za-z0-9_.@:/#%+=-]+")
WORD = re.compile(r"[A-Za-z]+")
# The condition builder's words reach its script as JSON (profiles/admin/condition_builder.py).
VOCABULARY = re.compile(
    r'<script id="[^"]*_vocabulary" type="application/json">(.*?)</script>', re.S
)
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


class ShownText(HTMLParser):
    """The text of a page as a person reads it, leaving out what is marked as another
    language (`lang="en"`: the language switch names English in English)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []

    @property
    def hidden(self) -> bool:
        return any(hidden for _, hidden in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        hidden = (
            tag in SKIPPED_ELEMENTS
            or (attrs.get("lang") or "zh").lower().startswith("en")
            or JSON_AS_LIST in (attrs.get("class") or "").split()
        )
        if tag not in VOID_ELEMENTS:
            self.stack.append((tag, hidden))
        if self.hidden or hidden:
            return
        self.parts.extend(
            value for name, value in attrs.items() if name in SHOWN_ATTRIBUTES and value
        )
        if tag in {"input", "button"} and attrs.get("type") in {"submit", "button", "reset"}:
            self.parts.append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data):
        if not self.hidden and not is_json(data):
            self.parts.append(data)


VOID_ELEMENTS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
}  # fmt: skip


def is_json(text: str) -> bool:
    """Conditions and audit values shown as JSON are data, in the language of the API."""
    text = text.strip()
    if not text.startswith(("{", "[")):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def shown_text(html: str) -> str:
    parser = ShownText()
    parser.feed(html)
    return " ".join(parser.parts)


def english_words(text: str, identifiers: set[str]) -> set[str]:
    """The words of ASCII letters in `text` that are neither allowed nor part of an identifier.

    A token holding a digit or an underscore (appids, openids, keys, hashes, times), or a colon,
    a slash or a dot between letters (API scopes, time zones, file names) is an identifier as a
    whole; so is one that names a known identifier of the data.
    """
    found = set()
    for token in TOKEN.findall(text):
        token = token.strip(".:/#%+=-")
        if not token or re.search(r"[0-9_@]|\w[:/.]\w", token) or token in identifiers:
            continue
        found.update(word for word in WORD.findall(token) if word.lower() not in ALLOWED_LOWER)
    return found


def builder_text(html: str) -> str:
    """The words the condition builder's script shows: every label and message of its
    vocabulary, without their placeholders."""
    texts = []

    def collect(value, key=""):
        if isinstance(value, dict):
            for name, item in value.items():
                collect(item, name if key != "messages" else "message")
        elif isinstance(value, list):
            for item in value:
                collect(item, key)
        elif isinstance(value, str) and key in {"label", "message"}:
            texts.append(PLACEHOLDER.sub(" ", value))

    for vocabulary in VOCABULARY.findall(html):
        data = json.loads(vocabulary)
        collect({key: item for key, item in data.items() if key != "messages"})
        collect(data["messages"], "messages")
    return " ".join(texts)


def admin_url(model, view: str, *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


@pytest.fixture
def demo_like(db):
    """Apps of each kind, persons with identities, phones, events, stats, tags (presets and
    rule tags refreshed), a segment, a merge, audit entries, an API key and a staff group."""
    shop = AppFactory(appid="wxa0000000000000a1", kind=AppKind.MINIPROGRAM, name="商城小程序")
    account = AppFactory(appid="wxa0000000000000a2", kind=AppKind.SERVICE_ACCOUNT, name="服务号")
    pages = AppFactory(appid="wxa0000000000000a3", kind=AppKind.H5, name="活动页")
    first = resolve_identity(app=shop, openid="oShop1", unionid="uShared1", actor=SYSTEM).person
    resolve_identity(app=account, openid="oAccount1", unionid="uShared1", actor=SYSTEM)
    second = resolve_identity(app=pages, openid="oPage2", actor=SYSTEM).person
    bind_phone(person=first, phone="13812345678", actor=SYSTEM)
    register_event_type(key="trial_start", name="开始试用", actor=SYSTEM)
    result = ingest_events(
        events=[
            {
                "event_id": "e1",
                "appid": shop.appid,
                "openid": "oShop1",
                "type": "view",
                "occurred_at": iso_ago(days=3),
            },
            {
                "event_id": "e2",
                "appid": shop.appid,
                "openid": "oShop1",
                "type": "pay",
                "amount": "88.00",
                "channel": "store_qr",
                "occurred_at": iso_ago(days=2),
            },
            {
                "event_id": "e3",
                "appid": shop.appid,
                "openid": "oShop3",
                "type": "trial_start",
                "occurred_at": iso_ago(days=1),
            },
        ],
        actor=SYSTEM,
    )
    assert result.errors == []
    group = TagGroup.objects.create(key="interest_beauty", name="兴趣")
    save_tag(
        tag=Tag(key="paid_once", name="付费用户", kind=TagKind.RULE, group=group,
                condition={"field": "pay_count", "op": ">=", "value": 1}),
        actor=SYSTEM,
    )  # fmt: skip
    assign_tags(person=first, keys=["vip"], actor=SYSTEM)
    save_segment(
        segment=Segment(key="vip_buyers", name="付费会员", condition={"all": [
            {"tag": "vip"}, {"field": "pay_count", "op": ">=", "value": 1}]}),
        actor=SYSTEM,
    )  # fmt: skip
    merge_persons(first=first, second=second, reason=MergeReason.MANUAL, actor=SYSTEM)
    # Two live persons to merge by hand (pages and service account), a third that cannot join
    # the first (both hold an openid in the mini-program)
    resolve_identity(app=pages, openid="oPage3", actor=SYSTEM)
    resolve_identity(app=account, openid="oAccount4", actor=SYSTEM)
    resolve_identity(app=shop, openid="oShop5", actor=SYSTEM)
    ApiKeyFactory.with_plaintext(name="后端", apps=[shop.appid])
    Group.objects.create(name="运营")
    first.refresh_from_db()
    return first.merged_into or first


def pages(person: Person) -> dict[str, str]:
    """The main admin pages, by what they show."""
    rule_tag = Tag.objects.get(key="paid_once")
    reports = [
        reverse(f"admin:analytics_report_{name}")
        for name in ("retention", "funnel", "lifecycle", "active", "acquisition", "settle")
    ]
    return {
        "index": reverse("admin:index"),
        "persons": admin_url(Person, "changelist"),
        "person": admin_url(Person, "change", person.pk),
        "tags": admin_url(Tag, "changelist"),
        "rule tag": admin_url(Tag, "change", rule_tag.pk),
        "add tag": admin_url(Tag, "add"),
        "preset tag": admin_url(Tag, "change", Tag.objects.get(key="new").pk),
        "manual preset tag": admin_url(Tag, "change", Tag.objects.get(key="vip").pk),
        "segments": admin_url(Segment, "changelist"),
        "segment": admin_url(Segment, "change", Segment.objects.get(key="vip_buyers").pk),
        "add segment": admin_url(Segment, "add"),
        "tag groups": admin_url(TagGroup, "changelist"),
        "event types": admin_url(EventType, "changelist"),
        "events": reverse("admin:profiles_event_changelist"),
        "merges": admin_url(MergeRecord, "changelist"),
        "merge": admin_url(MergeRecord, "change", MergeRecord.objects.get().pk),
        "undo merge": reverse(
            "admin:identity_mergerecord_undo", args=[MergeRecord.objects.get().pk]
        ),
        "audit": admin_url(AuditEntry, "changelist"),
        "person history": admin_url(AuditEntry, "changelist") + f"?person={person.pk}",
        **{
            f"audit entry {action}": admin_url(AuditEntry, "change", pk)
            for action, pk in audit_entry_per_action().items()
        },
        "api keys": reverse("admin:identity_apikey_changelist"),
        "apps": reverse("admin:identity_app_changelist"),
        "reports": reverse("admin:analytics_report_changelist"),
        **{f"report {url}": url for url in reports},
        "job runs": reverse("admin:jobs_jobrun_changelist"),
        "scheduled jobs": reverse("admin:jobs_scheduledjob_changelist"),
        "staff users": reverse("admin:auth_user_changelist"),
        "groups": reverse("admin:auth_group_changelist"),
    }


def audit_entry_per_action() -> dict[str, int]:
    """The first audit entry of each action the data holds."""
    first = {}
    for action, pk in AuditEntry.objects.order_by("pk").values_list("action", "pk"):
        first.setdefault(action, pk)
    return first


def actions(person: Person) -> dict[str, tuple[str, dict]]:
    """The pages that admin actions answer with before they act, by what they show."""
    two = Person.objects.filter(identities__openid__in=["oPage3", "oAccount4"])
    clash = Person.objects.filter(identities__openid="oShop5").get()
    segment = Segment.objects.get(key="vip_buyers")
    merge = admin_url(Person, "changelist")
    return {
        "merge preview": (merge, selected("merge_two_persons", *two)),
        "merge refused": (merge, selected("merge_two_persons", person, clash)),
        "wechat tag sync": (admin_url(Segment, "changelist"), selected("sync_wechat_tag", segment)),
    }


def selected(action: str, *objects) -> dict:
    return {"action": action, "_selected_action": [obj.pk for obj in objects]}


# What some pages must draw for their check to mean something, by page.
DRAWN = {
    "person": ('class="person-why', 'class="person-history"'),
    "rule tag": ('class="condition-builder"',),
    "add tag": ('class="condition-builder"',),
    "segment": ('class="condition-builder"',),
    "add segment": ('class="condition-builder"',),
    "undo merge": ('id="confirm-undo"',),
    "merge preview": ('data-side="loser"',),
    "wechat tag sync": ('name="appid"',),
}


def identifiers_of_the_data() -> set[str]:
    """What the pages show as stored: keys of tags, groups, segments and event types, and the
    labels of the actors that name themselves (the superuser's username, the tests' system
    actor); the known system actors (jobs, rules) are said in words."""
    keys = set()
    for model in (Tag, TagGroup, Segment, EventType):
        keys.update(model.objects.values_list("key", flat=True))
    keys.update(AuditEntry.objects.exclude(actor_type="system").values_list("actor", flat=True))
    return keys | {"admin", SYSTEM.label}


def english_of(name: str, response, identifiers: set[str]) -> list[str]:
    html = response.content.decode()
    missing = [marker for marker in DRAWN.get(name, ()) if marker not in html]
    assert not missing, (name, missing)
    text = shown_text(html) + " " + builder_text(html)
    return sorted(english_words(text, identifiers))


def test_the_main_admin_pages_show_no_english_in_chinese(admin_client, demo_like):
    # Given an admin over demo-like data, when each main page is read in Chinese
    identifiers = identifiers_of_the_data()
    english = {}
    with translation.override("zh-hans"):
        for name, url in pages(demo_like).items():
            response = admin_client.get(url, **ZH)
            assert response.status_code == 200, (name, url, response.status_code)
            english[name] = english_of(name, response, identifiers)
        # and each action's confirmation page (the merge preview, the WeChat tag sync)
        for name, (url, form) in actions(demo_like).items():
            response = admin_client.post(url, form, **ZH)
            assert response.status_code == 200, (name, url, response.status_code)
            english[name] = english_of(name, response, identifiers)
    english = {name: words for name, words in english.items() if words}
    # Then no page holds a word of English outside the allowed technical names
    assert not english, "English in the Chinese admin:\n" + "\n".join(
        f"{name}: {' '.join(words)}" for name, words in english.items()
    )


def test_the_check_reads_the_condition_builders_words():
    # Given a builder's vocabulary with an English label and a placeholder in a message
    vocabulary = {
        "fields": [{"value": "pay_count", "label": "Payments", "type": "number"}],
        "messages": {"unknown": "未知 %(value)s"},
    }
    html = (
        '<script id="id_condition_vocabulary" type="application/json">'
        f"{json.dumps(vocabulary)}</script>"
    )
    # When its words are checked, then the label is found and the placeholder is not
    assert english_words(builder_text(html), set()) == {"Payments"}


def test_the_check_sees_an_english_label():
    # Given a page with an English label among Chinese and identifiers
    html = (
        '<h1>用户</h1><label title="Search">搜索</label><p>oShop1 wxa0000000000000a1 vip</p>'
        '<script>var label = "Hidden";</script><button lang="en">English</button>'
        '<input type="submit" value="Save">'
    )
    # When its words are checked, then the label, the title and the button's value are found
    assert english_words(shown_text(html), {"vip"}) == {"Search", "Save"}


def test_the_events_menu_and_the_event_count_are_two_words(admin_client):
    # "events" names the model (the menu) and counts a person's events (the stats): two msgids
    index = admin_client.get(reverse("admin:index"), **ZH).content.decode()
    assert f'<a href="{reverse("admin:profiles_event_changelist")}">事件</a>' in index
    with translation.override("zh-hans"):
        assert str(Event._meta.verbose_name_plural) == "事件"
        assert str(PersonStats._meta.get_field("event_count").verbose_name) == "事件数"


def test_a_preset_tag_reads_in_chinese_on_its_form_and_keeps_its_stored_defaults(admin_client):
    # Given the preset "new", its name and description still the English defaults
    tag = Tag.objects.get(key="new")
    url = admin_url(Tag, "change", tag.pk)
    with translation.override("zh-hans"):
        # When its form is read in Chinese, then both are in Chinese
        form = admin_client.get(url, **ZH).context["adminform"].form
        shown = {"name": form.initial["name"], "description": form.initial["description"]}
        assert shown == {"name": "新用户", "description": "7 天内首次出现。"}
        # When it is saved with the name unchanged and a description of the operator's own
        data = {
            "name": shown["name"],
            "group": tag.group_id,
            "kind": tag.kind,
            "condition": json.dumps(tag.condition),
            "description": "最近 7 天第一次来的用户",
            "_save": "1",
        }
        response = admin_client.post(url, data, **ZH)
    # Then the name stays the stored default (English reads "New") and the description is theirs
    assert response.status_code == 302, response.context["adminform"].form.errors
    tag.refresh_from_db()
    assert (tag.name, tag.description) == ("New", "最近 7 天第一次来的用户")
    assert str(tag) == "New"
