"""Settings for benchmark tooling: production settings plus the `bench` app and its commands.

`bench` is not an installed app of the product: only `DJANGO_SETTINGS_MODULE=bench.settings
python manage.py bench_seed ...` (and bench/run.py, which sets it for its own commands) sees it.
The service under measurement runs on config.settings, as in production.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench"]
