"""The funnel's one statement: each person's chosen entry and the times of the steps it reached.

A lookup per entry over the person timeline index (LATERAL ... LIMIT 1) costs ~10 us a step,
and an entry step of a common type (`view`) has hundreds of thousands of entries a month: at 1M
persons and 5M events, `view,login,view,pay` over 30 days took 3.5 to 5 s that way. So the
statement reads the events once and walks the steps in arrays instead: 1.1 s there (on a
shared 2-core machine, default work_mem), 0.25 s for `register,login,view,pay`.

1. `candidates`: the events of the steps' types in [from, to + window) in the audience's apps,
   of the segment's persons with an entry. The constant bounds prune the monthly partitions
   when the statement is planned; the types use `event_type_time`.
2. Each person's events are numbered newest first (`r`, ties by id, so that ascending
   (occurred_at, id) is descending `r`). Per event, `g` is the number of the person's earliest
   event at the same instant and `n<i>` the number of the nearest event of the i-th step type
   at or after it in that order (0: none). The windows share one sort.
3. One row per person: an array of [time in microseconds, g, n0, n1, ...] by `r`, and the
   numbers of its entries (events of the first step's type in [from, to]).
4. Each entry walks the steps by array subscripts. From the previous step `p` the next one is
   the first event of the step's type from `g[p]` on (so an unused event at the same instant
   counts whatever its id: "at or after" is about times) that no earlier step used. Skipping
   a used event is `n[c - 1]`; at most step - 1 events are used, so a fixed chain of CASE
   branches settles it. A step later than the entry plus the window is not reached; an
   out-of-range subscript is NULL, which ends the walk. `OFFSET 0` keeps each step computed
   once instead of inlined into the next. The cost is a few sorts of the events read, however
   many entries a person has (a bot with thousands of events included).
5. Each person keeps the entry reaching furthest, the earliest of those (the highest `r`).

The statement lists `person_id`, `reach` (1..k) and `m1`..`mk`, the steps' times in integer
microseconds since the epoch (NULL beyond the reach), so that differences are exact. Its text
is built from the number of steps and our own SQL only (hence the `noqa: S608`); every value
is a parameter.
"""

from datetime import UTC, timedelta

from analytics.params import FunnelParams
from analytics.periods import local_midnight

MICROS = 1_000_000
ORDER = "PARTITION BY c.person_id ORDER BY c.occurred_at DESC, c.id DESC"


def _typed(alias: str, event_type: str | None) -> tuple[str, list]:
    if event_type is None:
        return "TRUE", []
    return f"{alias}.type = %s", [event_type]


def _candidates(params: FunnelParams, start, end, last) -> tuple[str, list]:
    steps = params.steps
    apps, sql_params = params.audience.events_sql("e")
    persons, persons_params = params.audience.persons_sql("e.person_id")
    types = "TRUE"
    if None not in steps:
        types = "e.type = ANY(%s)"
        sql_params = [sorted(set(steps)), *sql_params]
    sql = (
        "SELECT e.person_id, e.occurred_at, e.id, e.type FROM profiles_event AS e "  # noqa: S608
        f"WHERE e.occurred_at >= %s AND e.occurred_at < %s AND {types} AND {apps} AND {persons}"
    )
    sql_params = [start, last, *sql_params, *persons_params]
    if steps[0] is not None:  # else every person with an event in [from, to] has an entry
        entry, entry_params = _typed("x", steps[0])
        entry_apps, entry_apps_params = params.audience.events_sql("x")
        sql += (
            " AND e.person_id IN (SELECT x.person_id FROM profiles_event AS x "  # noqa: S608
            f"WHERE x.occurred_at >= %s AND x.occurred_at < %s AND {entry} AND {entry_apps})"
        )
        sql_params += [start, end, *entry_params, *entry_apps_params]
    return sql, sql_params


