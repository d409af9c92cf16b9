"""Fixtures shared by the analytics tests."""

import psycopg
import pytest
from django.db import connection


@pytest.fixture
def activity_locked():
    """Hold an exclusive lock on the daily activity from a second connection, so that a report
    waits for it until its statement timeout stops it (tests/profiles/test_conditions_hostile)."""
    params = connection.settings_dict
    side = psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"] or None,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
    )
    try:
        side.execute("SET lock_timeout = '5s'")
        side.execute("LOCK TABLE profiles_dailyactivity IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        side.rollback()
        side.close()
