"""WeChat: a typed client with its token cache, callback crypto, login and callback views, push
handling, follower import, openid migration, segment tag sync, and a fake server for tests and
the demo (`test_double`).

Every call goes to `settings.WECHAT_API_BASE`, so tests and the demo talk to the fake server on
loopback instead of WeChat.
"""
