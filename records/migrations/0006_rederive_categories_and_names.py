"""Re-derive the category and name of stored rows with the rules of issue 9.

New pages (social history, family history, care plans and goals, insurance, devices, other) take
rows that were filed under no page, and code-only names ("SNOMED CT 40930008", "Unnamed") or lab
names get the names the code tables give. Rows whose values do not change are left alone.
"""

import re

from django.db import migrations

BATCH = 2000
_CODE_ONLY = re.compile(r"^(?:SNOMED CT|ICD-10-CM|ICD-10|LOINC|RxNorm|CVX|CPT|NDC) \S+$")


def rederive(apps, schema_editor):
    from records import fhir

    Resource = apps.get_model("records", "Resource")
    changed = []
    rows = Resource.objects.only("id", "raw", "category", "display", "resource_type").order_by("id")
    for row in rows.iterator(chunk_size=BATCH):
        raw = row.raw if isinstance(row.raw, dict) else {}
        category = fhir.category_of(raw)
        display = row.display
        if not display or _CODE_ONLY.match(display) or row.resource_type in ("Observation", "DiagnosticReport"):
            display = (fhir.resource_name(raw) or display)[:500]
        if category != row.category or display != row.display:
            row.category, row.display = category, display
            changed.append(row)
        if len(changed) >= BATCH:
            Resource.objects.bulk_update(changed, ["category", "display"])
            changed = []
    if changed:
        Resource.objects.bulk_update(changed, ["category", "display"])


class Migration(migrations.Migration):
    dependencies = [("records", "0005_shares")]

    operations = [migrations.RunPython(rederive, migrations.RunPython.noop)]
