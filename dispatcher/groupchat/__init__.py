"""Closing the loop in the chat group: the group that asked hears what happens.

`texts` (pure) turns events into short Chinese group messages with no personal data;
`sender` posts into a group (DingTalk sessionWebhook or the group's configured robot);
`loop` consumes the events topic and keeps each group's messages in order. Which groups
asked is recorded in PostgreSQL (dispatcher/record/edge/group_threads.py).
"""
