"""Tortoise models per domain, and the limit accounting they enforce."""

from mailkeys.models.apps import (
    AppConnection,
    AppRegistrar,
    AppToken,
    AppTokenKind,
    AuthorizationCode,
    OAuthApp,
    ProductLine,
)
from mailkeys.models.audit import AuditEvent
from mailkeys.models.database import MODEL_MODULES
from mailkeys.models.keys import ApiKey, KeyStatus, KeyType, SendScopeMode
from mailkeys.models.mailboxes import Mailbox, MailboxPassword, MailboxStatus
from mailkeys.models.people import Invitation, MemberRole, Membership, Person
from mailkeys.models.policy import PolicyChangeSource, PolicyPlan, PolicyVersion
from mailkeys.models.resources import BillingProfile, Domain, Message, Webhook
from mailkeys.models.routing import DeliveryGroup, Provider
from mailkeys.models.secret_tags import InstallationSecret
from mailkeys.models.teams import DEFAULT_LIMITS, LimitedResource, Team, TeamLimit

__all__ = [
    "DEFAULT_LIMITS",
    "MODEL_MODULES",
    "ApiKey",
    "AppConnection",
    "AppRegistrar",
    "AppToken",
    "AppTokenKind",
    "AuditEvent",
    "AuthorizationCode",
    "BillingProfile",
    "DeliveryGroup",
    "Domain",
    "InstallationSecret",
    "Invitation",
    "KeyStatus",
    "KeyType",
    "LimitedResource",
    "Mailbox",
    "MailboxPassword",
    "MailboxStatus",
    "MemberRole",
    "Membership",
    "Message",
    "OAuthApp",
    "Person",
    "PolicyChangeSource",
    "PolicyPlan",
    "PolicyVersion",
    "ProductLine",
    "Provider",
    "SendScopeMode",
    "Team",
    "TeamLimit",
    "Webhook",
]
