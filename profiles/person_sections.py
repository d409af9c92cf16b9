"""The `stats` and `tags` sections that profiles adds to the person representation `P`.

Registered with identity's person read (`identity.person_sections`) when the app is ready, so
that identity shows a person's stats and tags in one statement without importing profiles. Each
section's SQL uses only the names that read binds (`PERSON_ID`, `ALLOWED_APP_IDS`).
"""

from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from rest_framework import serializers

from identity.person_sections import ALLOWED_APP_IDS, PERSON_ID, PersonSection
from profiles.services.stats_updates import LOGIN, PAY


class StatsOut(serializers.Serializer):
    first_seen_at = serializers.DateTimeField(allow_null=True)
    last_seen_at = serializers.DateTimeField(allow_null=True)
    first_channel = serializers.CharField(allow_blank=True)
    last_login_at = serializers.DateTimeField(allow_null=True)
    event_count = serializers.IntegerField()
    pay_count = serializers.IntegerField()
    pay_total = serializers.DecimalField(max_digits=16, decimal_places=2)
    last_pay_at = serializers.DateTimeField(allow_null=True)
    events = serializers.DictField(
        child=serializers.DictField(), help_text="Per event type: count and last_at."
    )


EMPTY_STATS = {
    "first_seen_at": None,
    "last_seen_at": None,
    "first_channel": "",
    "last_login_at": None,
    "event_count": 0,
    "pay_count": 0,
    "pay_total": "0.00",
    "last_pay_at": None,
}

STATS_SQL = f"""(SELECT jsonb_build_object(
    'stats', (SELECT jsonb_build_object(
        'first_seen_at', s.first_seen_at, 'last_seen_at', s.last_seen_at,
        'first_channel', s.first_channel, 'last_login_at', s.last_login_at,
        'event_count', s.event_count, 'pay_count', s.pay_count,
        'pay_total', s.pay_total::text, 'last_pay_at', s.last_pay_at)
      FROM profiles_personstats s WHERE s.person_id = {PERSON_ID}),
    'events', COALESCE((SELECT jsonb_object_agg(e.type, jsonb_build_object(
        'count', e.count, 'last_at', e.last_at))
      FROM profiles_personeventstats e WHERE e.person_id = {PERSON_ID}), '{{}}'::jsonb)))"""  # noqa: S608 - constant SQL text


# A key restricted to apps counts only its apps' events and rollups (DESIGN.md, REST API v1),
# computed here from the same sources and with the same rules as `rebuild_stats`: the stored
# stats add up every app. Events and rollups without an app count for no restricted key.
_OWN_EVENTS = (
    f"FROM profiles_event e WHERE e.person_id = {PERSON_ID} AND e.app_id = ANY({ALLOWED_APP_IDS})"
)
_OWN_ROLLUPS = (
    f"FROM profiles_eventrollup r WHERE r.person_id = {PERSON_ID}"
    f" AND r.app_id = ANY({ALLOWED_APP_IDS})"
)

