"""API key scopes (DESIGN.md, "REST API v1")."""

IDENTITY_READ = "identity:read"
IDENTITY_WRITE = "identity:write"
PHONE_READ = "phone:read"
EVENTS_WRITE = "events:write"
TAGS_WRITE = "tags:write"
SEGMENTS_READ = "segments:read"
PERSONS_ERASE = "persons:erase"
ANALYTICS_READ = "analytics:read"
# The Prometheus metrics at /metrics (config/metrics_view.py): for the monitoring's key.
METRICS_READ = "metrics:read"

ALL_SCOPES = (
    IDENTITY_READ,
    IDENTITY_WRITE,
    PHONE_READ,
    EVENTS_WRITE,
    TAGS_WRITE,
    SEGMENTS_READ,
    PERSONS_ERASE,
    ANALYTICS_READ,
    METRICS_READ,
)
