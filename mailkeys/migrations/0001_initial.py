from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from mailkeys.models.keys import KeyType, SendScopeMode
from mailkeys.models.mailboxes import MailboxStatus
from mailkeys.models.teams import LimitedResource
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team_id', fields.CharField(null=True, db_index=True, max_length=32)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('actor', fields.CharField(max_length=64)),
                ('action', fields.CharField(max_length=64)),
                ('target_type', fields.CharField(max_length=32)),
                ('target_id', fields.CharField(null=True, max_length=64)),
                ('outcome', fields.CharField(max_length=32)),
                ('details', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'audit_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One recorded create, rotate, revoke, suspend, resume, limit or policy change.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Team',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('name', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'team', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A customer team: the unit that owns credentials and resources.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BillingProfile',
            fields=[
                ('team', fields.OneToOneField('models.Team', source_field='team_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='billing_profile', on_delete=OnDelete.CASCADE)),
                ('company', fields.CharField(default='', max_length=200)),
                ('email', fields.CharField(default='', max_length=320)),
                ('address', fields.TextField(default='', unique=False)),
                ('tax_id', fields.CharField(default='', max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'billing_profile', 'app': 'models', 'pk_attr': 'team_id', 'table_description': 'Who pays for the team, and where invoices go.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Domain',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='domains', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=253)),
                ('verification_record', fields.CharField(max_length=100)),
                ('verified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'domain', 'app': 'models', 'unique_together': (('team', 'name'),), 'pk_attr': 'id', 'table_description': 'A sending domain of the team. verified once its DNS record is seen.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Mailbox',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='mailboxes', on_delete=OnDelete.CASCADE)),
                ('address', fields.CharField(unique=True, max_length=320)),
                ('display_name', fields.CharField(default='', max_length=200)),
                ('reply_to', fields.CharField(default='', max_length=320)),
                ('signature', fields.TextField(default='', unique=False)),
                ('status', fields.CharEnumField(default=MailboxStatus.ACTIVE, description='ACTIVE: active\nSUSPENDED: suspended', enum_type=MailboxStatus, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'mailbox', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An email address of the team, with its own credentials.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='api_keys', on_delete=OnDelete.CASCADE)),
                ('type', fields.CharEnumField(description='INFRASTRUCTURE: infrastructure\nSENDING: sending\nMAILBOX: mailbox', enum_type=KeyType, max_length=16)),
                ('name', fields.CharField(default='', max_length=200)),
                ('preset', fields.CharField(null=True, max_length=100)),
                ('permissions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('mailbox', fields.ForeignKeyField('models.Mailbox', source_field='mailbox_id', null=True, db_constraint=True, to_field='id', related_name='api_keys', on_delete=OnDelete.SET_NULL)),
                ('mailbox_ids', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('send_scope_mode', fields.CharEnumField(null=True, description='ALL: all\nPROVIDERS: providers\nDELIVERY_GROUPS: delivery_groups', enum_type=SendScopeMode, max_length=16)),
                ('send_scope_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('secret_hash', fields.CharField(max_length=255)),
                ('display_token', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(max_length=64)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('rotated_from_id', fields.CharField(null=True, max_length=32)),
                ('rotated_to_id', fields.CharField(null=True, max_length=32)),
                ('slot_id', fields.CharField(db_index=True, max_length=32)),
            ],
            options={'table': 'api_key', 'app': 'models', 'indexes': [Index(fields=['team_id', 'created_at', 'id'])], 'pk_attr': 'id', 'table_description': 'A key. Only an argon2id hash of its token and a display form are stored.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MailboxPassword',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='mailbox_passwords', on_delete=OnDelete.CASCADE)),
                ('mailbox', fields.ForeignKeyField('models.Mailbox', source_field='mailbox_id', db_constraint=True, to_field='id', related_name='passwords', on_delete=OnDelete.CASCADE)),
                ('app_name', fields.CharField(max_length=200)),
                ('permissions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('secret_hash', fields.CharField(max_length=255)),
                ('display', fields.CharField(max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(max_length=64)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'mailbox_password', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A password for one device or app on one mailbox. only its argon2id hash is kept.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Provider',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='providers', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('active', fields.BooleanField(default=True)),
                ('last_selected_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'provider', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A sending account of the team. only active ones take part in sending.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DeliveryGroup',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='delivery_groups', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('providers', fields.ManyToManyField('models.Provider', unique=True, db_constraint=True, through='delivery_group_provider', forward_key='provider_id', backward_key='delivery_group_id', related_name='delivery_groups', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'delivery_group', 'app': 'models', 'pk_attr': 'id', 'table_description': "A named set of the team's providers that a sending key may be routed through."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('mailbox', fields.ForeignKeyField('models.Mailbox', source_field='mailbox_id', null=True, db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.SET_NULL)),
                ('provider', fields.ForeignKeyField('models.Provider', source_field='provider_id', null=True, db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.SET_NULL)),
                ('credential_id', fields.CharField(max_length=64)),
                ('sender', fields.CharField(max_length=320)),
                ('recipients', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('subject', fields.CharField(max_length=998)),
                ('text', fields.TextField(default='', unique=False)),
                ('html', fields.TextField(default='', unique=False)),
                ('status', fields.CharField(default='queued', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'message', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A message accepted by the Sending API and queued for its provider.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TeamLimit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='limit_overrides', on_delete=OnDelete.CASCADE)),
                ('resource', fields.CharEnumField(description='CREDENTIALS: credentials\nMAILBOXES: mailboxes\nDOMAINS: domains\nPROVIDERS: providers\nWEBHOOKS: webhooks', enum_type=LimitedResource, max_length=32)),
                ('limit', fields.IntField()),
            ],
            options={'table': 'team_limit', 'app': 'models', 'unique_together': (('team', 'resource'),), 'pk_attr': 'id', 'table_description': "An operator's override of one default limit for one team."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='webhooks', on_delete=OnDelete.CASCADE)),
                ('url', fields.CharField(max_length=2000)),
                ('events', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('active', fields.BooleanField(default=True)),
                ('signing_secret', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'webhook', 'app': 'models', 'pk_attr': 'id', 'table_description': "An HTTPS endpoint that receives the team's events, signed with a shared secret."},
            bases=['Model'],
        ),
    ]
