"""Django's Redis cache backend, with one Redis client per connection pool instead of per call.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache operation.
Under redis-py 8 that constructor (its table of response callbacks) was profiled at a tenth of
a cached lookup's CPU (bench/profile_lookup.py with PROFILE_GIL=1). A client is thread-safe and
holds nothing but its pool, so each pool keeps one.
"""

from django.core.cache.backends import redis


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
