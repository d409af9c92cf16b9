"""Lookups read from a real streaming replica, and never older data than their caller wrote.

The standby (tests/identity/conftest.py) replicates the test database from the suite's own
PostgreSQL. Pausing its replay freezes what it shows: a write made meanwhile is on the primary
only, so an answer without it came from the replica, and one with it from the primary. The
tests are transactional: the standby sees only what the primary committed.
"""

import pytest
from django.core.cache import cache
from django.db import connections
from django.test.utils import CaptureQueriesContext

from config import replica_state
from config.db_routing import primary_reads, read_alias, replica_reads
from config.write_positions import primary_position, written_position
from identity import selectors
from identity.models import ApiKey
from tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db(
    transaction=True, serialized_rollback=True, databases={"default", "replica"}
)

OPENID, UNIONID, PHONE = "oReplica1", "oUnionReplica1", "13812345678"
STORED_PHONE = "+8613812345678"


@pytest.fixture(autouse=True)
def _fresh_replica_state(replica, settings):
    # Single lookups read the database here, not the person cache (it has its own tests).
    settings.PERSON_CACHE_SECONDS = 0
    replica_state.forget()
    cache.clear()
    yield
    replica.reset()
    replica_state.forget()
    cache.clear()


@pytest.fixture
def clients(make_client):
    """(writer, reader): two API keys; only the writer writes."""
    return make_client(name="writer"), make_client(name="reader")


@pytest.fixture
def person_id(clients, miniprogram, replica):
    """A person created through the API by the writer, replayed on the standby."""
    writer, _ = clients
    created = writer.post(
        "/api/v1/identities/resolve",
        {"appid": miniprogram.appid, "openid": OPENID, "unionid": UNIONID},
        format="json",
    )
    assert created.status_code == 200
    replica.wait_replayed(primary_position())
    return created.json()["person"]["id"]


def lookup(client, appid):
    response = client.get(f"/api/v1/persons/lookup?appid={appid}&openid={OPENID}")
    assert response.status_code == 200
    return response.json()


def bind_phone(client, person_id):
    response = client.put(f"/api/v1/persons/{person_id}/phone", {"phone": PHONE}, format="json")
    assert response.status_code == 200


def read_on_replica(queries) -> bool:
    """Whether the person read (the one statement of identity/person_reads.py) ran there."""
    return any("FROM identity_person p" in query["sql"] for query in queries)


def test_a_lookup_reads_the_replica_and_the_writer_reads_its_own_write(
    clients, person_id, miniprogram, replica
):
    writer, reader = clients
    replica.pause_replay()

    bind_phone(writer, person_id)

    assert lookup(reader, miniprogram.appid)["phone"] is None  # the replica, not replayed yet
    assert lookup(writer, miniprogram.appid)["phone"] == STORED_PHONE  # its own write
    replica.resume_replay()
    replica.wait_replayed(written_position(ApiKey.objects.get(name="writer").pk))
    assert lookup(reader, miniprogram.appid)["phone"] == STORED_PHONE
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert lookup(writer, miniprogram.appid)["phone"] == STORED_PHONE
    assert read_on_replica(on_replica)  # once replayed, the writer reads the replica too


def test_batch_lookups_a_person_and_segment_members_read_the_replica(
    clients, person_id, miniprogram, replica
):
    writer, reader = clients
    SegmentFactory(key="mini", condition={"app": miniprogram.appid})
    replica.wait_replayed(primary_position())
    replica.pause_replay()

    bind_phone(writer, person_id)

    batch = {"appid": miniprogram.appid, "openids": [OPENID]}
    for client, phone in ((reader, None), (writer, STORED_PHONE)):
        by_openids = client.post("/api/v1/persons/lookup", batch, format="json").json()
        by_unionids = client.post("/api/v1/persons/lookup", {"unionids": [UNIONID]}, format="json")
        person = client.get(f"/api/v1/persons/{person_id}").json()
        members = client.get("/api/v1/segments/mini/members").json()["results"]
        assert by_openids["results"][0]["person"]["phone"] == phone
        assert by_unionids.json()["results"][0]["person"]["phone"] == phone
        assert person["phone"] == phone
        assert [member["phone"] for member in members] == [phone]
    # A batch lookup is a POST that only reads: it records no write of the reader's.
    assert written_position(ApiKey.objects.get(name="reader").pk) == 0


def test_a_replica_further_behind_than_the_maximum_lag_is_not_read(
    clients, person_id, miniprogram, replica, settings
):
    writer, reader = clients
    settings.REPLICA_MAX_LAG_SECONDS = 0.5
    replica.pause_replay()

    bind_phone(writer, person_id)
    replica.wait_received(primary_position())
    replica.wait_lag_over(settings.REPLICA_MAX_LAG_SECONDS)

    assert lookup(reader, miniprogram.appid)["phone"] == STORED_PHONE  # from the primary
    settings.REPLICA_MAX_LAG_SECONDS = 5
    replica.resume_replay()
    replica.wait_replayed(primary_position())
    replica_state.forget()
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert lookup(reader, miniprogram.appid)["phone"] == STORED_PHONE
    assert read_on_replica(on_replica)


def test_a_lost_replica_leaves_the_lookups_to_the_primary_until_it_is_back(
    clients, person_id, miniprogram, replica, settings
):
    _, reader = clients
    settings.REPLICA_RETRY_SECONDS = 0  # try it again on every request
    reader_pk = ApiKey.objects.get(name="reader").pk
    assert lookup(reader, miniprogram.appid)["id"] == person_id  # a live replica connection

    with replica_reads(caller=reader_pk):
        assert read_alias() == "replica"
        replica.stop()
        # A read on the connection the replica just cut (the ORM's, then the person read's).
        found = selectors.find_many_by_unionids([UNIONID])
    assert found[UNIONID].public_id == person_id
    assert lookup(reader, miniprogram.appid)["id"] == person_id
    batch = reader.post("/api/v1/persons/lookup", {"unionids": [UNIONID]}, format="json")
    assert batch.status_code == 200
    assert batch.json()["results"][0]["person"]["id"] == person_id
    assert reader.get(f"/api/v1/persons/{person_id}").status_code == 200

    replica.start()
    replica.wait_replayed(primary_position())
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert lookup(reader, miniprogram.appid)["id"] == person_id
    assert read_on_replica(on_replica)


def test_a_failed_replica_is_left_alone_for_the_retry_time(clients, person_id, replica, settings):
    settings.REPLICA_RETRY_SECONDS = 3600
    reader_pk = ApiKey.objects.get(name="reader").pk
    replica.stop()

    with replica_reads(caller=reader_pk):
        assert read_alias() == "default"  # the connection failed: marked down
    replica.start()
    with replica_reads(caller=reader_pk):
        assert read_alias() == "default"  # not tried again before the retry time
    replica_state.forget()
    with replica_reads(caller=reader_pk):
        assert read_alias() == "replica"


def test_primary_reads_and_transactions_read_the_primary(clients, person_id, replica):
    from django.db import transaction

    reader_pk = ApiKey.objects.get(name="reader").pk
    with replica_reads(caller=reader_pk):
        with primary_reads():
            assert read_alias() == "default"
        with transaction.atomic():
            assert read_alias() == "default"
        assert read_alias() == "replica"
