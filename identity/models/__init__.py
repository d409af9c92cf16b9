from identity.models.api_keys import ApiKey
from identity.models.audit import Actor, AuditEntry
from identity.models.client_apps import App, AppKind, Platform
from identity.models.merges import MergeReason, MergeRecord
from identity.models.persons import Identity, Person, UnionId
from identity.models.wechat import FollowerImport, WeChatSession

__all__ = [
    "Actor",
    "ApiKey",
    "App",
    "AppKind",
    "AuditEntry",
    "FollowerImport",
    "Identity",
    "MergeReason",
    "MergeRecord",
    "Person",
    "Platform",
    "UnionId",
    "WeChatSession",
]
