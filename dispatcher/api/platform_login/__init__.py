"""Who opened an offer link, by the chat platform's own in-app web login (issue 12).

A helper whose roster row carries a platform user id (`平台账号`) gets offer links whose
sealed claims name that id. When the helper's community has a login configured for its
platform (`DISPATCH_PLATFORM_LOGINS`), opening such a link inside WeCom / DingTalk / Feishu
goes through the platform's OAuth redirect; the page then knows who is looking, and only
that platform user may accept or decline, or see the requester's contact again.

- `config.py`   what an operator configures per platform (ids, secret, base URLs)
- `clients.py`  the three platforms' code → user id exchanges (documented request shapes)
- `tokens.py`   the CSRF state cookie and the short-lived login session cookie (pure)
- `gate.py`     what an offer page does with a link that needs a login
- `routes.py`   the OAuth callback `/l/login/{platform}/callback`
"""
