"""Items from several networks in one record (issue 14): each snapshot and item names the network
that delivered it (every existing one came from Metriport), ids are unique within a network, and the
key that makes the same item from two sources one row is re-derived with the clinical rules."""

from django.conf import settings
from django.db import migrations, models

BATCH = 2000


def rederive_dedupe(apps, schema_editor):
    from records import fhir, ingest

    Resource = apps.get_model("records", "Resource")
    fields = ["id", "user_id", "network", "raw", "resource_type", "resource_id", "code_system", "code", "display"]
    fields += ["status", "clinical_date_text", "value_num", "value_unit", "dedupe_key", "is_primary", "retired_at"]
    changed = []
    first: dict[tuple[int, str], int] = {}
    rows = Resource.objects.only(*fields).order_by("user_id", "id")
    for row in rows.iterator(chunk_size=BATCH):
        raw = row.raw if isinstance(row.raw, dict) else {}
        value = ""
        if row.resource_type == "Observation":
            value = ingest.value_key(row.value_num, row.value_unit, fhir.observation_value_text(raw))
        key = ingest.dedupe_key(
            row.resource_type,
            row.resource_id,
            row.code_system,
            row.code,
            row.display,
            row.clinical_date_text,
            value,
            status=row.status,
            ongoing=not any(name.startswith("abatement") for name in raw),
            network=row.network,
        )
        primary = row.is_primary
        if row.retired_at is None:
            primary = first.setdefault((row.user_id, key), row.id) == row.id
        if key != row.dedupe_key or primary != row.is_primary:
            row.dedupe_key, row.is_primary = key, primary
            changed.append(row)
        if len(changed) >= BATCH:
            Resource.objects.bulk_update(changed, ["dedupe_key", "is_primary"])
            changed = []
    if changed:
        Resource.objects.bulk_update(changed, ["dedupe_key", "is_primary"])


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0007_network_source_from_resource"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="resource", name="records_resource_unique"),
        migrations.AddField(
            model_name="resource",
            name="network",
            field=models.CharField(
                default="metriport", help_text="Ids and references are unique within one network.", max_length=16
            ),
        ),
        migrations.AddField(
            model_name="snapshot",
            name="network",
            field=models.CharField(
                default="metriport", help_text="The health network that delivered the bundle.", max_length=16
            ),
        ),
        migrations.AddConstraint(
            model_name="resource",
            constraint=models.UniqueConstraint(
                fields=("user", "network", "resource_type", "resource_id"), name="records_resource_unique_in_network"
            ),
        ),
        migrations.RunPython(rederive_dedupe, migrations.RunPython.noop),
    ]
