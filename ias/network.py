"""The seam between the journey and a health network: what the journey exchanges with any network.

Services talk to "the network" only through `network_for(key)`, which answers a `Network`: the
Metriport client is its first implementation (`ias.metriport_network.MetriportNetwork`), Particle its
second. An implementation decodes its network's JSON once, at the edge, into the structs below,
and raises only the two error classes here: `NetworkTransientError` (worth retrying later) and
`NetworkPermanentError` (the request itself is wrong). Exception messages carry the status and the
network's error name only: the `detail` text is kept on the exception for display, never put in
str(exc), because it may echo demographics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import msgspec
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string

# The shape of any id a network hands us (patient, session, request, challenge).
NETWORK_ID = re.compile(r"^[A-Za-z0-9_\-.:]{1,100}$")
# The network that proves identity and runs AAL2 challenges: every person's first link is there.
IDENTITY_NETWORK = "metriport"
# The metadata key that carries our own query id to the network and back in its webhooks.
QUERY_REF_KEY = "homeportQueryId"


class NetworkError(Exception):
    """Base class of everything a network implementation raises."""

    def __init__(self, message: str, *, status: int | None = None, name: str = "", detail: str = ""):
        super().__init__(message)
        self.status = status
        self.name = name
        self.detail = detail


class NetworkTransientError(NetworkError):
    """5xx, 429, timeouts, connection failures and answers we cannot read: retry later,
    honouring `retry_after` (seconds)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class NetworkPermanentError(NetworkError):
    """4xx (other than 429): the request will not succeed as sent; `detail` says why."""

    @property
    def is_not_found(self) -> bool:
        return self.status == 404


@dataclass(frozen=True)
class SourceChoice:
    """Which kinds of source the person asked to search."""

    hie: bool = True
    pharmacy: bool = True
    lab: bool = True

    def enabled(self) -> list[str]:
        return [name for name in ("hie", "pharmacy", "lab") if getattr(self, name)]


# --- what the journey sends --------------------------------------------------------------------------


class Address(msgspec.Struct, frozen=True, kw_only=True):
    line1: str
    line2: str = ""
    city: str
    state: str
    zip: str
    country: str = "USA"


class PatientDetails(msgspec.Struct, frozen=True, kw_only=True):
    """Who the person says they are, in our own words; each network spells it its own way."""

    first_name: str
    last_name: str
    dob: str  # ISO date, YYYY-MM-DD
    gender_at_birth: str
    address: Address
    phone: str = ""
    email: str = ""


class QueryRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One search for records. A network that proves identity itself checks `proofed_identity_id`
    and `aal2_session_id`; one that does not (Particle) rides on the identity proved elsewhere and
    is told the `purpose_of_use` instead."""

    patient_id: str
    sources: list[str]
    query_ref: str
    proofed_identity_id: str = ""
    aal2_session_id: str = ""
    purpose_of_use: str = ""


# --- what a network answers --------------------------------------------------------------------------


class PatientRef(msgspec.Struct, frozen=True, kw_only=True):
    patient_id: str
    facility_id: str = ""


class IdentitySession(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    session_url: str
    expires_at: datetime | None = None


IdentityState = Literal["verified", "expired", "failed", "unknown"]


class IdentityStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Where an identity session stands; "unknown" means the network did not say (ask again later)."""

    state: IdentityState
    proofed_identity_id: str = ""
    reason: str = ""


class Aal2Opened(msgspec.Struct, frozen=True, kw_only=True):
    challenge_id: str
    challenge_url: str
    method: str = ""
    expires_at: datetime | None = None


SourceState = Literal["processing", "completed", "failed"]


class SourceProgress(msgspec.Struct, frozen=True, kw_only=True):
    source_type: str
    state: SourceState
    started_at: datetime | None = None
    completed_at: datetime | None = None


class SourceRefusal(msgspec.Struct, frozen=True, kw_only=True):
    """A source the network would not search; `message` is the network's text, kept for staff."""

    source_type: str
    http_status: int | None = None
    message: str = ""


class QueryStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A search's state as the network reports it, when it starts and when asked again."""

    request_id: str = ""
    started_at: datetime | None = None
    sources: list[SourceProgress] = []
    refusals: list[SourceRefusal] = []


RecordsState = Literal["processing", "completed", "failed"]


class RecordsRequested(msgspec.Struct, frozen=True, kw_only=True):
    """A request for the person's whole record as one bundle; its link arrives by webhook."""

    request_id: str = ""
    started_at: datetime | None = None


class RecordsStatus(msgspec.Struct, frozen=True, kw_only=True):
    state: RecordsState | Literal["unknown"]


class Network(Protocol):
    """What the journey asks of a health network. Every method may raise `NetworkTransientError`
    or `NetworkPermanentError`, and nothing else from the transport."""

    key: str  # stored on rows ("metriport")
    label: str  # for people ("Metriport")
    offers_identity: bool  # identity proofing (IAL2) and AAL2 challenges happen here
    purpose_of_use: str  # what a query says it is for

    def patient_register(self, *, facility_id: str, details: PatientDetails, external_id: str) -> PatientRef: ...

    def patient_update(self, *, patient: PatientRef, details: PatientDetails, external_id: str) -> None: ...

    def patient_delete(self, *, patient: PatientRef) -> None: ...

    def identity_session_start(self, *, patient_id: str, return_url: str) -> IdentitySession: ...

    def identity_session_status(self, *, session_id: str) -> IdentityStatus: ...

    def aal2_challenge_start(self, *, proofed_identity_id: str, return_url: str) -> Aal2Opened: ...

    def query_start(self, *, request: QueryRequest) -> QueryStatus: ...

    def query_status(self, *, request_id: str) -> QueryStatus: ...

    def records_request(self, *, patient_id: str, query_ref: str) -> RecordsRequested: ...

    def records_status(self, *, patient_id: str, request_id: str) -> RecordsStatus: ...

    def document_link(self, *, file_name: str, content_type: str = "") -> str: ...

    def events_resend(self) -> None:
        """Ask the network to send again the webhooks it still holds (a fallback when one is lost)."""
        ...


def networks_enabled() -> list[str]:
    """The keys of the networks this deployment talks to (`HOMEPORT_NETWORKS`), first one first."""
    return list(settings.HOMEPORT_NETWORKS)


# Each network's implementation, by key; named by path so that this module imports none of them
# (they import the structs above). A second network adds one line here.
IMPLEMENTATIONS = {
    "metriport": "ias.metriport_network.MetriportNetwork",
    "particle": "ias.particle_network.ParticleNetwork",
}


def network_for(key: str = "") -> Network:
    """The network a row belongs to (without a key, the first enabled one: the network that proves
    identity); an unknown or disabled key is a programming error."""
    key = key or settings.HOMEPORT_NETWORKS[0]
    if key not in settings.HOMEPORT_NETWORKS or key not in IMPLEMENTATIONS:
        raise LookupError(f"network {key!r} is not enabled")
    network: Network = import_string(IMPLEMENTATIONS[key])()
    return network


# --- decoding helpers every implementation shares -----------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def parse_when(value: Any) -> datetime | None:
    """A network's timestamp, aware (UTC when it gave none), or None when missing or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def plain_reason(value: Any) -> str:
    """A network's own words, made a short single line of text (shown escaped, next to our advice)."""
    if not isinstance(value, str) or not value.strip():
        return ""
    return " ".join(_CONTROL.sub(" ", value).split())[:200]


def network_id(value: Any) -> str:
    """An id from a network's answer, or "" when it is missing or not shaped like one."""
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return text if NETWORK_ID.match(text) else ""
