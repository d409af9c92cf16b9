"""Every Prometheus metric of the service, and the registry one scrape of `/metrics` reads.

The metrics are defined here, in the plumbing every app may import, so that each name, its
labels and their allowed values are read in one place; the code that counts imports the metric
and increments it. No label ever holds personal data or anything a caller chooses freely: routes
are the URL patterns (`api/v1/persons/<slug:person_id>`), never the paths that carry person ids.

Processes: gunicorn runs several worker processes and the background worker is another one.
With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it, `make run` too), every process
writes its counters into a file there and a scrape sums them all (prometheus_client's
multiprocess mode, chosen when prometheus_client is first imported: the variable must be set
before). Without it (tests, a plain `runserver`), the process's own registry is the answer.

Values measured at scrape time (the queue, the backlogs, the worker's heartbeat) come from the
database through `QueueCollector`, in the process that answers the scrape, one statement.
"""

import logging
import math
import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
"""The directory of the processes' metric files, as prometheus_client saw it at import."""
if MULTIPROCESS_DIR:
    # A worker started before the web server (which creates it) must not fail on it.
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)

# Latency buckets: the lookup answers in about a millisecond, reports take seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# -- requests (config/observability.py) ------------------------------------------------------

REQUEST_DURATION = Histogram(
    "uid_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by URL pattern, method and status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
REQUEST_DB_DURATION = Histogram(
    "uid_http_request_db_seconds",
    "Total time one request spent in SQL statements, by URL pattern.",
    ["route"],
    buckets=DB_BUCKETS,
)

# -- the person cache (identity) -------------------------------------------------------------

PERSON_CACHE_REQUESTS = Counter(
    "uid_person_cache_requests_total",
    "Person cache reads: hit, miss, error (Redis unreachable) or bypass (cache off).",
    ["result"],
)
PERSON_CACHE_RESULTS = ("hit", "miss", "error", "bypass")

# -- events (profiles) -----------------------------------------------------------------------

EVENTS_ACCEPTED = Counter(
    "uid_events_accepted_total",
    "Events stored by an ingest, by feed (events: the API; wechat_push: service-account pushes).",
    ["source"],
)
EVENTS_APPLIED = Counter(
    "uid_events_applied_total",
    "Events whose stats, activity, follow state and rule tags the worker brought up to date.",
)

# -- WeChat (platforms/wechat/transport.py) --------------------------------------------------

WECHAT_CALLS = Counter(
    "uid_wechat_calls_total",
    "HTTP calls to WeChat by API path and outcome: ok, WeChat's errcode, or transport_error.",
    ["api", "outcome"],
)
WECHAT_CALL_DURATION = Histogram(
    "uid_wechat_call_duration_seconds",
    "Time of one HTTP call to WeChat (each retry is a call), by API path.",
    ["api"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Every result shows from the first scrape on, at 0: a rate over a missing series is no rate.
for _result in PERSON_CACHE_RESULTS:
    PERSON_CACHE_REQUESTS.labels(_result)


class QueueCollector:
    """The background work waiting, measured when Prometheus scrapes.

    Reuses the statement of `/healthz` (jobs.selectors.queue_health): due jobs and the oldest
    one's wait, the newest worker heartbeat, and every registered backlog (the pending events).
    A database that does not answer yields `uid_queue_up 0` instead of failing the scrape,
    so that the web's own metrics still arrive.
    """

    def collect(self):
        from jobs.selectors import queue_health  # needs the app registry: at scrape time

        up = GaugeMetricFamily("uid_queue_up", "1 when the queue's state could be read.")
        try:
            health = queue_health()
        except Exception as exc:
            logger.warning("queue metrics unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "uid_queue_depth", "Due jobs waiting for a worker.", value=health.depth
        )
        yield GaugeMetricFamily(
            "uid_queue_oldest_job_age_seconds",
            "How long the oldest due job has waited (0 when none waits).",
            value=health.oldest_seconds or 0.0,
        )
        yield GaugeMetricFamily(
            "uid_worker_heartbeat_age_seconds",
            "Seconds since the newest worker heartbeat (+Inf when no worker ever ran).",
            value=math.inf if health.heartbeat_seconds is None else health.heartbeat_seconds,
        )
        state = GaugeMetricFamily(
            "uid_worker_state",
            "The worker's state as /healthz says it: 1 for the current one.",
            labels=["state"],
        )
        for name in ("ok", "lagging", "down"):
            state.add_metric([name], 1 if health.worker == name else 0)
        yield state
        units = GaugeMetricFamily(
            "uid_backlog_units",
            "Work waiting outside the queue (pending_events: events not applied yet).",
            labels=["backlog"],
        )
        ages = GaugeMetricFamily(
            "uid_backlog_oldest_age_seconds",
            "How long the oldest unit of a backlog has waited (0 when none waits).",
            labels=["backlog"],
        )
        for key, (count, age) in health.backlogs.items():
            units.add_metric([key], count)
            ages.add_metric([key], age or 0.0)
        yield units
        yield ages


class _ProcessRegistry:
    """This process's metrics (no multiprocess directory), as one collector of a scrape."""

    def collect(self):
        return REGISTRY.collect()


def scrape_registry(multiprocess_dir: str | None = None) -> CollectorRegistry:
    """The registry one scrape reads: every process's metrics, then the queue's."""
    registry = CollectorRegistry(auto_describe=False)
    multiprocess_dir = multiprocess_dir or MULTIPROCESS_DIR
    if multiprocess_dir:
        MultiProcessCollector(registry, path=multiprocess_dir)
    else:
        registry.register(_ProcessRegistry())
    registry.register(QueueCollector())
    return registry
