"""`python -m dispatcher config check`: whether an API serves every bot its store holds.

A pre-deploy or post-deploy job's question. `/readyz` answers 200 even when the live
configuration holds bots the API refuses to serve (a Feishu bot stored without its Encrypt
Key, outside dev mode): one community's bot must never take every pod out of service, so
the listing (`unserved_bots`) and a gauge are all it shows. This turns that answer into an
exit code a job can fail on, naming what is wrong and never a secret.
"""

from __future__ import annotations

from typing import Any

# Exit codes: distinct, so a job can tell "fix a bot" from "the API is not up".
OK = 0
UNSERVED = 1
NOT_READY = 2


def verdict(status: int, body: Any) -> tuple[int, list[str]]:
    """The exit code and the lines to print for a `/readyz` answer."""
    if not isinstance(body, dict):
        return NOT_READY, [f"/readyz answered {status} without a JSON object: not an API?"]
    listed = body.get("checks")
    checks: dict[str, Any] = listed if isinstance(listed, dict) else {}
    failing = {k: v for k, v in checks.items() if v != "ok"}
    lines: list[str] = []
    code = OK
    if status != 200 or body.get("ready") is not True or failing:
        code = NOT_READY
        named = ", ".join(f"{k}: {v}" for k, v in sorted(failing.items())) or "no check named"
        lines.append(f"not ready ({status}): {named}")
    unserved = body.get("unserved_bots") or []
    if unserved:
        code = code or UNSERVED
        lines.append(
            f"{len(unserved)} bot(s) stored but not served (their groups get no reply and "
            f"nobody is dispatched): {', '.join(str(b) for b in unserved)}"
        )
        lines.append(
            "  a Feishu bot needs its encrypt_key outside dev mode: "
            "`config apply` its community document with the key (README, 'Feishu')"
        )
    if code == OK:
        lines.append("ready; every stored bot is served")
    return code, lines
