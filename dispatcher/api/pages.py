"""Small mobile-first HTML pages in Chinese for volunteers' links. No scripts, no external
resources; every value is escaped; nothing is cached or indexed, nothing leaks a referrer."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

from schemas.vocab import Urgency

# Why a link's page refused (a reason code, never a person's data): offer_binding, gate.
REASON_HEADER = "X-Refusal-Reason"

URGENCY_ZH: dict[str, str] = {
    Urgency.CRITICAL: "紧急（危及生命健康）",
    Urgency.URGENT: "较急（一小时内）",
    Urgency.NORMAL: "今天内",
    Urgency.LOW: "不急",
}

_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}

_STYLE = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;
padding:16px;background:#f6f6f2;color:#222;font-size:18px;line-height:1.5}
main{max-width:480px;margin:0 auto;background:#fff;border-radius:12px;padding:20px}
h1{font-size:22px;margin:0 0 12px}
.tone-ok h1{color:#1a7f37}.tone-warn h1{color:#9a6700}.tone-bad h1{color:#b42318}
dl{margin:12px 0}dt{color:#666;font-size:15px}dd{margin:0 0 8px}
button{width:100%;font-size:20px;padding:14px;border:0;border-radius:10px;margin:8px 0;
background:#1a7f37;color:#fff}button.second{background:#e6e6e0;color:#222}
a.tel{display:block;text-align:center;font-size:22px;padding:12px;background:#eef6ff;
border-radius:10px;text-decoration:none}
p.note{color:#666;font-size:15px}
"""


def e(value: object) -> str:
    return escape(str(value), quote=True)


def page(
    title: str,
    body_html: str,
    *,
    tone: str = "ok",
    status_code: int = 200,
    refresh_s: int | None = None,
) -> HTMLResponse:
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    html = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="robots" content="noindex">{refresh}<title>{e(title)}</title>'
        f"<style>{_STYLE}</style></head>"
        f'<body><main class="tone-{e(tone)}"><h1>{e(title)}</h1>{body_html}</main></body></html>'
    )
    return HTMLResponse(html, status_code=status_code, headers=_SECURITY_HEADERS)


def facts(rows: list[tuple[str, object]]) -> str:
    items = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows if v not in (None, ""))
    return f"<dl>{items}</dl>"


def button_form(action: str, label: str, *, second: bool = False) -> str:
    cls = ' class="second"' if second else ""
    return (
        f'<form method="post" action="{e(action)}">'
        f'<button type="submit"{cls}>{e(label)}</button></form>'
    )


def join_expired() -> HTMLResponse:
    """An invite (join) link past its expiry, whether opened or submitted: nothing was
    stored, so the resident must ask for a new link (the offers' "无需再操作" would tell a
    volunteer who pressed submit that they had signed up)."""
    return page(
        "邀请链接已过期",
        "<p>邀请链接已过期，您的信息未提交，请向社区索取新的邀请链接。</p>",
        tone="warn",
        status_code=410,
    )


def link_error(reason: str) -> HTMLResponse:
    if reason == "expired":
        return page(
            "链接已过期",
            "<p>这条邀请已过有效期，无需再操作。谢谢您的热心！</p>",
            tone="warn",
            status_code=410,
        )
    return page(
        "链接无效",
        "<p>这条链接不完整或已被修改。请从原消息中重新打开。</p>",
        tone="bad",
        status_code=400,
    )
