"""The worker's log of a failed job names a database error by kind, never by its values."""

import logging
import sys

import pytest
from django.db import IntegrityError, transaction

from identity.models import Identity
from jobs.runs import DatabaseErrorsByKind
from tests.factories import IdentityFactory


def _record(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "procrastinate.worker", logging.ERROR, __file__, 1, "Job %s ended", ("x",), exc_info
    )


@pytest.mark.django_db
def test_a_database_error_is_logged_by_class_and_sqlstate(person):
    openid = Identity.objects.filter(person=person).values_list("openid", flat=True).first()
    app = Identity.objects.get(openid=openid).app
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        IdentityFactory(app=app, openid=openid)
    record = _record(caught.value)

    assert DatabaseErrorsByKind().filter(record)

    text = logging.Formatter().format(record)
    assert text == "Job x ended [UniqueViolation (SQLSTATE 23505)]"
    assert openid not in text


def test_other_errors_keep_their_traceback():
    record = _record(ValueError("a job's own words"))

    DatabaseErrorsByKind().filter(record)

    assert "a job's own words" in logging.Formatter().format(record)
    assert "Traceback" in logging.Formatter().format(record)
