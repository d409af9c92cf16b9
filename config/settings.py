"""Django settings, read from the environment.

Documented variables (see README "Configuration"): DATABASE_URL, REDIS_URL, SECRET_KEY,
PERSONAL_DATA_KEYS, BLIND_INDEX_KEY, DEBUG, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS, LANGUAGE_CODE,
DB_CONN_MAX_AGE, DB_POOL, DB_POOL_MIN_SIZE, DB_POOL_MAX_SIZE, SECURE_SSL_REDIRECT,
SECURE_PROXY_SSL_HEADER, SECURE_HSTS_SECONDS, LOG_LEVEL, LOG_FORMAT, PERSON_CACHE_SECONDS,
CACHE_TIMEOUT_SECONDS, DATABASE_REPLICA_URL, REPLICA_MAX_LAG_SECONDS, REPLICA_RETRY_SECONDS.
"""

import os
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config import local_state
from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = local_state.BASE_DIR

DEBUG = env_bool("DEBUG", False)

# Secrets. Without them (a fresh machine), local keys are generated once into .local/ and the
# deploy checks in config/checks.py flag it.
_dev_keys = None
KEYS_FROM_LOCAL_STATE = []


def _secret(name: str) -> str:
    global _dev_keys
    value = env_str(name)
    if value:
        return value
    if _dev_keys is None:
        _dev_keys = local_state.dev_keys()
    KEYS_FROM_LOCAL_STATE.append(name)
    return _dev_keys[name]


SECRET_KEY = _secret("SECRET_KEY")
# Fernet keys for personal data: the first encrypts, all decrypt (key rotation).
PERSONAL_DATA_KEYS = [k.strip() for k in _secret("PERSONAL_DATA_KEYS").split(",") if k.strip()]
# HMAC key of the phone blind index. It never rotates with PERSONAL_DATA_KEYS: changing it would
# need every phone re-indexed.
BLIND_INDEX_KEY = _secret("BLIND_INDEX_KEY")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "procrastinate.contrib.django",
    "jobs",
    "identity",
    "profiles",
    "analytics",
    "platforms.wechat",
    "config.apps.ConfigApp",
]

