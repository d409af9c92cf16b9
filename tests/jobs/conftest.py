import pytest
from django.db import connection

from tests.faults.conftest import service_env, url_of


def empty_queue() -> None:
    """Delete procrastinate's rows (its events and periodic defers go with the jobs).

    Its tables are unmanaged models, which the flush after a transactional test leaves alone:
    a job or a worker of an earlier test would still be there.
    """
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")
        cursor.execute("DELETE FROM procrastinate_workers")


@pytest.fixture(autouse=True)
def _empty_queue(db):
    empty_queue()
    yield
    if not connection.in_atomic_block:  # a transactional test: its rows were committed
        empty_queue()


@pytest.fixture
def child_env():
    """Environment of a worker process on the test database (it sees committed rows only)."""
    return service_env(url_of(connection.settings_dict))