RESTRICTED_STATS_SQL = f"""(SELECT jsonb_build_object(
    'stats', CASE WHEN count(*) > 0 THEN jsonb_build_object(
        'first_seen_at', min(t.first_at), 'last_seen_at', max(t.last_at),
        'first_channel', COALESCE((SELECT c.channel FROM (
            SELECT e.channel, e.occurred_at AS at, e.id AS event_id
            {_OWN_EVENTS} AND e.channel <> ''
            UNION ALL
            SELECT r.first_channel, r.first_channel_at, r.first_channel_event_id
            {_OWN_ROLLUPS} AND r.first_channel <> ''
          ) AS c ORDER BY c.at, c.event_id LIMIT 1), ''),
        'last_login_at', max(t.last_at) FILTER (WHERE t.type = '{LOGIN}'),
        'event_count', sum(t.count),
        'pay_count', COALESCE(sum(t.count) FILTER (WHERE t.type = '{PAY}'), 0),
        'pay_total',
            COALESCE(sum(t.amount) FILTER (WHERE t.type = '{PAY}'), 0)::numeric(16, 2)::text,
        'last_pay_at', max(t.last_at) FILTER (WHERE t.type = '{PAY}')) END,
    'events', COALESCE(jsonb_object_agg(t.type, jsonb_build_object(
        'count', t.count, 'last_at', t.last_at)), '{{}}'::jsonb))
  FROM (SELECT type, sum(n) AS count, sum(amount) AS amount,
               min(first_at) AS first_at, max(last_at) AS last_at
        FROM (SELECT e.type, count(*) AS n, COALESCE(sum(e.amount), 0) AS amount,
                     min(e.occurred_at) AS first_at, max(e.occurred_at) AS last_at
              {_OWN_EVENTS} GROUP BY e.type
              UNION ALL
              SELECT r.type, r.count, r.amount_total, r.first_at, r.last_at {_OWN_ROLLUPS}
        ) AS source GROUP BY type) AS t)"""  # noqa: S608 - constant SQL text


# The same sources per app, for the person cache: {app id: {"types": {type: [count, amount,
# first_at, last_at]}, "channel": [channel, at, event id] or null}}; `restrict_stats` combines
# the parts of a key's apps into what RESTRICTED_STATS_SQL answers for that key.
APP_PARTS_SQL = f"""(SELECT COALESCE(jsonb_object_agg(x.app_id::text, x.part), '{{}}'::jsonb)
  FROM (SELECT s.app_id, jsonb_build_object(
        'types', jsonb_object_agg(s.type, jsonb_build_array(
            s.n, s.amount::text, s.first_at, s.last_at)),
        'channel', (SELECT jsonb_build_array(c.channel, c.at, c.event_id) FROM (
            SELECT e.channel, e.occurred_at AS at, e.id AS event_id FROM profiles_event e
            WHERE e.person_id = {PERSON_ID} AND e.app_id = s.app_id AND e.channel <> ''
            UNION ALL
            SELECT r.first_channel, r.first_channel_at, r.first_channel_event_id
            FROM profiles_eventrollup r
            WHERE r.person_id = {PERSON_ID} AND r.app_id = s.app_id AND r.first_channel <> ''
          ) AS c ORDER BY c.at, c.event_id LIMIT 1)) AS part
    FROM (SELECT app_id, type, sum(n) AS n, sum(amount) AS amount,
                 min(first_at) AS first_at, max(last_at) AS last_at
          FROM (SELECT e.app_id, e.type, count(*) AS n, COALESCE(sum(e.amount), 0) AS amount,
                       min(e.occurred_at) AS first_at, max(e.occurred_at) AS last_at
                FROM profiles_event e WHERE e.person_id = {PERSON_ID} AND e.app_id IS NOT NULL
                GROUP BY e.app_id, e.type
                UNION ALL
                SELECT r.app_id, r.type, r.count, r.amount_total, r.first_at, r.last_at
                FROM profiles_eventrollup r
                WHERE r.person_id = {PERSON_ID} AND r.app_id IS NOT NULL) AS source
          GROUP BY app_id, type) AS s
    GROUP BY s.app_id) AS x)"""  # noqa: S608 - constant SQL text


