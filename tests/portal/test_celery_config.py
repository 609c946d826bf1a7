"""Every setting Celery reads while publishing a task is spelled out in Django's settings: Celery reads
its configuration through them on each publish, and a missing key costs exceptions on every read."""

import pytest
from celery.utils.collections import ConfigurationView
from django.conf import settings

from ias.tasks import event_process
from portal.celery import app


def test_a_publish_reads_only_settings_that_are_spelled_out(monkeypatch):
    monkeypatch.setattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
    published = []
    monkeypatch.setattr("kombu.messaging.Producer.publish", lambda self, body, **kwargs: published.append(body))
    event_process.apply_async(kwargs={"event_id": 0}, retry=False)  # the app's one-time setup reads more
    read: list[str] = []
    original = ConfigurationView.__getitem__

    def recording(self, key):
        read.append(key)
        return original(self, key)

    monkeypatch.setattr(ConfigurationView, "__getitem__", recording)
    event_process.apply_async(kwargs={"event_id": 0}, retry=False)
    assert published and read
    names = {"CELERY_" + key.upper().removeprefix("CELERY_") for key in read}
    assert sorted(name for name in names if not hasattr(settings, name)) == []


@pytest.mark.skipif(not settings.CELERY_BROKER_URL.startswith("redis://"), reason="the Redis transport's client")
def test_the_redis_channel_keeps_one_command_client_per_pool():
    """kombu built a Redis client per publish; the channel keeps one, and a new pool (after a fork) gets its own."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
        channel._after_fork()  # the pools go, as in a forked child
        with channel.conn_or_acquire() as after_fork:
            assert after_fork is not first and after_fork.connection_pool is channel.pool
        passed = object()
        with channel.conn_or_acquire(passed) as given:
            assert given is passed


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_a_healthy_database_connection_between_tasks():
    """Celery's Django fixup closed every connection around every task (a new server process per
    task on PostgreSQL); now Django's own rules decide, as between web requests."""
    from celery.fixups.django import DjangoWorkerFixup
    from django.db import connection

    from portal.celery import PortalTask

    assert isinstance(event_process, PortalTask)
    connection.close()  # a fresh one: a connection older than CONN_MAX_AGE is rightly closed
    connection.ensure_connection()
    before = connection.connection
    DjangoWorkerFixup(app).close_database()
    event_process.push_request(is_eager=False)
    try:
        event_process.before_start("id", (), {})
        kept = connection.connection is before
        event_process.after_return("SUCCESS", None, "id", (), {}, None)
    finally:
        event_process.pop_request()
    assert kept == (connection.settings_dict["CONN_MAX_AGE"] != 0)  # DB_CONN_MAX_AGE=0: closed, as before
    if kept:
        assert not connection.health_check_done  # type: ignore[attr-defined]  # Django has it; its stubs do not
