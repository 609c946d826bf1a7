"""The one module that talks HTTP to Particle Health's Query API (the second network).

Particle's shapes, as its documentation and its public SDK (ParticleHealth/particle-connect)
publish them: `GET /auth` with `client-id`, `client-secret` and `scope` headers answers a
short-lived JWT (plain text; the management API's JSON and form-encoded answers are read too);
`POST /api/v2/patients` registers a person; `POST /api/v2/patients/{id}/query` starts a query
with the operator's purpose of use; `GET /api/v2/patients/{id}/query[?query_id=]` answers its
`state` (PENDING, PROCESSING or RUNNING, COMPLETE, PARTIAL, FAILED), and may answer 404 for a
moment after the submit; `GET .../fhir` is the FHIR R4 bundle and `GET .../ccda` a ZIP of C-CDA
documents.

Errors are Metriport's two classes, so callers handle both networks alike. Exception messages
carry the method, path template and status only; `detail` holds words for people and never
echoes what the network said about the demographics.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs

import httpx
import msgspec
from django.conf import settings

from ias.network import NetworkPermanentError, NetworkTransientError
from records.http import hardened_client

NETWORK = "particle"
PURPOSES = ("TREATMENT", "PAYMENT", "OPERATIONS")
SPECIALTIES = (
    "ONCOLOGY",
    "ORTHOPEDICS",
    "CARDIOLOGY",
    "ENDOCRINOLOGY",
    "NEPHROLOGY",
    "PULMONOLOGY",
    "GASTROENTEROLOGY",
)
# US Postal Service two-letter codes: the states, the District of Columbia and the territories.
STATES = frozenset(
    re.findall(
        r"[A-Z]{2}",
        "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
        "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP",
    )
)
GENDERS = {"M": "MALE", "MALE": "MALE", "F": "FEMALE", "FEMALE": "FEMALE"}
POSTAL_CODE = re.compile(r"^\d{5}(-?\d{4})?$")
# Particle's tokens live an hour; one is renewed this long before it runs out (the SDK's margin),
# or halfway through its life when that is shorter.
TOKEN_REFRESH_MARGIN_SECONDS = 600.0
TOKEN_DEFAULT_LIFETIME_SECONDS = 3600.0
# How long after a submit a 404 from the status endpoint means "not visible yet" (Particle documents
# a brief propagation delay), and how long a caller should wait before asking again.
STATUS_404_GRACE_SECONDS = 120.0
STATUS_404_RETRY_SECONDS = 5.0
# The largest answer read for a call (JSON answers); results are capped by RECORDS_DOWNLOAD_MAX_BYTES.
ANSWER_MAX_BYTES = 1024 * 1024
# Headers that describe the bytes on the wire, not the (decoded) bytes kept.
DECODED_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}

STATE_PHASES = {
    "PENDING": "pending",
    "PROCESSING": "running",
    "RUNNING": "running",
    "COMPLETE": "complete",
    "COMPLETED": "complete",
    "PARTIAL": "partial",
    "FAILED": "failed",
}


# ---- typed answers -------------------------------------------------------------------------------


class ParticlePatient(msgspec.Struct, omit_defaults=True):
    """The body of `POST /api/v2/patients`; build it with `patient_from_demographics`."""

    given_name: str
    family_name: str
    date_of_birth: str
    gender: str
    postal_code: str
    address_city: str
    address_state: str
    patient_id: str
    address_lines: list[str] = []
    telephone: str = ""
    email: str = ""


class RegisteredPatient(msgspec.Struct):
    """Particle's answer to a registration: its id for the person, and ours echoed back."""

    particle_patient_id: str
    patient_id: str = ""


class SubmittedQuery(msgspec.Struct):
    """The answer to `POST .../query`. Older answers carry only the patient id (no `query_id`)."""

    particle_patient_id: str = ""
    query_id: str = ""
    external_patient_id: str = ""
    purpose_of_use: str = ""


class QueryStatus(msgspec.Struct):
    """The answer to `GET .../query`: `state` as Particle spells it, `phase` in Homeport's words."""

    state: str
    query_id: str = ""
    files_available: int = 0
    files_downloaded: int = 0
    error_message: str | None = None

    @property
    def phase(self) -> str:
        """pending, running, complete, partial, failed; an unknown state counts as still running."""
        return STATE_PHASES.get(self.state.strip().upper(), "running")

    @property
    def finished(self) -> bool:
        return self.phase in ("complete", "partial", "failed")


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float
    fetched_at: float

    def fresh(self, now: float) -> bool:
        margin = min(TOKEN_REFRESH_MARGIN_SECONDS, (self.expires_at - self.fetched_at) / 2)
        return now < self.expires_at - margin


