"""The embedded default's broker writes each message whole before a worker can see it."""

import os
import shutil
import socket
import tempfile
import threading
import uuid

import pytest
from kombu import Connection, Consumer, Exchange, Queue

from portal import broker


@pytest.fixture
def folders(tmp_path):
    queue = tmp_path / "queue"
    queue.mkdir()
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }


def test_the_embedded_default_uses_it(settings):
    from portal.celery import app

    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("the broker here is not the filesystem one")
    with app.connection_for_write() as connection:
        assert connection.transport_cls == "portal.broker:Transport"
        assert type(connection.transport).__name__ == "Transport"
        assert type(connection.transport).__module__ == "portal.broker"
    assert app.conf.broker_transport_options["polling_interval"] == 0.02


def test_a_message_under_way_is_invisible_and_then_whole(folders, monkeypatch):
    seen_while_writing = []
    real_replace = os.replace

    def replace(source, target):
        # The message is written but not yet in place: the queue must not offer it.
        seen_while_writing.append(channel._size("q"))
        assert source.endswith(".part") and target.endswith(".q.msg")
        real_replace(source, target)

    with Connection("filesystem://", transport=broker.Transport, transport_options=folders) as connection:
        channel = connection.default_channel
        monkeypatch.setattr(broker.os, "replace", replace)
        channel._put("q", {"body": "x"})
        assert seen_while_writing == [0]
        assert channel._size("q") == 1
        assert channel._get("q") == {"body": "x"}
        assert channel._size("q") == 0
    assert os.listdir(folders["data_folder_in"]) == []


@pytest.fixture
def wakes(monkeypatch):
    """Each wait on a worker's socket: True when a wake-up ended it, False when its time ran out."""
    seen: list[bool] = []
    real_wait = broker.Waker.wait

    def wait(waker, seconds):
        seen.append(real_wait(waker, seconds))
        return seen[-1]

    monkeypatch.setattr(broker.Waker, "wait", wait)
    return seen


@pytest.fixture
def waking(folders):
    # A short folder: a Unix socket's path has room for about a hundred bytes.
    wake = tempfile.mkdtemp(prefix="hpw-", dir="/tmp")
    yield {**folders, "wake_folder": wake, "idle_interval": 30.0, "polling_interval": 30.0}
    shutil.rmtree(wake, ignore_errors=True)


def a_queue(options):
    """A queue of its own per test: kombu keeps the filesystem transport's bindings per process,
    and a binding made for another test's folders would route this test's messages nowhere."""
    name = f"q{uuid.uuid4().hex[:8]}"
    options["test_queue"] = name
    return Queue(name, Exchange(name), name)


def consumer_connection(options, received):
    """A connection consuming the test's queue with a prefetch of one, as the worker does."""
    connection = Connection("filesystem://", transport=broker.Transport, transport_options=options)
    channel = connection.channel()
    channel.basic_qos(0, 1, False)
    on_message = lambda body, message: (received.append(body), message.ack())  # noqa: E731
    Consumer(channel, [a_queue(options)], callbacks=[on_message], accept=["json"]).consume()
    return connection


def publish(options, body):
    name = options["test_queue"]
    with Connection("filesystem://", transport=broker.Transport, transport_options=options) as connection:
        connection.Producer().publish(body, routing_key=name, exchange=Exchange(name), serializer="json")


def test_an_idle_worker_is_woken_by_a_publish_not_by_its_next_look(waking, wakes):
    received: list[dict] = []
    with consumer_connection(waking, received) as connection:
        # Nothing there: it binds its socket, then waits for a wake-up (30 s without one).
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=0.3)
        assert [name for name in os.listdir(waking["wake_folder"]) if name.endswith(broker.WAKE_SUFFIX)]
        assert wakes == [False]
        threading.Timer(0.2, publish, args=(waking, {"n": 1})).start()
        connection.drain_events(timeout=10)
        assert received == [{"n": 1}]
        assert wakes == [False, True]  # the wait the publish ended, not one that ran out
    assert os.listdir(waking["wake_folder"]) == []


def test_a_publisher_removes_the_socket_of_a_worker_that_is_gone(waking):
    gone = os.path.join(waking["wake_folder"], f"gone{broker.WAKE_SUFFIX}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(gone)
    sock.close()  # killed without closing its connection: the file stays, nobody reads it
    with Connection("filesystem://", transport=broker.Transport, transport_options=waking) as connection:
        connection.default_channel._put("q", {"body": "x"})
        assert not os.path.exists(gone)
        assert connection.default_channel._get("q") == {"body": "x"}


def test_a_worker_that_cannot_bind_looks_every_polling_interval(folders, tmp_path):
    too_long = tmp_path / ("w" * 120)
    options = {**folders, "wake_folder": str(too_long), "idle_interval": 30.0, "polling_interval": 0.05}
    received: list[dict] = []
    with consumer_connection(options, received) as connection:
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=0.2)
        assert connection.transport.waker is None and connection.transport.waker_failed
        threading.Timer(0.2, publish, args=(options, {"n": 2})).start()
        connection.drain_events(timeout=10)
        assert received == [{"n": 2}]


def test_a_busy_worker_takes_the_next_message_once_it_settles_the_one_in_hand(waking, wakes):
    held = []
    hold = lambda body, message: held.append(message)  # noqa: E731 - a task in hand, not yet acknowledged
    with Connection("filesystem://", transport=broker.Transport, transport_options=waking) as connection:
        channel = connection.channel()
        channel.basic_qos(0, 1, False)
        Consumer(channel, [a_queue(waking)], callbacks=[hold], accept=["json"]).consume()
        publish(waking, {"n": 1})
        connection.drain_events(timeout=5)
        assert len(held) == 1 and not connection.transport.idle()
        # Published after the first is in hand: two files named in the same millisecond have no order.
        publish(waking, {"n": 2})
        # The acknowledgement comes from another thread, as from Celery's pool; nothing is published
        # meanwhile, and the next look is 30 s away: only its own wake-up ends this wait in time.
        wakes.clear()
        threading.Timer(0.3, held[0].ack).start()
        connection.drain_events(timeout=10)
        assert [message.payload for message in held] == [{"n": 1}, {"n": 2}]
        assert wakes and wakes[-1] is True and False not in wakes
        wakes.clear()
        threading.Timer(0.3, held[1].reject, kwargs={"requeue": True}).start()
        connection.drain_events(timeout=10)
        assert [message.payload for message in held] == [{"n": 1}, {"n": 2}, {"n": 2}]
        assert wakes and wakes[-1] is True and False not in wakes
