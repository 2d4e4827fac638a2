from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_people')]

    initial = False

    operations = [
        ops.CreateModel(
            name='InstallationSecret',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('value', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'installation_secret', 'app': 'models', 'pk_attr': 'name', 'table_description': 'A random value made once for the whole installation, shared by every worker.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ApiKey',
            name='allowed_ips',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='secret_tag',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='MailboxPassword',
            name='allowed_ips',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='MailboxPassword',
            name='secret_tag',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
