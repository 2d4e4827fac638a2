from collections.abc import Awaitable, Callable

from tests.conftest import Gql, TeamHandle


async def test_viewer_sees_its_team(
    gql: Gql, make_team: Callable[..., Awaitable[TeamHandle]]
) -> None:
    team = await make_team("Acme")
    result = await gql("{ viewer { team { id name } apiKey { id preset } } }", token=team.token)
    assert result.ok()["viewer"]["team"] == {"id": team.id, "name": "Acme"}
