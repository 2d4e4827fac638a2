from tortoise import migrations
from tortoise.migrations import operations as ops
from mailkeys.models.people import MemberRole
from mailkeys.models.teams import LimitedResource
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_domain_claims')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Invitation',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(db_index=True, max_length=320)),
                ('role', fields.CharEnumField(description='OWNER: owner\nADMIN: admin\nDEVELOPER: developer\nMEMBER: member', enum_type=MemberRole, max_length=16)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('accepted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('accepted_by', fields.CharField(null=True, max_length=32)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'invitation', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An invitation to join a team with a role, for whoever signs in with this email.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Person',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('issuer', fields.CharField(max_length=500)),
                ('subject', fields.CharField(max_length=255)),
                ('email', fields.CharField(null=True, max_length=320)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'person', 'app': 'models', 'unique_together': (('issuer', 'subject'),), 'pk_attr': 'id', 'table_description': 'Someone who signed in at the identity provider (their email kept only if verified).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Membership',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(description='OWNER: owner\nADMIN: admin\nDEVELOPER: developer\nMEMBER: member', enum_type=MemberRole, max_length=16)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'membership', 'app': 'models', 'unique_together': (('team', 'person'),), 'pk_attr': 'id', 'table_description': "A person's role in a team (each team has exactly one owner)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='AuditEvent',
            name='actor_email',
            field=fields.CharField(null=True, max_length=320),
        ),
        ops.AddField(
            model_name='Team',
            name='deletion_requested_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Team',
            name='purge_after',
            field=fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='TeamLimit',
            name='resource',
            field=fields.CharEnumField(description='CREDENTIALS: credentials\nMAILBOXES: mailboxes\nDOMAINS: domains\nPROVIDERS: providers\nWEBHOOKS: webhooks\nINVITATIONS: invitations', enum_type=LimitedResource, max_length=32),
        ),
    ]
