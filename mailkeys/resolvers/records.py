"""What resolvers hand to the schema layer: the stored records and their enumerations.

The schema layer reads these records' fields to build its GraphQL types; it never imports
storage itself, so it cannot query or write behind the resolvers' back.
"""

from mailkeys.models import (
    ApiKey,
    AppConnection,
    AppRegistrar,
    AuditEvent,
    BillingProfile,
    DeliveryGroup,
    Domain,
    Invitation,
    KeyStatus,
    KeyType,
    LimitedResource,
    Mailbox,
    MailboxPassword,
    MailboxStatus,
    MemberRole,
    Membership,
    Message,
    OAuthApp,
    Person,
    PolicyChangeSource,
    PolicyVersion,
    Provider,
    SendScopeMode,
    Team,
    Webhook,
)
from mailkeys.models.outbox import Queued

__all__ = [
    "ApiKey",
    "AppConnection",
    "AppRegistrar",
    "AuditEvent",
    "BillingProfile",
    "DeliveryGroup",
    "Domain",
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
    "PolicyVersion",
    "Provider",
    "Queued",
    "SendScopeMode",
    "Team",
    "Webhook",
]
