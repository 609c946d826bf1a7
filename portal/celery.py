"""The Celery app: `celery -A portal worker -B` runs the worker and its periodic scheduler."""

import gc
import importlib
import os

from celery import Celery, Task, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class PortalTask(Task):
    """Every task in a worker: database connections follow Django's rules between tasks, as between
    requests. One older than CONN_MAX_AGE or one that failed is closed, and a kept one is checked
    before its next use (CONN_HEALTH_CHECKS); a healthy one is reused rather than opened again for
    each task (see CELERY_DB_REUSE_MAX). An eager task runs inside its caller, whose connections are
    the caller's own."""

    def before_start(self, task_id, args, kwargs):
        self.connections_tidy()

    def after_return(self, status, retval, task_id, args, kwargs, einfo):
        self.connections_tidy()

    def connections_tidy(self) -> None:
        if getattr(self.request, "is_eager", False):
            return
        from django.db import close_old_connections

        close_old_connections()


app = Celery("portal", task_cls=PortalTask)
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


# The modules task bodies import on first use (lazily, so the web process and the import order stay
# light): about 60 ms of imports, which the first task of each pool process paid, in the middle of a
# person's journey, until they were imported once in the worker before its pool forks.
TASK_MODULES = (
    "ias.webhooks",
    "ias.queries",
    "ias.identity",
    "ias.patients",
    "ias.sweeper",
    "records.services",
    "records.download",
    "portal.services",
)


class TaskModulesPreload(bootsteps.Step):
    """Import TASK_MODULES, and build the outbound TLS context (certifi's roots, tens of ms to load)
    that every download and network call uses, while the worker is built, before its pool forks."""

    def __init__(self, parent, **kwargs):
        from records.http import tls_context

        for name in TASK_MODULES:
            importlib.import_module(name)
        tls_context()
        super().__init__(parent, **kwargs)


class ObjectsFreeze(bootsteps.Step):
    """Set what the worker loaded aside from the garbage collector (`gc.freeze`) before its pool forks,
    as the web process does (`portal.startup`); the pool processes inherit it. Otherwise a full
    collection in the pool process walked every module, model and code table loaded (85,000 objects:
    110-280 ms in a process built like it, 200-370 ms in the journey benchmark's pool process, on this
    machine while shared), and the journey's last events are where one falls due: inside the last
    source's save, or between it and the settle.
    Frozen objects are never freed, which these never are."""

    requires = (CodeSetsPreload, TaskModulesPreload)

    def __init__(self, parent, **kwargs):
        gc.collect()
        gc.freeze()
        super().__init__(parent, **kwargs)


app.steps["worker"].add(CodeSetsPreload)
app.steps["worker"].add(TaskModulesPreload)
app.steps["worker"].add(ObjectsFreeze)
