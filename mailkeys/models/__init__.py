"""Tortoise models per domain, and the limit accounting they enforce."""

from mailkeys.models.audit import AuditEvent
from mailkeys.models.keys import ApiKey, KeyStatus, KeyType, SendScopeMode
from mailkeys.models.mailboxes import Mailbox, MailboxStatus
from mailkeys.models.routing import DeliveryGroup, Provider
from mailkeys.models.teams import DEFAULT_LIMITS, LimitedResource, Team, TeamLimit

MODEL_MODULES = ["mailkeys.models"]

__all__ = [
    "DEFAULT_LIMITS",
    "MODEL_MODULES",
    "ApiKey",
    "AuditEvent",
    "DeliveryGroup",
    "KeyStatus",
    "KeyType",
    "LimitedResource",
    "Mailbox",
    "MailboxStatus",
    "Provider",
    "SendScopeMode",
    "Team",
    "TeamLimit",
]
