"""Publishing a task from the webhook's path: Celery's own message, without the per-publish work
Celery would repeat (taking a producer from its pool, a safe repr of the arguments, a declaration
of the queue)."""

import threading

import pytest
from django.conf import settings

from ias.queueing import producer_drop, send_quietly
from ias.tasks import event_process


def test_a_publish_carries_celerys_message_with_its_reprs_and_declares_nothing(monkeypatch):
    monkeypatch.setattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
    published = []
    monkeypatch.setattr(
        "kombu.messaging.Producer.publish", lambda self, body, **kwargs: published.append((body, kwargs))
    )

    def no_saferepr(*args, **kwargs):
        raise AssertionError("the arguments' repr is given, not computed by Celery")

    monkeypatch.setattr("celery.app.amqp.saferepr", no_saferepr)

    assert send_quietly(event_process, event_id=7)

    [(body, kwargs)] = published
    assert body == ((), {"event_id": 7}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None})
    headers = kwargs["headers"]
    assert headers["task"] == "ias.event_process" and headers["id"]
    assert (headers["argsrepr"], headers["kwargsrepr"]) == ("()", "{'event_id': 7}")
    assert kwargs["declare"] == []
    assert kwargs["retry"] is False


def test_a_broker_that_refuses_the_publish_is_reported_not_raised(monkeypatch):
    monkeypatch.setattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)

    def refused(self, body, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr("kombu.messaging.Producer.publish", refused)
    assert send_quietly(event_process, event_id=7) is False


@pytest.fixture
def recorded(monkeypatch):
    """Publishes go nowhere; each is recorded with the producer that sent it."""
    monkeypatch.setattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
    producer_drop()
    published: list = []
    monkeypatch.setattr("kombu.messaging.Producer.publish", lambda self, body, **kwargs: published.append(self))
    yield published
    producer_drop()


def test_publishes_in_one_thread_share_one_producer_not_celerys_pool(recorded, monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("the thread's own producer is used, not one taken from Celery's pool")

    monkeypatch.setattr(type(event_process.app.producer_pool), "acquire", no_pool)
    assert send_quietly(event_process, event_id=1) and send_quietly(event_process, event_id=2)
    first, second = recorded
    assert first is second


def test_another_thread_publishes_with_a_producer_of_its_own(recorded):
    assert send_quietly(event_process, event_id=1)
    thread = threading.Thread(target=send_quietly, args=(event_process,), kwargs={"event_id": 2})
    thread.start()
    thread.join()
    first, other = recorded
    assert first is not other and first.connection is not other.connection


def test_a_forked_process_publishes_with_a_producer_of_its_own(recorded, monkeypatch):
    assert send_quietly(event_process, event_id=1)
    monkeypatch.setattr("ias.queueing.os.getpid", lambda: -1)
    assert send_quietly(event_process, event_id=2)
    parents, childs = recorded
    assert parents is not childs and parents.connection is not childs.connection


def test_a_failed_publish_drops_the_producer_and_the_next_one_reconnects(recorded, monkeypatch):
    assert send_quietly(event_process, event_id=1)
    broken = recorded[0]
    released: list = []
    monkeypatch.setattr(broken.connection, "release", lambda: released.append(True))

    def refused(self, body, **kwargs):
        raise ConnectionResetError(104, "Connection reset by peer")

    monkeypatch.setattr("kombu.messaging.Producer.publish", refused)
    assert send_quietly(event_process, event_id=2) is False
    assert released == [True]
    monkeypatch.setattr("kombu.messaging.Producer.publish", lambda self, body, **kwargs: recorded.append(self))
    assert send_quietly(event_process, event_id=3)
    assert recorded[-1] is not broken and recorded[-1].connection is not broken.connection
