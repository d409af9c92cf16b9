"""Fixtures of the replica tests: a streaming standby of the test database's server."""

import copy
import os

import pytest
from django.db import connections

from config.replica_state import REPLICA
from tests.replica_server import Standby, StandbyUnavailable


@pytest.fixture(scope="session")
def standby(django_db_setup, django_db_blocker):
    """A streaming standby of the test database's server, for the whole session."""
    server = None
    try:
        with django_db_blocker.unblock():
            server = Standby(connections["default"])
            took = server.create()
    except Exception as exc:
        if server is not None:
            server.remove()
        if not isinstance(exc, StandbyUnavailable):
            raise
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs the replica tests' standby: {exc}")
        pytest.skip(f"no standby of the test database's server: {exc}")
    print(f"\nstandby of the test database streaming on port {server.port} in {took:.2f}s")
    yield server
    server.remove()


@pytest.fixture(scope="module")
def replica(standby, django_db_blocker):
    """The `replica` alias, pointed at the standby's copy of the test database (the database the
    primary's test database replicates into, under the same name), for one module's tests.

    Tests list it in `databases`; as a test mirror of `default` it is never flushed (the flush
    of the primary reaches it by replication). Yields the standby.
    """
    primary = connections["default"].settings_dict
    alias = copy.deepcopy(primary)
    alias.update(HOST="127.0.0.1", PORT=str(standby.port))
    alias["TEST"] = {**primary["TEST"], "MIRROR": "default"}
    connections.settings[REPLICA] = alias
    yield standby
    with django_db_blocker.unblock():
        connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]
