"""The consent page, rendered on the server: plain HTML forms, no script at all.

Every control has a label, related controls sit in a fieldset with a legend, and errors are
announced (`role="alert"`). The Content-Security-Policy allows only this origin's stylesheet
and form posts to this origin and to the app's validated redirect URI (a browser applies
`form-action` to the redirect that follows the post).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse, Response

from mailkeys.policy.apps import MANAGEMENT

GROUP_LABELS: dict[str, str] = {
    "analytics": "Analytics", "billing": "Billing", "domains": "Domains", "email": "Email",
    "keys": "Keys", "logs": "Logs", "mailboxes": "Mailboxes", "providers": "Providers",
    "routing": "Routing", "team": "Team", "webhooks": "Webhooks",
}  # fmt: skip
LINE_LABELS = {
    MANAGEMENT: "Management: administer the team",
    "mailbox": "Mailbox: read and receive mail of the chosen mailboxes",
    "sending": "Sending: send mail from the chosen mailboxes",
}
LEVEL_LABELS = {"none": "None", "read": "Read", "full": "Full", "custom": "Customise"}

STYLESHEET = """
body { font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem;
  line-height: 1.5; color: #1a1a1a; }
fieldset { border: 1px solid #999; border-radius: 4px; margin: 1rem 0; padding: 0.5rem 1rem; }
legend { font-weight: 600; padding: 0 0.25rem; }
.group { display: grid; grid-template-columns: 8rem 1fr; gap: 0.25rem 1rem; }
.custom { margin-left: 1.5rem; font-size: 0.95em; }
.error { border: 2px solid #b00020; padding: 0.5rem 1rem; color: #b00020; }
button { font-size: 1rem; padding: 0.5rem 1.25rem; margin-right: 1rem; }
label { cursor: pointer; }
"""


def _headers(form_target: str | None = None) -> dict[str, str]:
    form_action = "'self'" + (f" {form_target}" if form_target else "")
    policy = "; ".join(
        [
            "default-src 'none'",
            "style-src 'self'",
            f"form-action {form_action}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def redirect_source(redirect_uri: str) -> str:
    """The CSP source of a redirect URI: its origin, or its scheme for a native app."""
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} - mailkeys</title>\n"
        '<link rel="stylesheet" href="/oauth/consent.css">\n</head>\n<body>\n<main>\n'
        f"{body}\n</main>\n</body>\n</html>\n"
    )


def error_page(message: str, status: int) -> Response:
    """A page saying what went wrong (never a redirect to an unverified URI)."""
    body = f'<h1>Cannot connect the app</h1>\n<p role="alert" class="error">{escape(message)}</p>'
    return HTMLResponse(_document("Error", body), status_code=status, headers=_headers())


@dataclass(frozen=True)
class GroupView:
    """A Management permission group as offered: its permissions at Read and at Full."""

    name: str
    read: Sequence[str]
    full: Sequence[str]


@dataclass(frozen=True)
class ConsentView:
    """Everything the consent form shows."""

    app_name: str
    app_uri: str | None
    person_email: str | None
    team_id: str
    team_name: str
    role: str
    teams: Sequence[tuple[str, str]]
    mailboxes: Sequence[tuple[str, str]]
    groups: Sequence[GroupView]
    # The authorization request's parameters, posted back as they came.
    params: Mapping[str, str]
    csrf: str
    redirect_uri: str
    error: str | None = None
    # What was chosen, when the page is shown again after an error.
    chosen: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _checked(view: ConsentView, name: str, value: str, default: bool = False) -> str:
    values = view.chosen.get(name)
    on = default if values is None else value in values
    return " checked" if on else ""


def _choice(kind: str, name: str, value: str, label: str, checked: str, ident: str) -> str:
    return (
        f'<div><input type="{kind}" id="{ident}" name="{escape(name)}" '
        f'value="{escape(value)}"{checked}> <label for="{ident}">{escape(label)}</label></div>'
    )


def _lines(view: ConsentView) -> str:
    items = [
        _choice("checkbox", "line", line, label, _checked(view, "line", line), f"line-{line}")
        for line, label in LINE_LABELS.items()
    ]
    return (
        "<fieldset>\n<legend>What the app may reach</legend>\n" + "\n".join(items) + "\n</fieldset>"
    )


def _mailboxes(view: ConsentView) -> str:
    every = _checked(view, "mailbox_scope", "all", default=True)
    chosen = _checked(view, "mailbox_scope", "chosen")
    items = [
        _choice("radio", "mailbox_scope", "all", "Every mailbox of the team", every, "scope-all"),
        _choice("radio", "mailbox_scope", "chosen", "Only these mailboxes:", chosen, "scope-some"),
    ]
    for index, (mailbox_id, address) in enumerate(view.mailboxes):
        box = _checked(view, "mailbox", mailbox_id)
        items.append(
            '<div class="custom">'
            + _choice("checkbox", "mailbox", mailbox_id, address, box, f"mailbox-{index}")
            + "</div>"
        )
    if not view.mailboxes:
        items.append('<p class="custom">The team has no mailboxes yet.</p>')
    return (
        "<fieldset>\n<legend>Mailbox set (for Mailbox and Sending)</legend>\n"
        + "\n".join(items)
        + "\n</fieldset>"
    )


def _group(view: ConsentView, group: GroupView) -> str:
    label = GROUP_LABELS.get(group.name, group.name)
    name = f"group_{group.name}"
    levels = [
        _choice(
            "radio",
            name,
            level,
            text,
            _checked(view, name, level, default=level == "none"),
            f"{name}-{level}",
        )
        for level, text in LEVEL_LABELS.items()
    ]
    custom = [
        _choice(
            "checkbox",
            f"custom_{group.name}",
            permission,
            permission,
            _checked(view, f"custom_{group.name}", permission),
            f"custom-{group.name}-{index}",
        )
        for index, permission in enumerate(group.full)
    ]
    summary = f"Read: {', '.join(group.read) or 'nothing'}. Full: {', '.join(group.full)}."
    return (
        f"<fieldset>\n<legend>{escape(label)}</legend>\n<p>{escape(summary)}</p>\n"
        f'<div class="group">{"".join(levels)}</div>\n'
        f'<fieldset class="custom">\n<legend>Customise {escape(label)}</legend>\n'
        + "\n".join(custom)
        + "\n</fieldset>\n</fieldset>"
    )


def consent_page(view: ConsentView, status: int = 200) -> Response:
    """The consent form for one app, one person and one of their teams."""
    hidden = [
        f'<input type="hidden" name="{escape(key)}" value="{escape(value)}">'
        for key, value in view.params.items()
    ]
    hidden.append(f'<input type="hidden" name="csrf" value="{escape(view.csrf)}">')
    hidden.append(f'<input type="hidden" name="team" value="{escape(view.team_id)}">')
    alert = (
        f'<p role="alert" class="error" id="consent-error">{escape(view.error)}</p>\n'
        if view.error
        else ""
    )
    app = escape(view.app_name)
    about = (
        f' (<a href="{escape(view.app_uri)}">{escape(view.app_uri)}</a>)' if view.app_uri else ""
    )
    teams = ""
    if len(view.teams) > 1:
        options = "".join(
            f'<option value="{escape(team_id)}"{" selected" if team_id == view.team_id else ""}>'
            f"{escape(name)}</option>"
            for team_id, name in view.teams
        )
        others = "".join(
            f'<input type="hidden" name="{escape(key)}" value="{escape(value)}">'
            for key, value in view.params.items()
        )
        teams = (
            '<form method="get" action="/oauth/authorize">\n<label for="team-choice">Team</label> '
            f'<select id="team-choice" name="team">{options}</select> {others}'
            '<button type="submit">Switch team</button>\n</form>\n'
        )
    body = (
        f"<h1>Connect {app} to mailkeys</h1>\n"
        f"<p>{app}{about} asks to act for your team <strong>{escape(view.team_name)}</strong>. "
        f"You are signed in as {escape(view.person_email or 'a team member')} with the role "
        f"{escape(view.role)}; you can grant nothing your role does not hold.</p>\n"
        f"{alert}{teams}"
        '<form method="post" action="/oauth/authorize">\n'
        + "\n".join(hidden)
        + "\n"
        + _lines(view)
        + "\n"
        + _mailboxes(view)
        + "\n<fieldset>\n<legend>Management permission groups</legend>\n"
        + "\n".join(_group(view, group) for group in view.groups)
        + "\n</fieldset>\n"
        '<button type="submit" name="decision" value="allow">Allow</button>'
        '<button type="submit" name="decision" value="deny">Deny</button>\n</form>'
    )
    return HTMLResponse(
        _document(f"Connect {view.app_name}", body),
        status_code=status,
        headers=_headers(redirect_source(view.redirect_uri)),
    )


def stylesheet() -> Response:
    """`GET /oauth/consent.css`."""
    return Response(
        STYLESHEET,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
