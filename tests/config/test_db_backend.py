"""The database backend checks a reused connection locally and retries a read once on a new
connection when the old one was lost (config/postgresql/base.py), so that a PostgreSQL restart
between two requests costs no failed request and no request pays a `SELECT 1` round trip."""

import psycopg
import pytest
from django.db import OperationalError, connection, transaction

from identity.models import App
from tests.faults.conftest import url_of

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def kill_current_connection() -> int:
    """Terminate the server process behind Django's connection, as a restart would."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with psycopg.connect(url_of(connection.settings_dict), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    return pid


def test_the_health_check_sends_nothing(monkeypatch):
    connection.ensure_connection()

    def no_statement(*args, **kwargs):
        raise AssertionError("the health check sent a statement")

    with monkeypatch.context() as patched:
        patched.setattr(connection.connection, "cursor", no_statement)
        patched.setattr(connection.connection, "execute", no_statement)

        assert connection.is_usable()


def test_a_read_on_a_lost_connection_is_sent_again_on_a_new_one():
    old_pid = kill_current_connection()

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        new_pid = cursor.fetchone()[0]

    assert new_pid != old_pid
    assert App.objects.count() >= 0  # the ORM reads on the new connection too


def test_a_write_on_a_lost_connection_is_not_sent_again():
    kill_current_connection()

    with pytest.raises(OperationalError):
        App.objects.filter(appid="none").update(name="x")
    connection.close()


def test_a_read_inside_a_transaction_is_not_sent_again():
    kill_current_connection()

    with pytest.raises(OperationalError), transaction.atomic():
        App.objects.count()
    connection.close()


def test_a_statement_error_is_not_a_lost_connection():
    with pytest.raises(Exception, match="no_such_table"), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    assert connection.is_usable()
