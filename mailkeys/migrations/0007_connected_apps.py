from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from mailkeys.models.apps import AppRegistrar, AppTokenKind
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_secret_tags_and_allowlists')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OAuthApp',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('name', fields.CharField(max_length=200)),
                ('redirect_uris', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('secret_tag', fields.CharField(null=True, max_length=64)),
                ('registered_by', fields.CharEnumField(description='OPERATOR: operator\nTEAM: team\nDCR: dcr', enum_type=AppRegistrar, max_length=16)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', null=True, db_constraint=True, to_field='id', related_name='registered_apps', on_delete=OnDelete.CASCADE)),
                ('client_uri', fields.CharField(null=True, max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_app', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An OAuth client: its id, redirect URIs and, if confidential, the tag of its secret.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AppConnection',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='app_connections', on_delete=OnDelete.CASCADE)),
                ('app', fields.ForeignKeyField('models.OAuthApp', source_field='app_id', db_constraint=True, to_field='id', related_name='connections', on_delete=OnDelete.CASCADE)),
                ('lines', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('groups', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('permissions', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('mailbox_ids', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('authorized_by', fields.CharField(max_length=32)),
                ('authorized_by_email', fields.CharField(null=True, max_length=320)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('request_count', fields.BigIntField(default=0)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'app_connection', 'app': 'models', 'unique_together': (('team', 'app'),), 'pk_attr': 'id', 'table_description': 'One app connected to one team: what a person chose, within their role.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AppToken',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('kind', fields.CharEnumField(description='ACCESS: access\nREFRESH: refresh', enum_type=AppTokenKind, max_length=8)),
                ('connection', fields.ForeignKeyField('models.AppConnection', source_field='connection_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('family', fields.CharField(db_index=True, max_length=32)),
                ('secret_tag', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('rotated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'oauth_token', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An access or refresh token of a connection, by public id, its secret only as a tag.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuthorizationCode',
            fields=[
                ('tag', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('app', fields.ForeignKeyField('models.OAuthApp', source_field='app_id', db_constraint=True, to_field='id', related_name='codes', on_delete=OnDelete.CASCADE)),
                ('connection', fields.ForeignKeyField('models.AppConnection', source_field='connection_id', db_constraint=True, to_field='id', related_name='codes', on_delete=OnDelete.CASCADE)),
                ('redirect_uri', fields.CharField(max_length=2000)),
                ('code_challenge', fields.CharField(max_length=128)),
                ('code_challenge_method', fields.CharField(max_length=8)),
                ('person_id', fields.CharField(max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('family', fields.CharField(null=True, max_length=32)),
            ],
            options={'table': 'oauth_code', 'app': 'models', 'pk_attr': 'tag', 'table_description': 'An authorization code, found by its tag, usable once, for a minute.'},
            bases=['Model'],
        ),
    ]