class TokenCache:
    """Tokens shared by every client of one process, keyed by (base URL, client id, scope)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens: dict[tuple[str, str, str], Token] = {}

    def get(self, key: tuple[str, str, str]) -> Token | None:
        with self.lock:
            return self.tokens.get(key)

    def put(self, key: tuple[str, str, str], token: Token) -> None:
        with self.lock:
            self.tokens[key] = token

    def drop(self, key: tuple[str, str, str], value: str) -> None:
        """Forget a token the network refused, unless another thread already replaced it."""
        with self.lock:
            current = self.tokens.get(key)
            if current is not None and current.value == value:
                del self.tokens[key]

    def clear(self) -> None:
        with self.lock:
            self.tokens.clear()


TOKENS = TokenCache()


# ---- people's words for what Particle cannot take ------------------------------------------------


def refusal(field: str, detail: str) -> NetworkPermanentError:
    """A permanent error raised before anything is sent; `detail` is for the person to read."""
    return NetworkPermanentError(f"particle patient: {field} not accepted", status=None, name=field, detail=detail)


def patient_build(
    *,
    patient_id: str,
    first_name: str,
    last_name: str,
    dob: str,
    gender_at_birth: str,
    line1: str = "",
    line2: str = "",
    city: str,
    state: str,
    zip: str,
    phone: str = "",
    email: str = "",
) -> ParticlePatient:
    """Particle's registration body from the person's details, checked the way Particle checks it.

    Refused before anything is sent: a missing name or birth date, a sex at birth other than male
    or female, a state that is not a two-letter code, a ZIP code that is not 5 or 9 digits. A
    refusal says in words what the person can do.
    """
    first, last = first_name.split(",")[0].strip(), last_name.split(",")[0].strip()
    if not first or not last:
        raise refusal("name", "Particle needs both your first and last name. Add them on the details page.")
    try:
        date.fromisoformat(dob)
    except ValueError:
        raise refusal("date_of_birth", "Particle needs your date of birth. Check it on the details page.") from None
    gender = GENDERS.get(gender_at_birth.strip().upper())
    if gender is None:
        raise refusal(
            "gender",
            "Particle can only search for a person recorded as male or female at birth, so it cannot search "
            "with the sex at birth you gave. Your other networks are not affected.",
        )
    state = state.strip().upper()
    if state not in STATES:
        raise refusal(
            "address_state", "Particle needs your state as its two-letter code, for example MA. Check your address."
        )
    postal = zip.strip()
    if not POSTAL_CODE.match(postal):
        raise refusal("postal_code", "Particle needs a 5-digit ZIP code, for example 02139. Check your address.")
    if len(postal) == 9:
        postal = f"{postal[:5]}-{postal[5:]}"
    if not city.strip():
        raise refusal("address_city", "Particle needs the city of your address. Check your address.")
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return ParticlePatient(
        given_name=first,
        family_name=last,
        date_of_birth=dob,
        gender=gender,
        postal_code=postal,
        address_city=city.strip(),
        address_state=state,
        patient_id=patient_id,
        address_lines=[line.strip() for line in (line1, line2) if line.strip()],
        telephone=f"{digits[:3]}-{digits[3:6]}-{digits[6:]}" if len(digits) == 10 else "",
        email=email.strip(),
    )


def patient_from_demographics(*, demographics: dict[str, Any], patient_id: str) -> ParticlePatient:
    """`patient_build` from demographics stored in the journey's (Metriport's) shape."""
    addresses = demographics.get("address") or [{}]
    address = addresses[0] if isinstance(addresses, list) and addresses and isinstance(addresses[0], dict) else {}
    contacts = demographics.get("contact") or [{}]
    contact = contacts[0] if isinstance(contacts, list) and contacts and isinstance(contacts[0], dict) else {}
    return patient_build(
        patient_id=patient_id,
        first_name=str(demographics.get("firstName") or ""),
        last_name=str(demographics.get("lastName") or ""),
        dob=str(demographics.get("dob") or ""),
        gender_at_birth=str(demographics.get("genderAtBirth") or ""),
        line1=str(address.get("addressLine1") or ""),
        line2=str(address.get("addressLine2") or ""),
        city=str(address.get("city") or ""),
        state=str(address.get("state") or ""),
        zip=str(address.get("zip") or ""),
        phone=str(contact.get("phone") or ""),
        email=str(contact.get("email") or ""),
    )


def off_reason() -> str:
    """Why Particle is off with these settings, in words for the operator; empty when it is on."""
    if NETWORK not in settings.HOMEPORT_NETWORKS:
        return "Particle is not enabled: add particle to HOMEPORT_NETWORKS (for example metriport,particle)."
    purpose = settings.PARTICLE_PURPOSE_OF_USE
    if not purpose:
        return (
            "PARTICLE_PURPOSE_OF_USE is not set. Particle stays off until the operator names the purpose of use "
            "they are entitled to query under (Particle documents TREATMENT; its SDK also lists PAYMENT and "
            "OPERATIONS)."
        )
    if purpose not in PURPOSES:
        return f"PARTICLE_PURPOSE_OF_USE is {purpose[:40]!r}, which is not a purpose Particle documents: " + ", ".join(
            PURPOSES
        )
    missing = [
        name
        for name, value in (
            ("PARTICLE_BASE_URL", settings.PARTICLE_BASE_URL),
            ("PARTICLE_CLIENT_ID", settings.PARTICLE_CLIENT_ID),
            ("PARTICLE_CLIENT_SECRET", settings.PARTICLE_CLIENT_SECRET),
            ("PARTICLE_WEBHOOK_SECRET", settings.PARTICLE_WEBHOOK_SECRET),
        )
        if not value
    ]
    if missing:
        return "Particle is off: " + ", ".join(missing) + " must be set."
    return ""


# ---- reading answers -----------------------------------------------------------------------------


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT, read without checking its signature (only to know when to renew)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = msgspec.json.decode(base64.urlsafe_b64decode(payload))
    except (ValueError, msgspec.DecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


class TokenAnswer(msgspec.Struct):
    access_token: str = ""
    token: str = ""
    expires_in: float | None = None


def token_read(response: httpx.Response, now: float) -> Token:
    """A token from any documented answer: a bare JWT, JSON, or `access_token=...&expires_in=...`."""
    text = response.text.strip()
    value, lifetime = "", None
    if text.startswith("{"):
        try:
            answer = msgspec.json.decode(text, type=TokenAnswer, strict=False)
        except (msgspec.DecodeError, msgspec.ValidationError):
            answer = TokenAnswer()
        value, lifetime = answer.access_token or answer.token, answer.expires_in
    elif text.startswith("access_token="):
        form = parse_qs(text)
        value = (form.get("access_token") or [""])[0]
        try:
            lifetime = float((form.get("expires_in") or [""])[0])
        except ValueError:
            lifetime = None
    else:
        value = text.strip('"')
    if not value or any(ch.isspace() for ch in value):
        raise NetworkTransientError("GET /auth: HTTP 200 without a token", status=response.status_code)
    expires = now + lifetime if lifetime else jwt_expiry(value)
    if expires is None:
        expires = now + TOKEN_DEFAULT_LIFETIME_SECONDS
    return Token(value=value, expires_at=expires, fetched_at=now)


def problem_detail(response: httpx.Response) -> tuple[str, str]:
    """The error's name and message, read defensively (Particle answers JSON or plain text)."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    name = body.get("error") or body.get("title") or body.get("name") or ""
    detail = body.get("message") or body.get("detail") or body.get("error_description") or ""
    return str(name)[:200], str(detail)[:1000]


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


