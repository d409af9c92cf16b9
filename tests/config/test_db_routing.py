"""The routing's parts that need no replica: write positions, the settings, and no overhead
without a replica. The reads from a real standby are in tests/identity/test_replica_reads.py."""

import json
import os
import random
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from config import write_positions
from config.db_routing import ReplicaRouter, primary_reads, read_alias, replica_reads
from config.write_positions import end_of_last_record, written_position
from identity.models import ApiKey

BLOCK, SEGMENT = 8192, 16 * 1024 * 1024


@pytest.fixture(autouse=True)
def _no_replica():
    assert "replica" not in connections.settings, "these tests run without a replica alias"
    cache.clear()
    yield
    cache.clear()


def test_concurrent_writes_of_one_caller_keep_the_highest_position():
    """Each process records after its own commit, in any order: the highest must stay (the
    default cache: in-process under `make test`, Redis in CI's second run)."""
    positions = list(range(1, 401))
    random.Random(7).shuffle(positions)
    start = threading.Barrier(8)

    def record(part):
        start.wait()
        for lsn in part:
            write_positions._keep_max("replica:written:7", lsn)

    threads = [threading.Thread(target=record, args=(positions[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert written_position(7) == 400
    write_positions._keep_max("replica:written:7", 12)
    assert written_position(7) == 400
    assert written_position(8) == 0  # another caller wrote nothing


@pytest.mark.parametrize(
    ("insert_lsn", "end"),
    [
        (5 * BLOCK + 24, 5 * BLOCK),  # the last record filled its page: the boundary
        (5 * BLOCK + 100, 5 * BLOCK + 100),
        (3 * SEGMENT + 40, 3 * SEGMENT),  # a segment's first page has the long header
        (3 * SEGMENT + 24, 3 * SEGMENT + 24),  # inside that long header: never a record end
        (3 * SEGMENT + BLOCK + 40, 3 * SEGMENT + BLOCK + 40),
    ],
)
def test_the_insert_position_is_turned_into_the_end_of_the_last_record(insert_lsn, end):
    assert end_of_last_record(insert_lsn, BLOCK, SEGMENT) == end


@pytest.mark.django_db
def test_the_primary_position_is_a_record_end():
    position = write_positions.primary_position()
    assert position > 0
    assert position % BLOCK != 24


@pytest.mark.django_db
def test_without_a_replica_nothing_is_recorded_or_routed(api, miniprogram):
    with CaptureQueriesContext(connection) as queries:
        response = api.post(
            "/api/v1/identities/resolve",
            {"appid": miniprogram.appid, "openid": "oNoReplica"},
            format="json",
        )
    assert response.status_code == 200
    assert not any("pg_current_wal" in query["sql"] for query in queries)
    assert all(written_position(key.pk) == 0 for key in ApiKey.objects.all())
    with replica_reads(caller=1):
        assert read_alias() == "default"
        with primary_reads():
            assert read_alias() == "default"


def test_writes_and_migrations_stay_on_the_primary():
    router = ReplicaRouter()
    assert router.db_for_write(ApiKey) == "default"
    assert router.db_for_read(ApiKey) == "default"
    assert router.allow_migrate("replica", "identity") is False
    assert router.allow_migrate("default", "identity") is True
    assert settings.DATABASE_ROUTERS == ["config.db_routing.ReplicaRouter"]


def _settings_in_a_process(**env) -> subprocess.CompletedProcess:
    """Load config.settings afresh with this environment (it is read at import)."""
    script = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({a: {k: d.get(k) for k in ('ENGINE', 'HOST', 'NAME', 'TEST', "
        "'OPTIONS', 'CONN_MAX_AGE')} for a, d in settings.DATABASES.items()}, default=str))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS"))}
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
    )


def test_a_replica_url_adds_the_replica_alias_with_the_primarys_options():
    done = _settings_in_a_process(
        DATABASE_URL="postgres://app@10.0.0.1:5432/identity",
        DATABASE_REPLICA_URL="postgres://app@10.0.0.2:5432/identity",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert done.returncode == 0, done.stderr
    databases = json.loads(done.stdout)
    primary, replica = databases["default"], databases["replica"]
    assert (replica["HOST"], replica["NAME"]) == ("10.0.0.2", "identity")
    assert replica["TEST"]["MIRROR"] == "default"
    for name in ("ENGINE", "OPTIONS", "CONN_MAX_AGE"):
        assert replica[name] == primary[name]


def test_without_a_replica_url_there_is_no_replica_alias():
    done = _settings_in_a_process(DATABASE_URL="postgres://app@10.0.0.1:5432/identity")
    assert done.returncode == 0, done.stderr
    assert list(json.loads(done.stdout)) == ["default"]


def test_a_replica_needs_the_shared_cache():
    """Read-your-writes across processes needs each caller's position in Redis."""
    done = _settings_in_a_process(
        DATABASE_URL="postgres://app@10.0.0.1:5432/identity",
        DATABASE_REPLICA_URL="postgres://app@10.0.0.2:5432/identity",
    )
    assert done.returncode != 0
    assert "DATABASE_REPLICA_URL needs REDIS_URL" in done.stderr
