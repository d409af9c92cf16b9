"""Where PostgreSQL spent the pipeline scenario's time: the top statements of pg_stat_statements.

Available when the server preloads the extension (`--own-postgres` does, where the build ships
it); otherwise the scenario records nothing here. Statement texts are normalised by PostgreSQL
(parameters as $1, $2, ...): no data of the run appears in them.
"""

import psycopg

TOP = """
SELECT calls, round(total_exec_time)::bigint AS total_ms,
       round((total_exec_time / greatest(calls, 1))::numeric, 2) AS mean_ms, rows,
       shared_blks_hit, shared_blks_read, left(regexp_replace(query, '\\s+', ' ', 'g'), 160)
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY total_exec_time DESC
LIMIT %s
"""


def reset(dsn: str) -> bool:
    """Start counting afresh; False when the extension cannot be used on this server."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            loaded = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
            if "pg_stat_statements" not in loaded:
                return False
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
        except psycopg.Error:  # not allowed for this role: no profile, the run goes on
            return False
    return True


def top(dsn: str, limit: int = 12) -> list[dict]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(TOP, [limit]).fetchall()
    names = ("calls", "total_ms", "mean_ms", "rows", "blks_hit", "blks_read", "query")
    return [dict(zip(names, row, strict=True)) for row in rows]
