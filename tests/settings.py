"""Settings for the test suite: production settings with plain HTTP and fast hashing.

The suite's HTTP clients (the test client, the live server behind the browser test) speak
plain HTTP, so HTTPS redirects, HSTS and secure-only cookies are off; everything else is the
production configuration.
"""

from config.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Admin logins hash a password per test; a fast hasher keeps the suite quick.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Rate limits have their own tests; elsewhere a shared Redis must not throttle the suite.
API_RATE_LIMIT = None
# Tests change keys and apps between requests: no in-process caching unless a test asks.
API_KEY_CACHE_SECONDS = 0
APP_CACHE_SECONDS = 0
# The person cache is on in every test (one process: the local memory cache is shared enough);
# it serves reads outside transactions only, so mostly the transactional tests.
PERSON_CACHE_SECONDS = 300
