"""The embedded default's broker: kombu's filesystem transport, with each message written whole
before a worker can see it.

kombu creates a message's file under its final name and only then writes it; a worker that lists
the folder in between moves the empty file away, fails to decode it and stops ("Unrecoverable
error: JSONDecodeError"). The more often workers look, the likelier that is, so here a message is
written under a name no queue matches (`.part` after `.msg`) and renamed into place, which on one
file system is atomic. Everything else is kombu's.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
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
