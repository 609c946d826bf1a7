"""Re-derive every stored row's network source from the resource itself.

Rows ingested before this stored the source of the webhook that delivered the bundle, which says
nothing about where each item came from (every webhook links the whole consolidated record).
"""

from django.db import migrations

BATCH = 2000


def network_source_from_resource(apps, schema_editor) -> None:
    from records.fhir import resource_network_source

    Resource = apps.get_model("records", "Resource")
    changed = []
    for row in Resource.objects.only("id", "raw", "network_source").iterator(chunk_size=BATCH):
        derived = resource_network_source(row.raw)
        if derived != row.network_source:
            row.network_source = derived
            changed.append(row)
        if len(changed) >= BATCH:
            Resource.objects.bulk_update(changed, ["network_source"])
            changed = []
    if changed:
        Resource.objects.bulk_update(changed, ["network_source"])


class Migration(migrations.Migration):
    dependencies = [("records", "0006_rederive_categories_and_names")]

    operations = [migrations.RunPython(network_source_from_resource, migrations.RunPython.noop)]
