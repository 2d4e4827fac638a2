from tortoise import migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='BillingProfile',
            options={'table': 'billing_profile', 'app': 'models', 'pk_attr': 'team_id', 'table_description': 'Who pays for the team, and where invoices go.'},
        ),
    ]
