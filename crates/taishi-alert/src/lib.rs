//! Taishi's alert outputs: grouping and suppression, webhook, DingTalk, WeCom, Feishu, SMTP and syslog/CEF forwarding
