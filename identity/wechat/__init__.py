"""WeChat integration: a small typed client, token cache, callback crypto and a fake server.

Every call goes to `settings.WECHAT_API_BASE`, so tests and the demo talk to the fake server in
`identity.wechat.fake` on loopback instead of WeChat.
"""