MIDDLEWARE = [
    # First: the request id, the request metrics and the access line see every answer.
    "config.observability.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ under gunicorn alone (no proxy needed), right after the security headers
    # and before anything that reads sessions or the database.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the session middleware: it drops cookies holding NUL before they are looked up.
    "config.request_guard.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    # Read-your-writes of the replica: an API write's WAL position, before its answer leaves.
    "config.write_positions.WritePositionMiddleware",
    # Last, as django-axes requires: turns a refused admin login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's admin frame (admin/base_site.html: the language switch) comes before the
        # apps' templates, django.contrib.admin's among them.
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database_config(variable: str = "DATABASE_URL") -> dict:
    url = env_str(variable)
    if url is None:
        url = local_state.embedded_database_url()
    config = dj_database_url.parse(url)
    # pgserver hands out socket URLs (postgresql://user:@/db?host=/path), which dj-database-url
    # reads without the host: take it from the query string.
    query_host = parse_qs(urlsplit(url).query).get("host")
    if query_host and not config.get("HOST"):
        config["HOST"] = query_host[0]
    # Django's backend with a local health check and one retry of a read on a lost connection
    # (config/postgresql/base.py): no `SELECT 1` round trip before each request's first query.
    config["ENGINE"] = "config.postgresql"
    config["CONN_HEALTH_CHECKS"] = True
    options = config.setdefault("OPTIONS", {})
    options.setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))
    # Server-side parameter binding lets psycopg prepare the statements a connection runs
    # repeatedly (after `prepare_threshold` runs): the person read's plan is then made once per
    # connection instead of on every request.
    options.setdefault("server_side_binding", env_bool("DB_SERVER_SIDE_BINDING", True))
    options.setdefault("prepare_threshold", env_int("DB_PREPARE_THRESHOLD", 5))
    if env_bool("DB_POOL", False):
        # psycopg's pool; Django requires CONN_MAX_AGE = 0 with it.
        options["pool"] = {
            "min_size": env_int("DB_POOL_MIN_SIZE", 2),
            "max_size": env_int("DB_POOL_MAX_SIZE", 20),
            "timeout": env_int("DB_POOL_TIMEOUT", 10),
        }
        config["CONN_MAX_AGE"] = 0
    else:
        config["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
    return config


DATABASES = {"default": _database_config()}
# A streaming replica of the primary for the lookups' reads (config/db_routing.py), with the
# primary's options. In tests it mirrors the primary; the replica tests start a real standby.
if env_str("DATABASE_REPLICA_URL"):
    if not env_str("REDIS_URL"):
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL needs REDIS_URL: every process must see each caller's last "
            "write (read-your-writes), which a process's own memory cannot share."
        )
    DATABASES["replica"] = {
        **_database_config("DATABASE_REPLICA_URL"),
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["config.db_routing.ReplicaRouter"]
# Nobody reads a replica further behind than this many seconds; one that failed is left alone
# for REPLICA_RETRY_SECONDS by each process, then tried again.
REPLICA_MAX_LAG_SECONDS = env_int("REPLICA_MAX_LAG_SECONDS", 5)
REPLICA_RETRY_SECONDS = env_int("REPLICA_RETRY_SECONDS", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's backend, one client per pool (config/redis_cache.py).
            "BACKEND": "config.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "uid"),
            # A Redis that stops answering costs each request this long at most, after which
            # the person cache reads the database (identity/person_cache.py).
            "OPTIONS": {
                "socket_connect_timeout": float(env_str("CACHE_TIMEOUT_SECONDS", "0.5")),
                "socket_timeout": float(env_str("CACHE_TIMEOUT_SECONDS", "0.5")),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Admin logins: django-axes counts failures per (username, client address) in the database,
# shared by every worker without a cache. The 5th failure in a row (each within 15 minutes of
# the last) locks that pair out for 15 minutes (429, identity/admin/lockout.py), a correct
# password included. Its logs mask usernames and addresses; successful logins are not stored.
# Behind a reverse proxy the address is the proxy's unless it sets REMOTE_ADDR (docs/security.md).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "identity.admin.lockout.locked_out"
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address"]
AXES_DISABLE_ACCESS_LOG = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
# Calendar days of the activity rollups and the reports (analytics.md "Common rules").
ANALYTICS_TIME_ZONE = env_str("ANALYTICS_TIME_ZONE", "Asia/Shanghai")
# Each statement of a report is cancelled after this many milliseconds (0: no limit) and the
# request answers 503 report_timeout: keep it well below GUNICORN_TIMEOUT.
ANALYTICS_STATEMENT_TIMEOUT_MS = env_int("ANALYTICS_STATEMENT_TIMEOUT_MS", 10000)
# The admin index's dashboard runs several reports on a cold cache: each statement of a widget
# stops after this many milliseconds (0: no limit), the settle widget's reports share them, and
# a widget that runs over is left out of the page, so that the index stays inside
# GUNICORN_TIMEOUT.
ANALYTICS_DASHBOARD_TIMEOUT_MS = env_int("ANALYTICS_DASHBOARD_TIMEOUT_MS", 2000)
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# `manage.py collectstatic` (part of the start-up) gathers and compresses the files into
# STATIC_ROOT; WhiteNoise serves them with gzip/brotli variants. Without it, WhiteNoise finds
# them in the apps (WHITENOISE_USE_FINDERS) so that a forgotten collectstatic costs speed, not
# the admin's styling. Names are not hashed (no manifest): a deploy that forgot collectstatic
# must not turn every admin page into a 500, so files are cached briefly, not forever.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_MAX_AGE = env_int("STATIC_MAX_AGE_SECONDS", 3600)

# Security. Production (DEBUG off) is strict by default; each switch can be relaxed explicitly,
# e.g. SECURE_SSL_REDIRECT=false behind a proxy that already redirects.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env_str("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (env_str("SECURE_PROXY_SSL_HEADER"), "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SILENCED_SYSTEM_CHECKS = env_list("SILENCED_SYSTEM_CHECKS")
# Requests larger than this are refused with 413 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 2 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["config.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.permissions.HasScopes"],
    "DEFAULT_RENDERER_CLASSES": ["config.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["config.api.throttling.ApiKeyRateThrottle"],
}
# The person cache (identity/person_cache.py): entries live this many seconds (0: off). It needs
# a cache shared by every process (Redis): a process's own memory would miss the other
# processes' invalidations, so it is off without REDIS_URL.
PERSON_CACHE_SECONDS = env_int("PERSON_CACHE_SECONDS", 300 if REDIS_URL else 0)
# In-process caches on the hot path: API keys (a revocation reaches every worker within this
# time) and apps (name and kind changes; secrets are always read afresh).
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 5)
APP_CACHE_SECONDS = env_int("APP_CACHE_SECONDS", 30)
# Requests per API key, shared through the cache ("" for no limit).
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "6000/min").strip() or None

SPECTACULAR_SETTINGS = {
    "TITLE": "Unified identity API",
    "DESCRIPTION": (
        "One person behind every openid, unionid and phone number of a company's WeChat apps."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the sidecar package: the docs work offline, without a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # The reports' periods appear as `period` and (in a lifecycle save-as-tag) `granularity`.
    "ENUM_NAME_OVERRIDES": {"PeriodEnum": "analytics.periods.PERIODS"},
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKey": {"type": "http", "scheme": "bearer"}},
    },
    "SECURITY": [{"ApiKey": []}],
}

# Background jobs (jobs/): the queue is procrastinate's tables in the same database. With
# JOBS_RUN_INLINE (the test suite sets it), an enqueued job also runs in the enqueuing process
# right after its commit, so that tests see its effect without a worker.
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "tasks"
JOBS_RUN_INLINE = env_bool("JOBS_RUN_INLINE", False)
# The worker (`manage.py run_worker`): jobs at once per process (threads, one connection each),
# and how long a graceful stop waits for them before exiting at once (0: as long as they take).
JOBS_WORKER_CONCURRENCY = env_int("JOBS_WORKER_CONCURRENCY", 4)
JOBS_STOP_TIMEOUT_SECONDS = env_int("JOBS_STOP_TIMEOUT_SECONDS", 60)
# Each worker writes a heartbeat this often (procrastinate's default). `/healthz` says "down"
# when no worker wrote one for JOBS_WORKER_DOWN_SECONDS, "lagging" when a due job or pending
# events waited longer than JOBS_LAG_SECONDS; the jobs of a worker silent for
# JOBS_STALLED_SECONDS are retried (its process is gone: a SIGKILL, a lost machine).
JOBS_HEARTBEAT_SECONDS = env_int("JOBS_HEARTBEAT_SECONDS", 10)
JOBS_WORKER_DOWN_SECONDS = env_int("JOBS_WORKER_DOWN_SECONDS", 30)
JOBS_LAG_SECONDS = env_int("JOBS_LAG_SECONDS", 60)
JOBS_STALLED_SECONDS = env_int("JOBS_STALLED_SECONDS", 60)
# Finished queue jobs: succeeded ones are deleted after JOBS_KEEP_SUCCEEDED_HOURS; failed ones
# and the scheduled runs' records (admin "Job runs") after JOBS_HISTORY_DAYS.
JOBS_KEEP_SUCCEEDED_HOURS = env_int("JOBS_KEEP_SUCCEEDED_HOURS", 24)
JOBS_HISTORY_DAYS = env_int("JOBS_HISTORY_DAYS", 30)
# Crons of the scheduled jobs (in TIME_ZONE), overriding the defaults in each app's `tasks`:
# "name=cron;name=cron", e.g. "profiles.prune_events=30 4 * * *;wechat.reimport_followers="
# (an empty cron switches a job off). The admin's "Scheduled jobs" page lists the names.
JOBS_SCHEDULE = {
    name.strip(): cron.strip()
    for name, _, cron in (
        item.partition("=") for item in (env_str("JOBS_SCHEDULE") or "").split(";") if item
    )
    if name.strip()
}

# WeChat's API host; tests and the demo point it at a fake server on loopback.
WECHAT_API_BASE = env_str("WECHAT_API_BASE", "https://api.weixin.qq.com")

# LOG_FORMAT: `json` (one object per line, config/logs.py) or `plain`; another value stops the
# start-up (dictConfig finds no such formatter). Each request's id (config/observability.py)
# is added to its records, and Django's answers are logged by URL pattern, never by path.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.logs.json_formatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {
        "request_id": {"()": "config.logs.RequestIdFilter"},
        "request_path": {"()": "config.logs.RequestPathFilter"},
        "runserver_request_lines": {"()": "config.logs.RunserverRequestLineFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env_str("LOG_FORMAT", "json").lower(),
            "filters": ["request_id", "request_path", "runserver_request_lines"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's defaults give these their own handlers (runserver's request lines, DEBUG's
        # console), which write around the filters above: one handler for every record, at
        # the root's level.
        "django": {"handlers": [], "level": "NOTSET", "propagate": True},
        "django.server": {"handlers": [], "level": "NOTSET", "propagate": True},
        # Request bodies and SQL parameters can carry personal data: keep them out of logs.
        "django.db.backends": {"level": "WARNING", "propagate": True},
        "pgserver": {"level": "WARNING", "propagate": True},
        # procrastinate logs each job's arguments at INFO; ours carry ids only, but its
        # per-job lines would drown the worker's own progress lines.
        "procrastinate": {"level": "WARNING", "propagate": True},
        # httpx logs every request URL at INFO, and WeChat URLs carry app secrets and codes.
        "httpx": {"level": "WARNING", "propagate": True},
        "httpcore": {"level": "WARNING", "propagate": True},
    },
}

# The admin shows a new API key once in a message: keep messages server-side, not in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Raw events are kept this many days: the worker's prune (`manage.py prune_events`) folds each
# month that ended before now minus this into rollups and drops its partition. 400 keeps a year
# and a month of raw events, so that year-over-year reads of a whole month still find them.
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 400)
# Each statement that evaluates a condition (rule refresh, segment count) is cancelled after
# this many milliseconds (0: no limit); the failure is recorded, the request still answers.
CONDITION_STATEMENT_TIMEOUT_MS = env_int("CONDITION_STATEMENT_TIMEOUT_MS", 30000)
# The condition builder's live count (asked 400 ms after each edit, one in flight per staff
# user) stops after this many milliseconds (0: no limit), well inside GUNICORN_TIMEOUT.
CONDITION_COUNT_TIMEOUT_MS = env_int("CONDITION_COUNT_TIMEOUT_MS", 3000)
WECHAT_TIMEOUT_SECONDS = float(env_str("WECHAT_TIMEOUT_SECONDS", "5"))
# Pushes and URL checks whose `timestamp` is further than this from now are refused (403); a
# signed request is accepted once, remembered in the cache (Redis when set) meanwhile.
WECHAT_CALLBACK_MAX_SKEW_SECONDS = env_int("WECHAT_CALLBACK_MAX_SKEW_SECONDS", 300)
