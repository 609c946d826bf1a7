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
file system is atomic.

kombu's worker sleeps `polling_interval` between looks at the folder, so a task waited half of it
on average, in the middle of a person's journey (and each queued behind a running one waited again),
and an idle worker spent CPU looking. Here a consuming worker binds a datagram socket in the
`wake_folder` and waits on it instead: a publisher, once its message is in place, sends one byte to
every socket there, and the worker sends one to its own when it acknowledges or rejects a message
(with a prefetch of one it can take the next only then). It still looks every `idle_interval` when
idle and every `polling_interval` when busy, in case a wake-up is missed. A socket nobody holds any
more (a worker killed) is removed by the next publisher. A worker that cannot bind (no Unix datagram
sockets, or a folder whose path is too long for one) looks every `polling_interval`, as kombu's
does. Everything else is kombu's.
"""

from __future__ import annotations

import os
import select
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from queue import Empty
from time import monotonic, sleep
from typing import Any, cast

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, redis, virtual
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps
from kombu.utils.scheduling import FairCycle


class QoS(virtual.QoS):
    """kombu's, waking its own worker when a message is settled: the worker may take the next now."""

    def ack(self, delivery_tag: Any) -> None:
        super().ack(delivery_tag)
        self.worker_wake()

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        super().reject(delivery_tag, requeue)
        self.worker_wake()

    def worker_wake(self) -> None:
        transport = self.channel.connection  # None once the channel is closed
        if isinstance(transport, Transport):
            transport.self_wake()


class Channel(filesystem.Channel):
    QoS = QoS

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
        consumers_wake(self.transport_options.get("wake_folder"))


WAKE_SUFFIX = ".wake"
_sender: socket.socket | None = None


def consumers_wake(folder: str | None) -> None:
    """Send one byte to every waiting worker's socket in `folder`; remove the ones nobody holds."""
    if not folder or not hasattr(socket, "AF_UNIX"):
        return
    try:
        entries = list(os.scandir(folder))
        sender = sender_socket()
    except OSError:
        return
    for entry in entries:
        if not entry.name.endswith(WAKE_SUFFIX):
            continue
        try:
            sender.sendto(b"!", entry.path)
        except (ConnectionRefusedError, FileNotFoundError):
            with suppress(OSError):
                os.unlink(entry.path)
        except OSError:
            # Its buffer is full (it has wake-ups it has not read yet) or it is going away.
            continue


def sender_socket() -> socket.socket:
    """This process's one unbound socket for sending wake-ups (a fork may share it: it holds no state)."""
    global _sender
    if _sender is None:
        _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        _sender.setblocking(False)
    return _sender


class Waker:
    """One worker's socket in the wake folder: `wait` returns when a publisher, or the worker's own
    acknowledgement, sends to it."""

    def __init__(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, f"{uuid.uuid4().hex}{WAKE_SUFFIX}")
        self.pid = os.getpid()
        self.fresh = True
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.sock.bind(self.path)
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)

    def wait(self, seconds: float) -> bool:
        """True when woken, False when `seconds` passed without a wake-up."""
        readable, _, _ = select.select([self.sock], [], [], seconds)
        if readable:
            self.drain()
        return bool(readable)

    def poke(self) -> None:
        with suppress(OSError):
            sender_socket().sendto(b"!", self.path)

    def drain(self) -> None:
        with suppress(OSError):
            while self.sock.recv(64):
                pass

    def close(self) -> None:
        self.sock.close()
        with suppress(OSError):
            os.unlink(self.path)


class Transport(filesystem.Transport):
    Channel = Channel
    idle_interval = 1.0

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        options = client.transport_options
        self.wake_folder: str | None = options.get("wake_folder")
        self.idle_interval = float(options.get("idle_interval", self.idle_interval))
        self.waker: Waker | None = None
        self.waker_failed = False

    def drain_events(self, connection: Any, timeout: float | None = None, **kwargs: Any) -> None:
        """kombu's loop, pausing on `pause` instead of always sleeping `polling_interval`."""
        started = monotonic()
        cycle = cast(FairCycle, self.cycle)
        while True:
            try:
                cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                pass
            left = None if timeout is None else timeout - (monotonic() - started)
            if left is not None and left <= 0:
                raise TimeoutError()
            self.pause(left)

    def pause(self, left: float | None) -> None:
        """Wait for a wake-up (a publish, or this worker settling its message), at most `idle_interval`
        when idle and `polling_interval` when busy; without a socket, sleep `polling_interval`."""
        waker = self.waker_bound()
        if waker is not None and waker.fresh:
            waker.fresh = False
            return  # just bound: a message may have come in before, unannounced; look once more
        limit = self.idle_interval if waker is not None and self.idle() else (self.polling_interval or 0.0)
        seconds = limit if left is None else min(limit, left)
        if waker is not None:
            waker.wait(seconds)
        else:
            sleep(seconds)

    def self_wake(self) -> None:
        """Wake this worker's own wait (called from whichever thread settles a message)."""
        waker = self.waker
        if waker is not None and waker.pid == os.getpid():
            waker.poke()

    def idle(self) -> bool:
        """Every channel may take a message now (prefetch 1: no task in hand; a producer's has no limit)."""
        return all(channel.qos.can_consume() for channel in self.channels)

    def waker_bound(self) -> Waker | None:
        if self.waker is not None and self.waker.pid != os.getpid():
            self.waker = None  # a forked copy: the socket is the parent's
        if self.waker is None and self.wake_folder and not self.waker_failed and hasattr(socket, "AF_UNIX"):
            try:
                self.waker = Waker(self.wake_folder)
            except OSError:
                self.waker_failed = True
        return self.waker

    def close_connection(self, connection: Any) -> None:
        if self.waker is not None and self.waker.pid == os.getpid():
            self.waker.close()
        self.waker = None
        super().close_connection(connection)


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
