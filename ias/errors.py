"""Journey errors the views turn into plain messages; none of them carries health data."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ias import wording
from ias.network import NetworkPermanentError, NetworkTransientError

T = TypeVar("T")


class JourneyError(Exception):
    """The person is not at a point where this step can happen (`step` names where to go instead)."""

    def __init__(self, message: str, *, step: str = ""):
        super().__init__(message)
        self.step = step


class Aal2Mismatch(JourneyError):
    """The browser came back with an AAL2 result that does not belong to this person's open challenge."""


class Aal2Refused(JourneyError):
    """The network refused the AAL2 session (expired or not accepted): the person must pass it again."""


class QueryRefused(JourneyError):
    """The network refused to start the query for a reason the person should read."""


class NetworkUnavailable(JourneyError):
    """The network could not be reached just now; trying again later may work."""


class NetworkRefused(JourneyError):
    """The network answered one of the person's steps with a refusal (a 4xx), in words they can act on."""


class EventNotReady(Exception):
    """An event cannot be applied yet (for example its patient link is still being created)."""


class EventMismatch(Exception):
    """An event names one patient but points at another person's query or identity session:
    recorded on the event, nothing is changed."""


def network_errors_as_journey(func: Callable[..., T]) -> Callable[..., T]:
    """A person's step that calls the network: transport errors leave it as journey errors with words
    for people (NetworkRefused for a 4xx, NetworkUnavailable otherwise), so views never see transport."""

    @functools.wraps(func)
    def step(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except NetworkPermanentError as exc:
            raise NetworkRefused(wording.network_problem(exc)) from None
        except NetworkTransientError as exc:
            raise NetworkUnavailable(wording.network_problem(exc)) from None

    return step
