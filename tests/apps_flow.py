"""Connected apps in tests: a person of a team, their consent session, the consent form.

The consent session a person gets from signing in at the identity provider is sealed with
the server's pepper; `consent_cookie` seals one the same way, so that tests of the OAuth
protocol need not drive the provider (tests/test_apps_browser.py does, in Chromium). The
form is read and posted as a browser would: its hidden fields and CSRF token from the page.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from starlette.applications import Starlette

from mailkeys import clock
from mailkeys.auth.services import Services
from mailkeys.http.oauth.session import SESSION_COOKIE, new_session, seal
from mailkeys.models import MemberRole, Membership, Person
from mailkeys.settings import Settings
from mailkeys.tokens import new_id
from tests.conftest import TeamHandle, test_settings

BASE = "http://127.0.0.1"
REDIRECT_URI = "http://127.0.0.1:9/callback"


@dataclass(frozen=True)
class Member:
    """A person of a team, with their role."""

    person_id: str
    email: str
    team_id: str
    role: MemberRole


async def make_member(team_id: str, role: MemberRole, email: str) -> Member:
    """A person (as the identity provider would have named them) with a role in a team."""
    now = clock.now()
    person = await Person.filter(email=email).first()
    if person is None:
        person = await Person.create(
            id=new_id("usr"),
            issuer="http://127.0.0.1:1",
            subject=hashlib.sha256(email.encode()).hexdigest()[:32],
            email=email,
            created_at=now,
            last_seen_at=now,
        )
    await Membership.create(
        id=new_id("mem"), team_id=team_id, person_id=person.id, role=role, created_at=now
    )
    return Member(person.id, email, team_id, role)


async def consent_cookie(services: Services, member: Member) -> str:
    """The sealed consent session this person gets by signing in."""
    pepper = await services.hasher.tags.pepper()
    return seal(pepper, new_session(member.person_id, member.email, 600))


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@asynccontextmanager
async def http_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client of the app at the loopback address authlib accepts over http."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@asynccontextmanager
async def oauth_client(
    app: Starlette, client_id: str, client_secret: str | None = None, **options: Any
) -> AsyncIterator[AsyncOAuth2Client]:
    """authlib's OAuth client of the app (PKCE S256), over the ASGI transport."""
    method = "none" if client_secret is None else "client_secret_basic"
    async with AsyncOAuth2Client(
        client_id=client_id,
        client_secret=client_secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        redirect_uri=options.pop("redirect_uri", REDIRECT_URI),
        code_challenge_method="S256",
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        **options,
    ) as client:
        yield client


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of the consent form (the request's parameters and the CSRF token)."""
    form = page[page.index('<form method="post"') :]
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    }


Choice = Mapping[str, str | Sequence[str]]


async def consent(
    http: httpx.AsyncClient, authorize_url: str, cookie: str, choice: Choice, team: str = ""
) -> httpx.Response:
    """Open the consent page as the signed-in person and post `choice` (allow by default)."""
    http.cookies.set(SESSION_COOKIE, cookie, path="/oauth")
    url = authorize_url + (f"&team={team}" if team else "")
    page = await http.get(url)
    if page.status_code != 200:
        return page
    form: list[tuple[str, str]] = list(hidden_fields(page.text).items())
    if team:
        form = [(key, value) for key, value in form if key != "team"] + [("team", team)]
    for key, value in choice.items():
        values = [value] if isinstance(value, str) else list(value)
        form.extend((key, item) for item in values)
    if "decision" not in choice:
        form.append(("decision", "allow"))
    data: dict[str, list[str]] = {}
    for key, value in form:
        data.setdefault(key, []).append(value)
    return await http.post("/oauth/authorize", data=data)


def code_of(response: httpx.Response) -> str:
    """The code in the redirect to the app."""
    location = response.headers["location"]
    return parse_qs(urlsplit(location).query)["code"][0]


# The fixtures every connected-apps test module shares; a module imports those it uses
# (`from tests.apps_flow import settings_fixture  # noqa: F401`, and so on).


@pytest.fixture(name="settings")
def settings_fixture() -> Settings:
    """The app's settings, with the public URL the OAuth metadata and redirects name."""
    return test_settings(public_url=BASE)


@pytest.fixture(name="http")
async def http_fixture(
    client: httpx.AsyncClient, app: Starlette
) -> AsyncIterator[httpx.AsyncClient]:
    """A plain client of the running app (`http_client`), once its lifespan has begun."""
    async with http_client(app) as plain:
        yield plain


@pytest.fixture(name="team")
async def team_fixture(make_team: Callable[..., Awaitable[TeamHandle]]) -> TeamHandle:
    """The team apps connect to."""
    return await make_team("Acme")


@pytest.fixture(name="admin")
async def admin_fixture(team: TeamHandle) -> Member:
    """An Admin of that team, who consents."""
    return await make_member(team.id, MemberRole.ADMIN, "ada@example.com")
