"""Production serving: `gunicorn -c gunicorn.conf.py config.wsgi:application`.

Sync workers with threads: the service is I/O bound on PostgreSQL, so a few processes (one per
core) with a few threads each keep the cores busy. Persistent database connections
(DB_CONN_MAX_AGE) make each thread reuse its connection. Every value can be overridden from
the environment (GUNICORN_WORKERS, GUNICORN_THREADS, GUNICORN_BIND, ...).

Metrics: the workers write their counters into PROMETHEUS_MULTIPROC_DIR (config/metrics_files.py),
so that a scrape of /metrics, answered by any one of them, sums them all.
"""

import multiprocessing
import os

# Imported under another name: gunicorn reads every module-level name of this file as a setting,
# and `config` is one.
from config import metrics_files as _metrics_files

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
# Off by default: the application writes one access line per request (config/observability.py)
# with its route, status, timings and request id. GUNICORN_ACCESSLOG=- turns gunicorn's on again,
# without the query string (a GET lookup by phone would log the number) but with the raw path.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
errorlog = "-"

# Set before the workers import the application: prometheus_client chooses its multiprocess
# mode when it is first imported.
_metrics_dir = _metrics_files.use_multiprocess_dir()


def on_starting(server):
    """Clear the metric files of processes that are gone (earlier runs' workers)."""
    _metrics_files.remove_dead_process_files(_metrics_dir)


def child_exit(server, worker):
    """Let prometheus_client drop what only a live worker reports."""
    _metrics_files.mark_process_dead(worker.pid, _metrics_dir)