def restrict_stats(parts: dict, app_ids: frozenset[int]) -> dict:
    """The stats section of a key restricted to `app_ids`, from the per-app parts: the value
    RESTRICTED_STATS_SQL computes, timestamps as PostgreSQL wrote them."""
    mine = [parts[str(app)] for app in sorted(app_ids) if str(app) in parts]
    types: dict[str, list] = {}
    for part in mine:
        for name, (count, amount, first_at, last_at) in part["types"].items():
            held = types.setdefault(name, [0, Decimal(0), None, None])
            held[0] += count
            held[1] += Decimal(amount)
            held[2] = _earliest(held[2], first_at)
            held[3] = _latest(held[3], last_at)
    events = {name: {"count": t[0], "last_at": t[3]} for name, t in types.items()}
    if not types:
        return {"stats": None, "events": events}
    channels = [part["channel"] for part in mine if part["channel"]]
    first = min(channels, key=_channel_order, default=None)
    login, pay = types.get(LOGIN), types.get(PAY)
    stats = {
        "first_seen_at": _pick(min, [t[2] for t in types.values()]),
        "last_seen_at": _pick(max, [t[3] for t in types.values()]),
        "first_channel": first[0] if first else "",
        "last_login_at": login[3] if login else None,
        "event_count": sum(t[0] for t in types.values()),
        "pay_count": pay[0] if pay else 0,
        "pay_total": str((pay[1] if pay else Decimal(0)).quantize(CENTS, ROUND_HALF_UP)),
        "last_pay_at": pay[3] if pay else None,
    }
    return {"stats": stats, "events": events}


CENTS = Decimal("0.01")


def _channel_order(channel: list) -> tuple:
    # ORDER BY at, event_id: NULLs last, as PostgreSQL sorts them.
    _, at, event_id = channel
    return (at is None, _at(at) if at else None, event_id is None, event_id or 0)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _pick(choose, texts: list[str | None]) -> str | None:
    present = [text for text in texts if text is not None]
    return choose(present, key=_at) if present else None


def _earliest(a: str | None, b: str | None) -> str | None:
    return _pick(min, [a, b])


def _latest(a: str | None, b: str | None) -> str | None:
    return _pick(max, [a, b])


def render_stats(person) -> dict:
    value = person.section_stats
    return {**(value["stats"] or EMPTY_STATS), "events": value["events"]}


STATS_SECTION = PersonSection(
    name="stats",
    sql=STATS_SQL,
    restricted_sql=RESTRICTED_STATS_SQL,
    app_parts_sql=APP_PARTS_SQL,
    restrict=restrict_stats,
    render=render_stats,
    schema=lambda: StatsOut(),
)


class Column(NamedTuple):
    """One key of a held tag: the SQL that fills it, and a new field that documents it."""

    sql: str
    field: Callable[[], serializers.Field]


# A tag the person holds, as `P` shows it (tag definitions are profiles.api.serializers').
HELD_TAG: dict[str, Column] = {
    "key": Column("t.key", serializers.CharField),
    "name": Column("t.name", serializers.CharField),
    "group": Column("g.key", lambda: serializers.CharField(allow_null=True)),
    "source": Column("a.source", serializers.CharField),
    "assigned_at": Column("a.assigned_at", serializers.DateTimeField),
    "expires_at": Column("a.expires_at", lambda: serializers.DateTimeField(allow_null=True)),
}


class TagOut(serializers.Serializer):
    def get_fields(self):
        return {name: column.field() for name, column in HELD_TAG.items()}


_HELD_TAG_JSON = ", ".join(f"'{name}', {column.sql}" for name, column in HELD_TAG.items())
TAGS_SQL = f"""COALESCE((SELECT jsonb_agg(jsonb_build_object({_HELD_TAG_JSON}) ORDER BY t.key)
  FROM profiles_tagassignment a JOIN profiles_tag t ON t.id = a.tag_id
  LEFT JOIN profiles_taggroup g ON g.id = t.group_id
  WHERE a.person_id = {PERSON_ID} AND (a.expires_at IS NULL OR a.expires_at > now())
  ), '[]'::jsonb)"""  # noqa: S608 - constant SQL text


def render_tags(person) -> list[dict]:
    return person.section_tags


def tags_valid_until(held: list[dict]) -> datetime | None:
    """The first expiry among the held tags: from then on the read leaves that tag out."""
    ends = [datetime.fromisoformat(tag["expires_at"]) for tag in held if tag["expires_at"]]
    return min(ends, default=None)


TAGS_SECTION = PersonSection(
    name="tags",
    sql=TAGS_SQL,
    render=render_tags,
    schema=lambda: TagOut(many=True),
    valid_until=tags_valid_until,
)
