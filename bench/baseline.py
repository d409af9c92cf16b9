"""The bare-stack baseline: a plain WSGI app answering the single lookup with psycopg.

Same data, same JSON as `GET /api/v1/persons/lookup?appid=&openid=` (phone decrypted and masked
too), but no Django, no DRF, no authentication: one indexed SQL query that builds the
representation in PostgreSQL, over a psycopg connection pool. Served by the same gunicorn with
the same workers and threads, it is the limit the service is measured against.

    gunicorn -c gunicorn.conf.py bench.baseline:application
"""

import json
import os
from urllib.parse import parse_qs

from cryptography.fernet import Fernet, MultiFernet
from psycopg_pool import ConnectionPool

from config import local_state

DATABASE_URL = os.environ.get("DATABASE_URL") or local_state.embedded_database_url()
KEYS = os.environ.get("PERSONAL_DATA_KEYS") or local_state.dev_keys()["PERSONAL_DATA_KEYS"]
FERNET = MultiFernet([Fernet(key.strip()) for key in KEYS.split(",") if key.strip()])
POOL = ConnectionPool(
    DATABASE_URL, min_size=1, max_size=int(os.environ.get("GUNICORN_THREADS", "4")), open=True
)

LOOKUP = """
SELECT p.public_id, p.phone_encrypted, p.created_at, p.updated_at,
  (SELECT coalesce(json_agg(json_build_object(
      'appid', a2.appid, 'app_kind', a2.kind, 'openid', i2.openid,
      'followed', i2.followed, 'followed_at', i2.followed_at) ORDER BY a2.appid), '[]')
   FROM identity_identity i2 JOIN identity_app a2 ON a2.id = i2.app_id
   WHERE i2.person_id = p.id) AS identities,
  (SELECT coalesce(json_object_agg(u.platform, u.unionid), '{}')
   FROM identity_unionid u WHERE u.person_id = p.id) AS unionids,
  (SELECT coalesce(json_agg(json_build_object(
      'key', t.key, 'name', t.name, 'group', g.key, 'source', ta.source,
      'assigned_at', ta.assigned_at, 'expires_at', ta.expires_at) ORDER BY t.key), '[]')
   FROM profiles_tagassignment ta JOIN profiles_tag t ON t.id = ta.tag_id
   LEFT JOIN profiles_taggroup g ON g.id = t.group_id
   WHERE ta.person_id = p.id AND (ta.expires_at IS NULL OR ta.expires_at > now())) AS tags,
  (SELECT row_to_json(s) FROM (
      SELECT first_seen_at, last_seen_at, first_channel, last_login_at, event_count,
             pay_count, pay_total::text, last_pay_at FROM profiles_personstats
      WHERE person_id = p.id) s) AS stats,
  (SELECT coalesce(json_object_agg(es.type, json_build_object(
      'count', es.count, 'last_at', es.last_at)), '{}')
   FROM profiles_personeventstats es WHERE es.person_id = p.id) AS events
FROM identity_identity i
JOIN identity_app a ON a.id = i.app_id
JOIN identity_person p ON p.id = i.person_id
WHERE a.appid = %s AND i.openid = %s AND p.merged_into_id IS NULL AND p.erased_at IS NULL
"""


def _mask(e164: str) -> str:
    # +86 and an 11-digit mobile, as in the data set
    national = e164[3:]
    return f"+86 {national[:3]}{'*' * (len(national) - 7)}{national[-4:]}"


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    appid, openid = query.get("appid", [""])[0], query.get("openid", [""])[0]
    with POOL.connection() as conn:
        row = conn.execute(LOOKUP, (appid, openid)).fetchone()
    if row is None:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": {"code": "person_not_found"}}']
    public_id, phone, created, updated, identities, unionids, tags, stats, events = row
    stats = stats or {}
    stats["events"] = events
    body = {
        "id": public_id,
        "unionids": unionids,
        "phone": _mask(FERNET.decrypt(phone.encode()).decode()) if phone else None,
        "identities": identities,
        "tags": tags,
        "stats": stats,
        "created_at": created.isoformat(),
        "updated_at": updated.isoformat(),
    }
    data = json.dumps(body, default=str).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]
