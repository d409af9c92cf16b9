"""One package per platform (WeChat now; Alipay and Douyin next): its client, callback views,
fake server and the mapping of its flows onto identity and profiles services."""
