from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from mailkeys.models.policy import PolicyChangeSource
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_billing_profile_options')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PolicyPlan',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('base_version', fields.IntField()),
                ('rules', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('author', fields.CharField(max_length=64)),
                ('decisions', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('decisions_fingerprint', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'policy_plan', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Proposed rules that passed validation, kept so that any worker can apply them.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PolicyVersion',
            fields=[
                ('version', fields.IntField(primary_key=True, unique=True, db_index=True, generated=False)),
                ('rules', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('author', fields.CharField(max_length=64)),
                ('message', fields.CharField(default='', max_length=500)),
                ('source', fields.CharEnumField(description='SEED: seed\nAPPLY: apply\nIMPORT: import\nROLLBACK: rollback', enum_type=PolicyChangeSource, max_length=16)),
                ('base_version', fields.IntField(null=True)),
                ('forced', fields.BooleanField(default=False)),
                ('added', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('removed', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('decisions', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('decisions_fingerprint', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'policy_version', 'app': 'models', 'pk_attr': 'version', 'table_description': 'One numbered version of the policy rules, with its author, time, message and diff.'},
            bases=['Model'],
        ),
    ]
