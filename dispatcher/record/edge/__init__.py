"""The API's own tables (its edge state; the worker never reads them), one home each:

| table | module |
|---|---|
| `api_intake` (acknowledged requests, merge keys, the outbox copy) | `intake` |
| `api_link_uses` (volunteers' answers through links) | `link_uses` |
| `api_idempotency`, `api_webhook_ids` (bot retries and replays) | `bot_calls` |
| `api_group_threads`, `api_group_posts` (groups that asked, their posts) | `group_threads` |
| `roster_members` (who earlier ledgers listed) | `roster_members` |
| `helper_phone_keys` (roster helpers' phone digests: one phone, one helper) | `phone_keys` |
| `households` (households, their tags and contact cards) | `households` |
| `staff_audit`, `contact_views` (who saw or did what) | `audit` |
| `platform_logins` (chat-platform logins for offer links, one-time codes) | `platform_logins` |
| `staff_actions` (staff actions on requests: who, when, which command) | `staff_actions` |
| `recipient_link_uses` (one-time claim / report-back links of the whistle) | `recipient_links` |
| `platform_accounts`, `roster_members`, `households` (rows moved to a keyed id) | `helper_moves` |

Queries of the projection tables are in `dispatcher.record.read`.
"""
