"""The Celery app: `celery -A portal worker -B` runs the worker and its periodic scheduler."""

import os

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class CodeSetsPreload(bootsteps.Step):
    """Load the ICD-10-CM code set in the worker's main process, while the worker is built and
    before its pool forks: every pool process then shares it, instead of each one spending about
    two seconds on the first code-only condition of the first record it saves."""

    def __init__(self, parent, **kwargs):
        from records.terminology import code_sets_preload

        code_sets_preload()
        super().__init__(parent, **kwargs)


app.steps["worker"].add(CodeSetsPreload)
