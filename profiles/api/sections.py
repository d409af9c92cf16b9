"""The `stats` and `tags` sections of the person representation."""

from rest_framework import serializers

from identity.person_sections import PersonSection


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

STATS_SQL = """(SELECT jsonb_build_object(
    'stats', (SELECT jsonb_build_object(
        'first_seen_at', s.first_seen_at, 'last_seen_at', s.last_seen_at,
        'first_channel', s.first_channel, 'last_login_at', s.last_login_at,
        'event_count', s.event_count, 'pay_count', s.pay_count,
        'pay_total', s.pay_total::text, 'last_pay_at', s.last_pay_at)
      FROM profiles_personstats s WHERE s.person_id = p.id),
    'events', COALESCE((SELECT jsonb_object_agg(e.type, jsonb_build_object(
        'count', e.count, 'last_at', e.last_at))
      FROM profiles_personeventstats e WHERE e.person_id = p.id), '{}'::jsonb)))"""


def render_stats(person) -> dict:
    value = person.section_stats
    return {**(value["stats"] or EMPTY_STATS), "events": value["events"]}


STATS_SECTION = PersonSection(
    name="stats", sql=STATS_SQL, render=render_stats, schema=lambda: StatsOut()
)


class TagOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    group = serializers.CharField(allow_null=True)
    source = serializers.CharField()
    assigned_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


TAGS_SQL = """COALESCE((SELECT jsonb_agg(jsonb_build_object(
    'key', t.key, 'name', t.name, 'group', g.key, 'source', a.source,
    'assigned_at', a.assigned_at, 'expires_at', a.expires_at) ORDER BY t.key)
  FROM profiles_tagassignment a JOIN profiles_tag t ON t.id = a.tag_id
  LEFT JOIN profiles_taggroup g ON g.id = t.group_id
  WHERE a.person_id = p.id AND (a.expires_at IS NULL OR a.expires_at > now())), '[]'::jsonb)"""


def render_tags(person) -> list[dict]:
    return person.section_tags


TAGS_SECTION = PersonSection(
    name="tags", sql=TAGS_SQL, render=render_tags, schema=lambda: TagOut(many=True)
)
