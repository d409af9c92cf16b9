from platforms.wechat.models.sessions import FollowerImport, WeChatSession
from platforms.wechat.models.tag_syncs import WeChatTagMember, WeChatTagSync

__all__ = ["FollowerImport", "WeChatSession", "WeChatTagMember", "WeChatTagSync"]
