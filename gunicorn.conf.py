"""Production serving: `gunicorn -c gunicorn.conf.py config.wsgi:application`.

Sync workers with threads: the service is I/O bound on PostgreSQL, so a few processes (one per
core) with a few threads each keep the cores busy. Persistent database connections
(DB_CONN_MAX_AGE) make each thread reuse its connection. Every value can be overridden from
the environment (GUNICORN_WORKERS, GUNICORN_THREADS, GUNICORN_BIND, ...).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
# Access log without the query string: a GET lookup by phone would otherwise log the number.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
errorlog = "-"
