"""Publishing a task from the webhook's path: Celery's own message, without the per-publish work
Celery would repeat (a safe repr of the arguments, a declaration of the queue)."""

from django.conf import settings

from ias.queueing import send_quietly
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
