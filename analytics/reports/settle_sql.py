"""The settle report's one statement: grouped counts from which each period's numbers follow.

- `firsts`: every mini-program visitor with a first visit before the range's end, in the
  segment. Daily activity (app, day) gives the first day: it survives the pruning of old events
  and its (app, day) index is read without touching events. The first day's local midnight
  `fm` decides in which periods a person is a visitor (periods are whole local days).
- `visits`: the exact first visit of those who are new in the range, their earliest
  mini-program event of that day (a timeline index probe each); when that day's events are
  pruned, the day's midnight stands in.
- `items`: the visitors' follow timeline in the service account: its subscribe / unsubscribe
  events (by `event_type_time`, over all time: the state at a period's end may come from any
  time before) and each identity's recorded follow and unfollow times (followed_at as a
  subscribe, unfollowed_at as an unsubscribe).
- `spans`: the times a person follows, [a subscribe item, the next item): following at T is
  "the latest item at or before T is a subscribe", i.e. T in such a span. A recorded time
  stands for what a follower import saw before any event, so it is kept only when it is
  earlier than the person's first subscribe / unsubscribe event there (or there is none): the
  identity service moves it on later events too (a `qr_scan` after an unsubscribe marks the
  identity followed at the scan's time), and those events already say what happened. Both
  kinds of item are read up to the same bound, so for a recorded time that is read, the
  earliest event read is the person's first. A kept recorded time is before every event, so
  the two never share an instant. Order: time, then the higher id among events; of an
  identity's two recorded times at one instant, the one its current state agrees with comes
  last (it happened last).

The answer's periods are numbered by `width_bucket` over the period ends (the number of ends at
or before a time): a visitor counts from the period of `fm` on, a span for the periods whose
end instant E has max(span start, fm) < E <= span end ("the instant before E" is in it), and
the statement returns those as (from, to) counts that Python adds up, a few rows per period.
A new visitor followed within 7 days when a non-empty span meets [first visit, + 168 h], both
ends included. Bounds are instants: hours are added in UTC (in SQL, an interval of hours is).
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings

from analytics.params import SettleParams
from analytics.periods import local_midnight, next_period

WEEK_HOURS = 168


def _statement(params: SettleParams, ends: list[datetime]) -> list[tuple[str, list]]:
    """The statement as (SQL, its parameters) pieces, in the order of the text."""
    starts, period = params.range.starts, params.range.period
    mini, service = params.miniprogram.pk, params.service_account.pk
    first, last = local_midnight(starts[0]), ends[-1]
    # In UTC: an aware local time plus hours moves the wall clock, an hour off across DST.
    bound = last.astimezone(UTC) + timedelta(hours=WEEK_HOURS)
    persons, persons_params = params.audience.persons_sql("a.person_id")
    zone, periods = settings.ANALYTICS_TIME_ZONE, len(ends)
    return [
        (
            """
WITH firsts AS MATERIALIZED (
    SELECT a.person_id, min(a.day)::timestamp AT TIME ZONE %s AS fm,
           (min(a.day) + 1)::timestamp AT TIME ZONE %s AS fm_end
    FROM profiles_dailyactivity AS a
    WHERE a.app_id = %s AND a.day < %s AND """,
            [zone, zone, mini, next_period(starts[-1], period)],
        ),
        (persons, persons_params),
        (
            """
    GROUP BY a.person_id
),
visits AS MATERIALIZED (
    SELECT f.person_id, f.fm, COALESCE(v.occurred_at, f.fm) AS first_at
    FROM firsts AS f
    LEFT JOIN LATERAL (
        SELECT e.occurred_at FROM profiles_event AS e
        WHERE e.person_id = f.person_id AND e.app_id = %s
          AND e.occurred_at >= %s AND e.occurred_at < %s
          AND e.occurred_at >= f.fm AND e.occurred_at < f.fm_end
        ORDER BY e.occurred_at LIMIT 1
    ) AS v ON TRUE
    WHERE f.fm >= %s
),
items AS (
    SELECT e.person_id, e.occurred_at AS at, 1 AS kind, e.id AS tie, e.type = %s AS sub
    FROM profiles_event AS e
    WHERE e.type IN (%s, %s) AND e.app_id = %s AND e.occurred_at <= %s
    UNION ALL
    SELECT i.person_id, i.followed_at, 0, 2 * i.id + (i.followed IS TRUE)::int, TRUE
    FROM identity_identity AS i
    WHERE i.app_id = %s AND i.followed_at <= %s
    UNION ALL
    SELECT i.person_id, i.unfollowed_at, 0, 2 * i.id + (i.followed IS NOT TRUE)::int, FALSE
    FROM identity_identity AS i
    WHERE i.app_id = %s AND i.unfollowed_at <= %s
),
spans AS MATERIALIZED (
    SELECT s.person_id, s.at, s.next_at FROM (
        SELECT k.person_id, k.at, k.sub,
               lead(k.at) OVER (PARTITION BY k.person_id ORDER BY k.at, k.kind, k.tie) AS next_at
        FROM (
            SELECT it.*,
                   min(it.at) FILTER (WHERE it.kind = 1) OVER (PARTITION BY it.person_id)
                       AS first_event
            FROM items AS it
            WHERE it.person_id IN (SELECT person_id FROM firsts)
        ) AS k
        WHERE k.kind = 1 OR k.first_event IS NULL OR k.at < k.first_event
    ) AS s
    WHERE s.sub AND (s.next_at IS NULL OR s.next_at > s.at)
)
SELECT 'visitors', width_bucket(f.fm, %s), %s, count(*) FROM firsts AS f GROUP BY 2
UNION ALL
SELECT 'followers', width_bucket(GREATEST(s.at, f.fm), %s),
       COALESCE(width_bucket(s.next_at, %s), %s), count(*)
FROM spans AS s JOIN firsts AS f ON f.person_id = s.person_id GROUP BY 2, 3
UNION ALL
SELECT 'new', width_bucket(v.fm, %s), 0, count(*) FROM visits AS v GROUP BY 2
UNION ALL
SELECT 'settled', width_bucket(v.fm, %s), 0, count(*) FROM visits AS v
WHERE EXISTS (
    SELECT 1 FROM spans AS s
    WHERE s.person_id = v.person_id AND s.at <= v.first_at + %s * INTERVAL '1 hour'
      AND (s.next_at IS NULL OR s.next_at > v.first_at)
)
GROUP BY 2
""",
            [
                mini, first, last, first,  # visits
                "subscribe", "subscribe", "unsubscribe", service, bound,  # events
                service, bound, service, bound,  # recorded times
                ends, periods, ends, ends, periods, ends, ends, WEEK_HOURS,  # the counts
            ],
        ),
    ]  # fmt: skip


def settle_sql(params: SettleParams) -> tuple[str, list, list[datetime]]:
    """The statement, its parameters and the period ends (the instants the next ones begin)."""
    ends = [local_midnight(next_period(s, params.range.period)) for s in params.range.starts]
    pieces = _statement(params, ends)
    sql = "".join(piece for piece, _ in pieces)
    return sql, [value for _, values in pieces for value in values], ends
