"""The acquisition report's statement: new persons per (period number, key).

Who is new when, by the audience:

- No apps: a person is new at their stats' `first_event_at` (indexed: a range scan of the
  requested periods). `first_channel` is the stats' own (the channel of the earliest event
  carrying one); the app is that of the first event, the lowest id at `first_event_at`, found
  by a timeline index probe.
- Apps: "first-ever" means the first in those apps. Daily activity gives each person's first
  day there: the persons active there in the periods (the (app, day) index), minus those with
  activity there before (a probe of the (person, day) key each). The app is that of the
  earliest event of that day in those apps; the channel that of the earliest event in those
  apps that carries one.

Once old events are pruned (their monthly partitions dropped), stats and daily activity still
say who is new when, as both survive pruning; the keys then come from the rollups the pruning
left (per origin person, type and app: first time, first channel): the channel exactly, the app
as the one of the rollup with the earliest first time (the lowest app id on a tie: rollups keep
no event ids). Every value is a parameter; the text is our own SQL (hence the `noqa: S608`).
"""

from django.conf import settings

from analytics.params import BY_APP, AcquisitionParams
from analytics.periods import local_midnight, next_period

FIRST_APP = """
LEFT JOIN LATERAL (
    SELECT TRUE AS found, e.app_id FROM profiles_event AS e
    WHERE e.person_id = k.person_id AND e.occurred_at >= k.at AND e.occurred_at < k.until
      AND e.occurred_at >= %s AND e.occurred_at < %s AND {apps}
    ORDER BY e.occurred_at, e.id LIMIT 1
) AS first_event ON TRUE
LEFT JOIN LATERAL (
    SELECT r.app_id FROM profiles_eventrollup AS r
    WHERE first_event.found IS NULL AND r.person_id = k.person_id AND {rollup_apps}
    ORDER BY r.first_at, r.app_id NULLS FIRST LIMIT 1
) AS first_rollup ON TRUE
"""
FIRST_APP_KEY = (
    "COALESCE((SELECT a.appid FROM identity_app AS a "
    "WHERE a.id = COALESCE(first_event.app_id, first_rollup.app_id)), '')"
)
FIRST_CHANNEL = """
LEFT JOIN LATERAL (
    SELECT c.channel FROM (
        (SELECT e.channel, e.occurred_at AS at, e.id AS tie FROM profiles_event AS e
         WHERE e.person_id = k.person_id AND e.channel <> '' AND e.occurred_at >= k.at
           AND e.occurred_at >= %s AND {apps}
         ORDER BY e.occurred_at, e.id LIMIT 1)
        UNION ALL
        (SELECT r.first_channel, r.first_channel_at, r.first_channel_event_id
         FROM profiles_eventrollup AS r
         WHERE r.person_id = k.person_id AND r.first_channel <> '' AND {rollup_apps}
         ORDER BY r.first_channel_at, r.first_channel_event_id LIMIT 1)
    ) AS c ORDER BY c.at, c.tie LIMIT 1
) AS first_channel ON TRUE
"""


def _newcomers(params: AcquisitionParams, first, last) -> tuple[str, list]:
    """`person_id, at, until, channel`: each person new in the periods, from `at`, their first
    event being before `until`; `channel` is the stats' first channel (NULL with apps)."""
    app_ids = params.audience.app_ids
    if app_ids is None:
        sql = (
            "SELECT s.person_id, s.first_event_at AS at, "
            "s.first_event_at + INTERVAL '1 microsecond' AS until, s.first_channel AS channel "
            "FROM profiles_personstats AS s WHERE s.first_event_at >= %s AND s.first_event_at < %s"
        )
        return sql, [first, last]
    starts, period = params.range.starts, params.range.period
    zone = settings.ANALYTICS_TIME_ZONE
    sql = (
        "SELECT d.person_id, d.day::timestamp AT TIME ZONE %s AS at, "
        "(d.day + 1)::timestamp AT TIME ZONE %s AS until, NULL::text AS channel "
        "FROM (SELECT a.person_id, min(a.day) AS day FROM profiles_dailyactivity AS a "
        "WHERE a.app_id = ANY(%s) AND a.day >= %s AND a.day < %s GROUP BY a.person_id) AS d "
        "WHERE NOT EXISTS (SELECT 1 FROM profiles_dailyactivity AS b "
        "WHERE b.person_id = d.person_id AND b.day < %s AND b.app_id = ANY(%s))"
    )
    apps = list(app_ids)
    return sql, [zone, zone, apps, starts[0], next_period(starts[-1], period), starts[0], apps]


def _key(params: AcquisitionParams, first, last) -> tuple[str, str, list]:
    """(the key's expression, the joins it needs, their parameters)."""
    app_ids = params.audience.app_ids
    apps, apps_params = params.audience.events_sql("e")
    rollup_apps, rollup_params = params.audience.events_sql("r")
    if params.by == BY_APP:
        joins = FIRST_APP.format(apps=apps, rollup_apps=rollup_apps)
        return FIRST_APP_KEY, joins, [first, last, *apps_params, *rollup_params]
    if app_ids is None:
        return "k.channel", "", []
    joins = FIRST_CHANNEL.format(apps=apps, rollup_apps=rollup_apps)
    return "COALESCE(first_channel.channel, '')", joins, [first, *apps_params, *rollup_params]


def acquisition_sql(params: AcquisitionParams) -> tuple[str, list]:
    """`SELECT period number, key, count` of the persons new in the range's periods (the
    period number counts the period ends at or before the first event: 0 for the first)."""
    starts, period = params.range.starts, params.range.period
    ends = [local_midnight(next_period(start, period)) for start in starts]
    first, last = local_midnight(starts[0]), ends[-1]
    newcomers, newcomers_params = _newcomers(params, first, last)
    key, joins, joins_params = _key(params, first, last)
    persons, persons_params = params.audience.persons_sql("k.person_id")
    sql = (
        f"SELECT width_bucket(k.at, %s), {key}, count(*) FROM ({newcomers}) AS k "  # noqa: S608
        f"{joins} WHERE {persons} GROUP BY 1, 2"
    )
    return sql, [ends, *newcomers_params, *joins_params, *persons_params]
