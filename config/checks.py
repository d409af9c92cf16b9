"""Deploy checks for the settings Django's own `check --deploy` does not know about."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def keys_from_environment(app_configs, **kwargs):
    """Warn when a production secret is the generated local development key."""
    return [
        Warning(
            f"{name} comes from the local development key file, not the environment.",
            hint=f"Set {name} in the environment of the production service.",
            id="config.W001",
        )
        for name in settings.KEYS_FROM_LOCAL_STATE
    ]


@register(Tags.security, deploy=True)
def personal_data_keys_valid(app_configs, **kwargs):
    """Refuse personal-data keys that Fernet cannot use."""
    from cryptography.fernet import Fernet

    errors = []
    for position, key in enumerate(settings.PERSONAL_DATA_KEYS):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                Warning(
                    f"PERSONAL_DATA_KEYS item {position + 1} is not a valid Fernet key.",
                    hint="Generate one with `python manage.py generate_data_key`.",
                    id="config.W002",
                )
            )
    if len(settings.BLIND_INDEX_KEY) < 32:
        errors.append(
            Warning(
                "BLIND_INDEX_KEY is shorter than 32 characters.",
                hint="Use at least 32 random characters.",
                id="config.W003",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def shared_cache(app_configs, **kwargs):
    """Warn when the cache is each process's own: the WeChat callback's replay cache and the
    per-key rate limits would then hold per worker, and a replay sent to another worker of
    gunicorn would pass."""
    if settings.REDIS_URL:
        return []
    return [
        Warning(
            "REDIS_URL is not set: the cache (callback replay cache, rate limits) is per process.",
            hint="Set REDIS_URL so that every worker shares one cache.",
            id="config.W004",
        )
    ]