# ---- the client ----------------------------------------------------------------------------------


class ParticleClient:
    """A typed wrapper over Particle's Query API; one instance may be reused across calls."""

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        scope: str = "",
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        tokens: TokenCache | None = None,
        clock: Any = time.time,
        results_max_bytes: int = 512 * 1024 * 1024,
    ):
        self.base_url = base_url.rstrip("/")
        self.results_max_bytes = results_max_bytes
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.tokens = TOKENS if tokens is None else tokens
        self.clock = clock
        self.http = hardened_client(
            base_url=self.base_url,
            headers={"user-agent": "Homeport"},
            timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout),
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ParticleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    @property
    def token_key(self) -> tuple[str, str, str]:
        return (self.base_url, self.client_id, self.scope)

    def send(
        self, label: str, method: str, path: str, *, limit: int = ANSWER_MAX_BYTES, **kwargs: Any
    ) -> httpx.Response:
        """One exchange, its answer read as a stream and refused beyond `limit` bytes (once decoded)."""
        try:
            request = self.http.build_request(method, path, **kwargs)
            streamed = self.http.send(request, stream=True)
            try:
                body = bytearray()
                for chunk in streamed.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise NetworkPermanentError(
                            f"{label}: answer larger than {limit} bytes", status=streamed.status_code, name="too_large"
                        )
            finally:
                streamed.close()
        except httpx.TimeoutException as exc:
            raise NetworkTransientError(f"{label}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise NetworkTransientError(f"{label}: connection failed ({type(exc).__name__})") from None
        headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in DECODED_HEADERS]
        return httpx.Response(streamed.status_code, headers=headers, content=bytes(body), request=request)

    def token(self, *, renew: bool = False) -> str:
        """A token that stays valid for a while: the cached one, else a fresh one from `GET /auth`."""
        now = self.clock()
        cached = None if renew else self.tokens.get(self.token_key)
        if cached is not None and cached.fresh(now):
            return cached.value
        headers = {"client-id": self.client_id, "client-secret": self.client_secret, "accept": "text/plain"}
        if self.scope:
            headers["scope"] = self.scope
        response = self.send("GET /auth", "GET", "/auth", headers=headers)
        status = response.status_code
        if status == 429 or status >= 500:
            raise NetworkTransientError(f"GET /auth: HTTP {status}", status=status, retry_after=retry_after(response))
        if status != 200:
            raise NetworkPermanentError(
                f"GET /auth: HTTP {status}",
                status=status,
                name="auth",
                detail="Homeport could not sign in to Particle. Staff have to check its client id and secret.",
            )
        token = token_read(response, now)
        self.tokens.put(self.token_key, token)
        return token.value

    def request(
        self,
        method: str,
        path: str,
        *,
        template: str,
        params: dict[str, str] | None = None,
        json: Any = None,
        accept: str = "application/json",
        limit: int = ANSWER_MAX_BYTES,
    ) -> httpx.Response:
        """An authenticated call; a 401 renews the token once and tries again."""
        label = f"{method} {template}"
        response = None
        for attempt in range(2):
            token = self.token(renew=attempt > 0)
            response = self.send(
                label,
                method,
                path,
                params=params,
                json=json,
                headers={"authorization": f"Bearer {token}", "accept": accept},
                limit=limit,
            )
            if response.status_code != 401:
                break
            self.tokens.drop(self.token_key, token)
        assert response is not None
        status = response.status_code
        if status == 429 or status >= 500:
            name, detail = problem_detail(response)
            raise NetworkTransientError(
                f"{label}: HTTP {status}",
                status=status,
                name=name,
                detail=detail,
                retry_after=retry_after(response),
            )
        if 300 <= status < 400:
            raise NetworkPermanentError(f"{label}: unexpected redirect HTTP {status}", status=status)
        if status >= 400:
            name, detail = problem_detail(response)
            raise NetworkPermanentError(f"{label}: HTTP {status}", status=status, name=name, detail=detail)
        return response

    def decode(self, response: httpx.Response, kind: type[Any], label: str) -> Any:
        try:
            return msgspec.json.decode(response.content, type=kind, strict=False)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise NetworkTransientError(
                f"{label}: HTTP {response.status_code} with an answer that is not understood",
                status=response.status_code,
            ) from None

    # -- patients ----------------------------------------------------------------------------

    def patient_register(self, *, patient: ParticlePatient) -> RegisteredPatient:
        """Register (or, with the same `patient_id` and demographics, find again) a person."""
        response = self.request(
            "POST", "/api/v2/patients", template="/api/v2/patients", json=msgspec.to_builtins(patient)
        )
        return self.decode(response, RegisteredPatient, "POST /api/v2/patients")

    def patient_delete(self, *, particle_patient_id: str) -> None:
        """Remove the person at Particle; one that is already gone counts as removed."""
        try:
            self.request(
                "DELETE",
                f"/api/v2/patients/{particle_patient_id}",
                template="/api/v2/patients/{id}",
            )
        except NetworkPermanentError as exc:
            if exc.status != 404:
                raise

    # -- queries -----------------------------------------------------------------------------

    def query_submit(
        self,
        *,
        particle_patient_id: str,
        purpose_of_use: str,
        specialties: list[str] | None = None,
        hints: dict[str, str] | list[str] | None = None,
    ) -> SubmittedQuery:
        """Start a query under the operator's purpose of use (never a default of ours)."""
        if purpose_of_use not in PURPOSES:
            raise refusal("purpose_of_use", "Particle is not set up with a purpose of use Homeport may send.")
        body: dict[str, Any] = {"purpose_of_use": purpose_of_use}
        if specialties:
            body["specialties"] = list(specialties)
        if hints:
            body["hints"] = hints
        response = self.request(
            "POST",
            f"/api/v2/patients/{particle_patient_id}/query",
            template="/api/v2/patients/{id}/query",
            json=body,
        )
        return self.decode(response, SubmittedQuery, "POST /api/v2/patients/{id}/query")

    def query_status(
        self,
        *,
        particle_patient_id: str,
        query_id: str = "",
        submitted_at: float | None = None,
    ) -> QueryStatus:
        """The query's state. A 404 within the grace after `submitted_at` (epoch seconds) is transient."""
        try:
            response = self.request(
                "GET",
                f"/api/v2/patients/{particle_patient_id}/query",
                template="/api/v2/patients/{id}/query",
                params={"query_id": query_id} if query_id else None,
            )
        except NetworkPermanentError as exc:
            recent = submitted_at is not None and self.clock() - submitted_at < STATUS_404_GRACE_SECONDS
            if exc.status == 404 and recent:
                raise NetworkTransientError(
                    "GET /api/v2/patients/{id}/query: HTTP 404 right after the submit",
                    status=404,
                    retry_after=STATUS_404_RETRY_SECONDS,
                ) from None
            raise
        return self.decode(response, QueryStatus, "GET /api/v2/patients/{id}/query")

    # -- results -----------------------------------------------------------------------------

    def fhir_bundle(self, *, particle_patient_id: str) -> bytes:
        """The FHIR R4 bundle as raw JSON bytes (the records ingest parses it, streaming)."""
        response = self.request(
            "GET",
            f"/api/v2/patients/{particle_patient_id}/fhir",
            template="/api/v2/patients/{id}/fhir",
            limit=self.results_max_bytes,
        )
        if not response.content.lstrip().startswith(b"{"):
            raise NetworkTransientError("GET /api/v2/patients/{id}/fhir: HTTP 200 without a JSON bundle", status=200)
        return response.content

    def ccda_zip(self, *, particle_patient_id: str) -> bytes:
        """The ZIP of C-CDA documents; empty bytes when Particle has none (204 or an empty body)."""
        response = self.request(
            "GET",
            f"/api/v2/patients/{particle_patient_id}/ccda",
            template="/api/v2/patients/{id}/ccda",
            accept="application/zip, application/octet-stream",
            limit=self.results_max_bytes,
        )
        content = response.content
        if response.status_code == 204 or not content:
            return b""
        if not content.startswith(b"PK"):
            raise NetworkTransientError("GET /api/v2/patients/{id}/ccda: HTTP 200 without a ZIP", status=200)
        return content


_transport_override: httpx.BaseTransport | None = None


def client() -> ParticleClient:
    """A client configured from settings; tests replace the transport with `use_transport`."""
    return ParticleClient(
        base_url=settings.PARTICLE_BASE_URL,
        client_id=settings.PARTICLE_CLIENT_ID,
        client_secret=settings.PARTICLE_CLIENT_SECRET,
        scope=settings.PARTICLE_SCOPE,
        connect_timeout=settings.PARTICLE_CONNECT_TIMEOUT,
        read_timeout=settings.PARTICLE_READ_TIMEOUT,
        transport=_transport_override,
        results_max_bytes=settings.RECORDS_DOWNLOAD_MAX_BYTES,
    )


def use_transport(transport: httpx.BaseTransport | None) -> None:
    """Route every `client()` through `transport` (tests fake the network at this boundary)."""
    global _transport_override
    _transport_override = transport
    TOKENS.clear()
