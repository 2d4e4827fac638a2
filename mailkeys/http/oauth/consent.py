"""`/oauth/authorize`: the consent page (GET) and the person's decision (POST).

authlib validates the authorization request (client, exact redirect URI, response type,
PKCE S256) before anything is shown; a request whose client or redirect URI is not valid is
answered with a page here, never with a redirect. A person without a consent session is sent
to the identity provider first. The decision is posted with the session's CSRF token; an
allowed one connects the app (resolvers/app_grants.py) and redirects with the code.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from authlib.oauth2.rfc6749.errors import OAuth2Error
from starlette.requests import Request as StarletteRequest
from starlette.responses import RedirectResponse, Response

from mailkeys import clock
from mailkeys.auth.services import Services
from mailkeys.errors import LimitExceededError, MailkeysError, RoleRuleError
from mailkeys.http.oauth.endpoints import base_url
from mailkeys.http.oauth.page import ConsentView, GroupView, consent_page, error_page
from mailkeys.http.oauth.server import Loaded, Request, Server
from mailkeys.http.oauth.session import ConsentSession, csrf_matches, read_session
from mailkeys.http.oauth.signin import start_signin
from mailkeys.models.oauth import fetch_app
from mailkeys.policy.apps import AppChoice, group_permissions
from mailkeys.policy.vocabulary import APP_GROUPS
from mailkeys.resolvers.app_grants import (
    PendingCode,
    TeamChoice,
    connect_app,
    consent_mailboxes,
    consent_teams,
    member_actor,
)

AUTHORIZATION_PARAMETERS = (
    "response_type", "client_id", "redirect_uri", "scope", "state",
    "code_challenge", "code_challenge_method",
)  # fmt: skip
_MAX_BODY = 64 * 1024


def _redirect(answer: tuple[int, Any, list[tuple[str, str]]]) -> Response:
    """authlib's redirect (302) as a 303: the browser follows a POST with a GET."""
    _, _, headers = answer
    return RedirectResponse(dict(headers)["Location"], 303)


def _refusal(error: OAuth2Error) -> Response:
    """An invalid authorization request: a redirect only to a URI authlib validated."""
    if error.redirect_uri:
        return _redirect(error())
    return error_page(error.description or error.error, 400)


async def _parameters(request: StarletteRequest) -> dict[str, list[str]]:
    if request.method == "GET":
        return parse_qs(request.url.query, keep_blank_values=True)
    body = await request.body()
    if len(body) > _MAX_BODY:
        return {}
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def _choice(form: dict[str, list[str]]) -> AppChoice:
    groups = {group: form.get(f"group_{group}", ["none"])[0] for group in APP_GROUPS}
    custom = {group: frozenset(form.get(f"custom_{group}", [])) for group in APP_GROUPS}
    chosen = form.get("mailbox_scope", ["all"])[0] == "chosen"
    return AppChoice(
        lines=frozenset(form.get("line", [])),
        groups=groups,
        custom=custom,
        mailbox_ids=frozenset(form.get("mailbox", [])) if chosen else None,
    )


def _groups() -> list[GroupView]:
    return [
        GroupView(group, group_permissions(group, "read"), group_permissions(group, "full"))
        for group in APP_GROUPS
    ]


def authorize_endpoint(services: Services, server: Server) -> Any:
    """`GET|POST /oauth/authorize`."""

    async def serve(request: StarletteRequest) -> Response:
        parameters = await _parameters(request)
        auth_params = {
            key: parameters[key][0] for key in AUTHORIZATION_PARAMETERS if key in parameters
        }
        base = base_url(request, services)
        oauth_request = Request(
            "GET",
            f"{base}/oauth/authorize",
            request.headers,
            {key: parameters[key] for key in AUTHORIZATION_PARAMETERS if key in parameters},
            {},
        )
        settings = services.settings
        state = Loaded(
            pepper=await services.hasher.tags.pepper(),
            now=clock.now(),
            access_seconds=settings.oauth_access_token_seconds,
        )
        client_id = auth_params.get("client_id", "")
        app = await fetch_app(client_id)
        if app is not None:
            state.apps[client_id] = app
        try:
            grant = server.decide(state, lambda: server.get_consent_grant(oauth_request))
        except OAuth2Error as error:
            return _refusal(error)
        if app is None:  # authlib refused it already; for the type checker
            return error_page("Unknown app.", 400)
        session = read_session(request, state.pepper)
        if session is None:
            return await start_signin(
                request, services, "/oauth/authorize?" + urlencode(auth_params)
            )
        teams = [
            team
            for team in await consent_teams(session.person_id)
            if app.team_id is None or team.id == app.team_id
        ]
        if not teams:
            return error_page("You are not a member of a team that can connect this app.", 403)
        wanted = parameters.get("team", [""])[0]
        team = next((team for team in teams if team.id == wanted), teams[0])
        view = await _view(app.name, app.client_uri, session, team, teams, auth_params, grant)
        if request.method == "GET":
            return consent_page(view)
        if not csrf_matches(session, parameters.get("csrf", [None])[0]):
            return error_page("This form has expired. Start again from the app.", 400)
        if parameters.get("decision", [""])[0] != "allow":
            return _redirect(
                server.decide(
                    state,
                    lambda: server.create_authorization_response(
                        oauth_request, grant_user=None, grant=grant
                    ),
                )
            )
        answer = server.decide(
            state,
            lambda: server.create_authorization_response(
                oauth_request, grant_user=session.person_id, grant=grant
            ),
        )
        if state.pending_code is None:  # authlib answered with an error redirect
            return _redirect(answer)
        pending = PendingCode(
            tag=state.pepper.tag(state.pending_code),
            redirect_uri=auth_params.get("redirect_uri", ""),
            code_challenge=auth_params["code_challenge"],
            code_challenge_method=auth_params["code_challenge_method"],
            expires_at=clock.now() + timedelta(seconds=settings.oauth_code_seconds),
        )
        person = member_actor(session.person_id, session.email, team)
        try:
            await connect_app(person, app, _choice(parameters), pending)
        except MailkeysError as error:
            status = 403 if isinstance(error, RoleRuleError | LimitExceededError) else 400
            again = _with_error(view, str(error), parameters)
            return consent_page(again, status)
        return _redirect(answer)

    return serve


async def _view(
    app_name: str,
    app_uri: str | None,
    session: ConsentSession,
    team: TeamChoice,
    teams: list[TeamChoice],
    params: dict[str, str],
    grant: Any,
) -> ConsentView:
    return ConsentView(
        app_name=app_name,
        app_uri=app_uri,
        person_email=session.email,
        team_id=team.id,
        team_name=team.name,
        role=team.role.value.capitalize(),
        teams=[(choice.id, choice.name) for choice in teams],
        mailboxes=await consent_mailboxes(team.id),
        groups=_groups(),
        params=params,
        csrf=session.csrf,
        redirect_uri=str(grant.redirect_uri),
    )


def _with_error(view: ConsentView, message: str, form: dict[str, list[str]]) -> ConsentView:
    return replace(view, error=message, chosen=form)
