"""The embedded default's broker writes each message whole before a worker can see it."""

import os

import pytest
from kombu import Connection

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