def _numbered(candidates: str, types: list[str]) -> str:
    """Each candidate with `r`, `micros`, `g` and `n<i>` for the i-th of `types`."""
    ranked = (
        "SELECT c.person_id, c.occurred_at, c.id, c.type, "  # noqa: S608
        f"(extract(epoch FROM c.occurred_at) * {MICROS})::bigint AS micros, "
        f"row_number() OVER ({ORDER}) AS r, "
        "count(*) OVER (PARTITION BY c.person_id ORDER BY c.occurred_at DESC "
        f"RANGE UNBOUNDED PRECEDING) AS g FROM ({candidates}) AS c"
    )
    nearest = "".join(
        f", COALESCE(max(c.r) FILTER (WHERE c.type = %s) OVER ({ORDER} ROWS UNBOUNDED "
        f"PRECEDING), 0) AS n{index}"
        for index in range(len(types))
    )
    return f"SELECT c.*{nearest} FROM ({ranked}) AS c"  # noqa: S608


def _step(step: int, event_type: str | None, types: list[str]) -> str:
    """The number of step `step`'s event, from p1 .. p<step - 1> (NULL: not found)."""
    used = ", ".join(f"p{k}" for k in range(1, step))
    base = f"a.v[p{step - 1}][2]"
    if event_type is None:  # any type: the events from `base` on, one by one
        chain = [base, *(f"({base} - {skip})" for skip in range(1, step))]
    else:
        nearest = 3 + types.index(event_type)
        chain = [f"a.v[{base}][{nearest}]"]
        for _ in range(step - 1):  # a next candidate per used event it may have to skip
            chain.append(f"a.v[{chain[-1]} - 1][{nearest}]")
    branches = " ".join(f"WHEN {c} <> ALL (ARRAY[{used}]) THEN {c}" for c in chain)
    return f"CASE {branches} END"


def chosen_entries_sql(params: FunnelParams) -> tuple[str, list]:
    """The statement of each entering person's chosen entry (columns: see the module)."""
    steps = list(params.steps)
    start = local_midnight(params.range.date_from)
    end = local_midnight(params.range.date_to + timedelta(days=1))
    window = params.window_days * 86400 * MICROS
    types = sorted({s for s in steps[1:] if s is not None})

    # In UTC: an aware local time plus days moves the wall clock, an hour off across DST.
    last = end.astimezone(UTC) + timedelta(days=params.window_days)
    candidates, sql_params = _candidates(params, start, end, last)
    numbered = _numbered(candidates, types)
    entry, entry_params = _typed("c", steps[0])
    row = ", ".join(["c.micros", "c.g", *(f"c.n{index}" for index in range(len(types)))])
    per_person = (
        f"SELECT c.person_id, array_agg(ARRAY[{row}] ORDER BY c.r) AS v, "  # noqa: S608
        "array_agg(c.r) FILTER (WHERE c.occurred_at >= %s AND c.occurred_at < %s "
        f"AND {entry}) AS entries FROM ({numbered}) AS c GROUP BY c.person_id"
    )
    sql_params = [start, end, *entry_params, *types, *sql_params]

    walks = ["CROSS JOIN LATERAL unnest(a.entries) AS p1"]
    for step in range(2, len(steps) + 1):
        walks.append(
            f"CROSS JOIN LATERAL (SELECT CASE WHEN a.v[c.p][1] <= a.v[p1][1] + %s "  # noqa: S608
            f"THEN c.p END AS p{step} FROM (SELECT {_step(step, steps[step - 1], types)} "
            f"AS p OFFSET 0) AS c OFFSET 0) AS s{step}"
        )
        sql_params.append(window)
    reach = " + ".join(["1", *(f"(p{k} IS NOT NULL)::int" for k in range(2, len(steps) + 1))])
    times = ", ".join(f"a.v[p{k}][1] AS m{k}" for k in range(1, len(steps) + 1))
    sql = (
        f"SELECT DISTINCT ON (a.person_id) a.person_id, {reach} AS reach, {times} "  # noqa: S608
        f"FROM ({per_person}) AS a {' '.join(walks)} "
        "ORDER BY a.person_id, reach DESC, p1 DESC"
    )
    return sql, sql_params
