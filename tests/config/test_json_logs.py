"""Log lines as JSON objects (LOG_FORMAT=json, the default) or plain text, and the filters that
keep request paths and the development server's request lines out of them (config/logs.py)."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory

from config.logs import RequestPathFilter, RunserverRequestLineFilter, json_formatter

ROOT = Path(__file__).resolve().parents[2]
LOG_ONE_LINE = (
    "import logging, django; django.setup(); "
    "logging.getLogger('tests.format').warning('hello %s', 'world')"
)


def _record(name="tests.json", msg="hello %s", args=("world",), **extra) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_a_line_is_one_json_object_with_time_level_logger_message_and_extras():
    record = _record(route="healthz", status=200)

    line = json_formatter().format(record)

    assert "\n" not in line
    body = json.loads(line)
    assert list(body)[:4] == ["time", "level", "logger", "message"]
    assert body["time"].endswith("+00:00")
    assert body["level"] == "WARNING"
    assert (body["logger"], body["message"]) == ("tests.json", "hello world")
    assert (body["route"], body["status"]) == ("healthz", 200)


def test_an_exception_is_one_field_of_the_line():
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.LogRecord("tests.json", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()

    line = json_formatter().format(record)

    assert "\n" not in line
    assert "ValueError: broken" in json.loads(line)["exc_info"]


def test_the_request_django_attaches_is_never_written():
    request = RequestFactory().get("/api/v1/persons/lookup", {"phone": "13812345678"})
    record = _record(msg="%s: %s", args=("Bad Request", request.path), request=request)

    line = json_formatter().format(record)

    assert "13812345678" not in line
    assert "request" not in json.loads(line)


def test_django_answer_records_name_the_route_instead_of_the_path(rf):
    request = rf.get("/api/v1/persons/pSecretId42")
    record = _record(
        name="django.request",
        msg="%s: %s",
        args=("Not Found", "/api/v1/persons/pSecretId42"),
        request=request,
        status_code=404,
    )

    RequestPathFilter().filter(record)

    assert record.getMessage() == "Not Found: (unmatched)"


def test_the_development_server_request_lines_are_dropped():
    line = _record(
        name="django.server",
        msg='"%s" %s %s',
        args=("GET /api/v1/persons/lookup?phone=13812345678 HTTP/1.1", "200", "12"),
        status_code=200,
    )
    error = _record(name="django.server", msg="- Broken pipe from %s", args=("127.0.0.1",))

    assert RunserverRequestLineFilter().filter(line) is False
    assert RunserverRequestLineFilter().filter(error) is True


def _run_with(log_format: str | None) -> subprocess.CompletedProcess:
    # A database URL that is never connected to: no embedded server is started for this.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": "postgres://unused@127.0.0.1:9/unused",
    }
    env.pop("LOG_FORMAT", None)
    if log_format is not None:
        env["LOG_FORMAT"] = log_format
    return subprocess.run(
        [sys.executable, "-c", LOG_ONE_LINE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("log_format", [None, "json", "JSON"])
def test_json_is_the_default_format(log_format):
    done = _run_with(log_format)

    assert done.returncode == 0, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert json.loads(line)["message"] == "hello world"


def test_plain_is_the_text_line_of_before():
    done = _run_with("plain")

    assert done.returncode == 0, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.endswith(" WARNING tests.format hello world")
    assert not line.startswith("{")


def test_an_unknown_format_stops_the_start_up():
    done = _run_with("xml")

    assert done.returncode != 0
    assert "Unable to configure handler 'console'" in done.stderr


@pytest.mark.parametrize("name", ["django", "django.server", "django.request"])
def test_django_records_go_through_the_filtered_handler(name):
    # Django's default logging gives `django` and `django.server` handlers of their own, which
    # would write the development server's request lines and DEBUG's copies unfiltered.
    logger = logging.getLogger(name)

    assert logger.handlers == []
    assert logger.propagate
