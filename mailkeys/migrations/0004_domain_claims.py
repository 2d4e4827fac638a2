from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# Before this migration `domainVerify` marked a domain verified without looking at DNS.
# A name that several teams marked verified is held by none of them afterwards (nothing
# says which is the owner: the first to prove it by DNS wins). A name one team marked
# verified stays verified, flagged `reverification_required`: its mailboxes keep working
# until that team proves it by DNS, or another team does and takes the name over.
# docs/domains.md tells operators what this means for their data.
DROP_CONTESTED = (
    "UPDATE domain SET verified_at = NULL WHERE verified_at IS NOT NULL AND name IN ("
    "SELECT name FROM domain WHERE verified_at IS NOT NULL GROUP BY name HAVING COUNT(*) > 1)"
)
FLAG_UNCHECKED = (
    "UPDATE domain SET verified_name = name, reverification_required = TRUE"
    " WHERE verified_at IS NOT NULL"
)


class Migration(migrations.Migration):
    dependencies = [('models', '0003_policy_versions')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='Domain',
            options={'table': 'domain', 'app': 'models', 'unique_together': (('team', 'name'),), 'pk_attr': 'id', 'table_description': 'A sending domain of the team, verified once its DNS TXT record is seen.'},
        ),
        ops.AddField(
            model_name='Domain',
            name='reverification_required',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Domain',
            name='verified_name',
            field=fields.CharField(null=True, unique=True, max_length=253),
        ),
        # Reviewed by hand: the data step above (the columns' removal undoes it).
        ops.RunSQL([DROP_CONTESTED, FLAG_UNCHECKED], reverse_sql=ops.RunSQL.noop),
    ]
