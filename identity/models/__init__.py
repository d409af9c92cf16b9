from identity.models.api_keys import ApiKey
from identity.models.audit import Actor, AuditEntry
from identity.models.client_apps import App, AppKind, Platform
from identity.models.merges import MergeReason, MergeRecord
from identity.models.persons import Identity, Person, UnionId

__all__ = [
    "Actor",
    "ApiKey",
    "App",
    "AppKind",
    "AuditEntry",
    "Identity",
    "MergeReason",
    "MergeRecord",
    "Person",
    "Platform",
    "UnionId",
]
