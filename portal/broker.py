"""The brokers' transports: kombu's own, with two changes.

Redis (production): kombu builds a new `redis.Redis` client (about 170 response callbacks copied
into a fresh dict) for every command it sends outside its consumer, so for every task published.
Here a channel keeps one client per connection pool (a client only borrows connections from its
pool, and a fork replaces the pool, so a forked process builds its own).

The filesystem (the embedded default): each message is written whole before a worker can see it.

kombu creates a message's file under its final name and only then writes it; a worker that lists
the folder in between moves the empty file away, fails to decode it and stops ("Unrecoverable
error: JSONDecodeError"). The more often workers look, the likelier that is, so here a message is
written under a name no queue matches (`.part` after `.msg`) and renamed into place, which on one
file system is atomic. Everything else is kombu's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, redis
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu's filesystem Channel names this argument `payload`, its abstract base `message`.
    def _put(self, queue, payload, **kwargs):  # type: ignore[override]
        """Put `payload` on `queue`: kombu's file name, written in full, then renamed into place."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"
        try:
            with open(partial, "wb", buffering=0) as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


class RedisChannel(redis.Channel):
    command_client: tuple[Any, Any] | None = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        """The client given, else this channel's one client for its current pool."""
        if client:
            yield client
            return
        pool = self.pool
        if self.command_client is None or self.command_client[0] is not pool:
            self.command_client = (pool, self._create_client())
        yield self.command_client[1]


class RedisTransport(redis.Transport):
    Channel = RedisChannel
