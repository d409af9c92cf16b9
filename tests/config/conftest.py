import io
import json
import logging
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from config.api.scopes import METRICS_READ


@dataclass(frozen=True)
class Scrape:
    """One answer of /metrics, parsed: sample values by name and labels."""

    text: str

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
        total = 0.0
        for family in text_string_to_metric_families(self.text):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    total += sample.value
        return total

    def labels(self, name: str, label: str) -> set[str]:
        """The values of one label over the samples of `name`."""
        return {
            sample.labels[label]
            for family in text_string_to_metric_families(self.text)
            for sample in family.samples
            if sample.name == name and label in sample.labels
        }


@pytest.fixture
def scrape(make_client):
    """Read /metrics as Prometheus does, with a key that holds `metrics:read` only.

    The process's counters live as long as it does: tests compare two scrapes.
    """
    client = make_client(scopes=[METRICS_READ], name="prometheus")

    def read() -> Scrape:
        response = client.get("/metrics")
        assert response.status_code == 200, response.content
        return Scrape(response.content.decode())

    return read


@pytest.fixture
def json_log():
    """Everything logged during the test at DEBUG, as the configured console handler writes
    it (its formatter, LOG_FORMAT's default JSON, and its filters); returns a reader of the
    lines, parsed."""
    root = logging.getLogger()
    console = next(handler for handler in root.handlers if handler.name == "console")
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(console.formatter)
    for log_filter in console.filters:
        capture.addFilter(log_filter)
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    lines.text = stream.getvalue
    yield lines
    root.removeHandler(capture)
    root.setLevel(level)
