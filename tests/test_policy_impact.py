"""Impact of a policy change on stored credentials: grouped counts and paged details."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from mailkeys import clock
from mailkeys.auth.keys import actor_for_key
from mailkeys.clock import ManualClock
from mailkeys.models import ApiKey, KeyType, Mailbox, MailboxPassword, Team
from mailkeys.models.impact import Configuration
from mailkeys.policy import PolicySnapshot, effective_permissions
from mailkeys.policy.compile import build_snapshot
from mailkeys.policy.files import shipped_model_text, shipped_policy_text
from mailkeys.policy.impact import AffectedCredential, AffectedTeam, capabilities
from mailkeys.policy.rules import parse_policy
from mailkeys.policy.vocabulary import MAILBOX_PERMISSIONS
from mailkeys.resolvers.policy_plans import affected_credentials, affected_teams, impact_of

MODEL = shipped_model_text()
SHIPPED = shipped_policy_text()
NOW = datetime(2027, 1, 15, 8, 0, 30, tzinfo=UTC)  # any fixed instant: decisions are as of it
_ids = count(1)


def changed(*extra: str, remove: tuple[str, ...] = ()) -> PolicySnapshot:
    lines = [line for line in SHIPPED.splitlines() if line.strip() not in remove]
    return build_snapshot(MODEL, "\n".join([*lines, *extra]) + "\n", version=2)


@pytest.fixture(autouse=True)
def as_of_now() -> Iterator[None]:
    """Impact is computed as of `NOW`, the instant the stored rows are written against."""
    with clock.using(ManualClock(NOW.timestamp())):
        yield


@pytest.fixture
def before(installed_policy: PolicySnapshot) -> PolicySnapshot:
    return installed_policy


async def team(name: str) -> Team:
    return await Team.create(id=name, name=name)


async def key(
    team_id: str,
    type_: KeyType = KeyType.INFRASTRUCTURE,
    preset: str | None = None,
    permissions: list[str] | None = None,
    revoked: bool = False,
    expired: bool = False,
) -> ApiKey:
    key_id = f"key{next(_ids):05d}"
    return await ApiKey.create(
        id=key_id,
        team_id=team_id,
        type=type_,
        preset=preset,
        permissions=permissions or [],
        secret_hash="not-a-real-hash",
        display_token=f"smx_root_{key_id}_…abcd",
        created_at=NOW,
        created_by="test",
        slot_id=key_id,
        revoked_at=NOW - timedelta(minutes=1) if revoked else None,
        expires_at=NOW - timedelta(minutes=1) if expired else None,
    )


async def password(team_id: str, permissions: list[str]) -> MailboxPassword:
    number = next(_ids)
    mailbox = await Mailbox.create(
        id=f"mbx{number}", team_id=team_id, address=f"box{number}@example.com"
    )
    return await MailboxPassword.create(
        id=f"pw{number:05d}",
        team_id=team_id,
        mailbox_id=mailbox.id,
        app_name="phone",
        permissions=permissions,
        secret_hash="not-a-real-hash",
        display="…abcd",
        created_at=NOW,
        created_by="test",
    )


async def test_no_change_affects_nobody(db: None, before: PolicySnapshot) -> None:
    await team("team_a")
    await key("team_a", preset="root:full")

    impact = await impact_of(before, changed())

    assert impact.credentials_considered == 1
    assert impact.groups == ()
    assert (impact.credentials_affected, impact.teams_affected) == (0, 0)


async def test_a_preset_gaining_a_permission_counts_its_keys_and_teams(
    db: None, before: PolicySnapshot
) -> None:
    for name in ("team_a", "team_b", "team_c"):
        await team(name)
    await key("team_a", preset="root:readonly")
    await key("team_a", preset="root:readonly")
    await key("team_b", preset="root:readonly")
    await key("team_c", preset="root:full")
    await key("team_c", preset="root:readonly", revoked=True)
    await key("team_c", preset="root:readonly", expired=True)

    impact = await impact_of(before, changed("p, root:readonly, key.create, team"))

    assert impact.credentials_considered == 4  # revoked and expired keys gain nothing
    [group] = impact.groups
    assert group.configuration == Configuration("infrastructure", "root:readonly", ())
    assert (group.credentials, group.teams) == (3, 2)
    assert group.gained == ("key.create",)
    assert group.lost == ()
    assert (impact.credentials_affected, impact.teams_affected) == (3, 2)
    assert [(c.permission, c.gained_by, c.lost_by) for c in impact.permissions] == [
        ("key.create", 3, 0)
    ]


async def test_mailbox_class_keys_are_affected_only_for_permissions_they_list(
    db: None, before: PolicySnapshot
) -> None:
    await team("team_a")
    await key("team_a", KeyType.SENDING, permissions=["email.send"])
    reader = await key("team_a", KeyType.SENDING, permissions=["email.send", "mailbox.read"])
    await key("team_a", KeyType.MAILBOX, permissions=["mailbox.read"])

    impact = await impact_of(before, changed(remove=("p, kind:sending, mailbox.read, mailbox",)))

    [group] = impact.groups
    assert group.configuration == Configuration("sending", None, ("email.send", "mailbox.read"))
    assert group.lost == ("mailbox.read",)
    page = await affected_credentials(impact, 10, None)
    assert [credential.id for credential in page.items] == [reader.id]


async def test_delegation_changes_are_capabilities_too(db: None, before: PolicySnapshot) -> None:
    await team("team_a")
    await key("team_a", preset="root:full")

    impact = await impact_of(before, changed(remove=("p, root:full, email.*, delegate",)))

    [group] = impact.groups
    assert group.lost == ("issue:email.receive", "issue:email.send")


async def test_passwords_are_counted_with_keys(db: None, before: PolicySnapshot) -> None:
    await team("team_a")
    await team("team_b")
    everything = ["email.send", "email.receive", "mailbox.read", "mailbox.settings.update"]
    await password("team_a", everything)
    await password("team_b", everything)
    await key("team_b", KeyType.MAILBOX, permissions=["email.send"])

    impact = await impact_of(before, changed(remove=("p, kind:password, email.send, mailbox",)))

    [group] = impact.groups
    assert group.configuration.credential_type == "password"
    assert (group.credentials, group.teams, group.lost) == (2, 2, ("email.send",))
    assert impact.teams_affected == 2


async def test_details_are_paged_across_keys_and_passwords(
    db: None, before: PolicySnapshot
) -> None:
    await team("team_a")
    await team("team_b")
    keys = [await key("team_a", KeyType.MAILBOX, permissions=["email.send"]) for _ in range(3)]
    passwords = [await password("team_b", ["email.send"]) for _ in range(2)]
    proposed = changed(
        remove=("p, kind:mailbox, email.send, mailbox", "p, kind:password, email.send, mailbox")
    )
    impact = await impact_of(before, proposed)

    seen: list[AffectedCredential] = []
    after = None
    while True:
        page = await affected_credentials(impact, 2, after)
        assert page.total_count == 5
        seen.extend(page.items)
        if not page.has_next_page:
            break
        after = page.cursors[-1]

    assert [c.id for c in seen] == [k.id for k in keys] + [p.id for p in passwords]
    assert {c.team_id for c in seen} == {"team_a", "team_b"}
    assert all(c.lost == ("email.send",) for c in seen)


async def test_affected_teams_are_paged_with_counts(db: None, before: PolicySnapshot) -> None:
    for name in ("team_a", "team_b", "team_c"):
        await team(name)
        await key(name, KeyType.MAILBOX, permissions=["email.send"])
    await password("team_b", ["email.send"])
    proposed = changed(
        remove=("p, kind:mailbox, email.send, mailbox", "p, kind:password, email.send, mailbox")
    )
    impact = await impact_of(before, proposed)

    first = await affected_teams(impact, 2, None)
    rest = await affected_teams(impact, 2, first.cursors[-1])

    teams: list[AffectedTeam] = [*first.items, *rest.items]
    assert [(t.team_id, t.credentials) for t in teams] == [
        ("team_a", 1),
        ("team_b", 2),
        ("team_c", 1),
    ]
    assert first.has_next_page
    assert not rest.has_next_page
    assert first.total_count == 3


def _single_line_removals() -> list[str]:
    """Every shipped grant whose removal leaves a valid policy (no preset granting nothing)."""
    grants = [line for line in parse_policy(SHIPPED) if line.ptype == "p"]
    presets = {line.values[0] for line in parse_policy(SHIPPED) if line.ptype == "p2"}
    per_role = Counter(line.values[0] for line in grants)
    return [
        str(line)
        for line in grants
        if not (line.values[0] in presets and per_role[line.values[0]] == 1)
    ]


@pytest.mark.parametrize("removed", _single_line_removals())
async def test_grouped_impact_equals_deciding_every_credential(
    db: None, before: PolicySnapshot, removed: str
) -> None:
    # given credentials of every kind, some not live
    await team("team_a")
    await team("team_b")
    everything = sorted(MAILBOX_PERMISSIONS)
    for preset in (*before.presets, None):
        await key("team_a", preset=preset)
    await key("team_b", preset="root:full")
    await key("team_b", preset="root:readonly", revoked=True)
    for permissions in (["email.send"], ["email.send", "mailbox.read"], everything):
        await key("team_a", KeyType.SENDING, permissions=permissions)
        await key("team_b", KeyType.MAILBOX, permissions=permissions)
        await password("team_b", permissions)
    after = changed(remove=(removed,))

    # when the impact is computed by groups
    impact = await impact_of(before, after)
    grouped = {
        c.id: (c.gained, c.lost) for c in (await affected_credentials(impact, 100, None)).items
    }

    # then it is what deciding each live credential one by one gives
    expected = {}
    for row in await ApiKey.all():
        if row.status_at(NOW, None).value != "active":
            continue
        holder = actor_for_key(row)
        config = Configuration(
            KeyType(row.type).value, row.preset, () if row.preset else tuple(row.permissions)
        )
        assert capabilities(config, before) >= set(effective_permissions(holder, before))
        old, new = capabilities(config, before), capabilities(config, after)
        if old != new:
            expected[row.id] = (tuple(sorted(new - old)), tuple(sorted(old - new)))
    for pw in await MailboxPassword.all():
        config = Configuration("password", None, tuple(pw.permissions))
        old, new = capabilities(config, before), capabilities(config, after)
        if old != new:
            expected[pw.id] = (tuple(sorted(new - old)), tuple(sorted(old - new)))
    assert grouped == expected
    assert impact.credentials_affected == len(expected)
