"""The Celery app: `celery -A portal worker -B` runs the worker and its periodic scheduler."""

import os

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class CodeSetsPreload(bootsteps.Step):
    """Build the ICD-10-CM index (records.icd10cm) if it is missing, while the worker is built and
    before its pool forks: no task then waits seconds for it on the first code-only condition of
    the first record it saves."""

    def __init__(self, parent, **kwargs):
        from records.terminology import code_sets_preload

        code_sets_preload()
        super().__init__(parent, **kwargs)


app.steps["worker"].add(CodeSetsPreload)
