"""The one module that talks HTTP to Metriport's Medical API: JSON in, JSON out, typed errors.

The errors are `ias.network`'s: `NetworkTransientError` (worth retrying later) and
`NetworkPermanentError` (the request itself is wrong). Nothing but `ias.metriport_network` (Metriport
behind the network seam) calls this client; it decodes each answer into the seam's structs.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
from django.conf import settings

from ias.network import NetworkPermanentError, NetworkTransientError, SourceChoice
from records.http import hardened_client

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 20.0


def sources_body(sources: SourceChoice) -> dict[str, Any]:
    """The `sources` object of Start Network Query."""
    return {name: {"enabled": getattr(sources, name)} for name in ("hie", "pharmacy", "lab")}


def _parse_retry_after(response: httpx.Response) -> float | None:
    """Read the server's retry hint: `Retry-After` (seconds or HTTP date) or `RateLimit-Reset`."""
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    reset = response.headers.get("ratelimit-reset")
    if reset:
        try:
            seconds = float(reset.strip())
        except ValueError:
            return None
        # Some servers send an epoch timestamp rather than a delta.
        if seconds > 10**9:
            seconds -= time.time()
        return max(0.0, seconds)
    return None


def _problem(response: httpx.Response) -> tuple[str, str]:
    """The RFC 7807 `name`/`title` and `detail` of an error response, read defensively."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    name = body.get("name") or body.get("title") or ""
    detail = body.get("detail") or body.get("message") or ""
    return str(name)[:200], str(detail)[:1000]


class MetriportClient:
    """A thin, typed wrapper over the Medical API; one instance may be reused across calls."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ):
        self._http = hardened_client(
            base_url=base_url.rstrip("/"),
            headers={"x-api-key": api_key, "accept": "application/json", "user-agent": "Homeport"},
            timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MetriportClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        label = f"{method} {path.split('?')[0]}"
        try:
            response = self._http.request(method, path, params=clean_params, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            raise NetworkTransientError(f"{label}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise NetworkTransientError(f"{label}: connection failed ({type(exc).__name__})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            name, detail = _problem(response)
            raise NetworkTransientError(
                f"{label}: HTTP {status} {name}".rstrip(),
                status=status,
                name=name,
                detail=detail,
                retry_after=_parse_retry_after(response),
            )
        if 300 <= status < 400:
            raise NetworkPermanentError(f"{label}: unexpected redirect HTTP {status}", status=status)
        if status >= 400:
            name, detail = _problem(response)
            raise NetworkPermanentError(
                f"{label}: HTTP {status} {name}".rstrip(), status=status, name=name, detail=detail
            )
        if status == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise NetworkTransientError(f"{label}: HTTP {status} with a body that is not JSON", status=status) from None

    # -- patients ----------------------------------------------------------------------------

    def patient_create(self, *, facility_id: str, demographics: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", "/medical/v1/patient", params={"facilityId": facility_id}, json=demographics)

    def patient_update(self, *, patient_id: str, facility_id: str, demographics: dict[str, Any]) -> dict[str, Any]:
        return self._request(
            "PUT", f"/medical/v1/patient/{patient_id}", params={"facilityId": facility_id}, json=demographics
        )

    def patient_get(self, *, patient_id: str) -> dict[str, Any]:
        return self._request("GET", f"/medical/v1/patient/{patient_id}")

    def patient_delete(self, *, patient_id: str, facility_id: str) -> None:
        self._request("DELETE", f"/medical/v1/patient/{patient_id}", params={"facilityId": facility_id})

    # -- identity (IAL2) and AAL2 --------------------------------------------------------------

    def identity_session_create(
        self, *, patient_id: str, redirect_url: str, metadata: dict[str, str] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"patientId": patient_id, "redirectUrl": redirect_url}
        if metadata:
            body["metadata"] = metadata
        return self._request("POST", "/medical/v1/identity/session", json=body)

    def identity_session_get(self, *, session_id: str) -> dict[str, Any]:
        """Not in the published API; the fallback poll treats a 404/405 here as "unknown"."""
        return self._request("GET", f"/medical/v1/identity/session/{session_id}")

    def aal2_challenge_create(self, *, proofed_identity_id: str, redirect_url: str) -> dict[str, Any]:
        return self._request(
            "POST",
            "/medical/v1/identity/aal2/challenge",
            json={"proofedIdentityId": proofed_identity_id, "redirectUrl": redirect_url},
        )

    # -- network query ---------------------------------------------------------------------------

    def network_query_start(
        self,
        *,
        patient_id: str,
        proofed_identity_id: str,
        aal2_session_id: str,
        sources: SourceChoice,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"sources": sources_body(sources), "proofedIdentityId": proofed_identity_id}
        if metadata:
            body["metadata"] = metadata
        return self._request(
            "POST",
            "/medical/v1/network/query",
            params={"patientId": patient_id, "purposeOfUse": "ias"},
            json=body,
            headers={"x-aal2-session": aal2_session_id},
        )

    def network_query_get(self, *, request_id: str) -> dict[str, Any]:
        return self._request("GET", f"/medical/v1/network/query/{request_id}")

    # -- consolidated data -------------------------------------------------------------------------

    def consolidated_query_start(
        self,
        *,
        patient_id: str,
        conversion_type: str = "json",
        resources: list[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        params = {
            "conversionType": conversion_type,
            "resources": ",".join(resources) if resources else None,
            "dateFrom": date_from,
            "dateTo": date_to,
        }
        body = {"metadata": metadata} if metadata else {}
        return self._request("POST", f"/medical/v1/patient/{patient_id}/consolidated/query", params=params, json=body)

    def consolidated_query_list(self, *, patient_id: str) -> list[dict[str, Any]]:
        body = self._request("GET", f"/medical/v1/patient/{patient_id}/consolidated/query")
        return list(body.get("queries") or []) if isinstance(body, dict) else []

    def consolidated_query_get(self, *, patient_id: str, request_id: str) -> dict[str, Any]:
        return self._request("GET", f"/medical/v1/patient/{patient_id}/consolidated/query/{request_id}")

    # -- documents ---------------------------------------------------------------------------------

    def documents_list(self, *, patient_id: str) -> dict[str, Any]:
        return self._request("GET", "/medical/v1/document", params={"patientId": patient_id})

    def document_download_url(self, *, file_name: str, conversion_type: str | None = None) -> str:
        body = self._request(
            "GET",
            "/medical/v1/document/download-url",
            params={"fileName": file_name, "conversionType": conversion_type},
        )
        return str(body.get("url", "")) if isinstance(body, dict) else ""

    def document_bulk_download_start(self, *, patient_id: str) -> dict[str, Any]:
        return self._request("POST", "/medical/v1/document/download-url/bulk", params={"patientId": patient_id})

    # -- settings ----------------------------------------------------------------------------------

    def settings_update(self, *, webhook_url: str) -> dict[str, Any]:
        return self._request("POST", "/settings", json={"webhookUrl": webhook_url})

    def settings_webhook_get(self) -> dict[str, Any]:
        return self._request("GET", "/settings/webhook")

    def settings_webhook_retry(self) -> dict[str, Any]:
        return self._request("POST", "/settings/webhook/retry")


_transport_override: httpx.BaseTransport | None = None


def client() -> MetriportClient:
    """A client configured from settings; tests replace the transport with `use_transport`."""
    return MetriportClient(
        base_url=settings.METRIPORT_BASE_URL,
        api_key=settings.METRIPORT_API_KEY,
        connect_timeout=settings.METRIPORT_CONNECT_TIMEOUT,
        read_timeout=settings.METRIPORT_READ_TIMEOUT,
        transport=_transport_override,
    )


def use_transport(transport: httpx.BaseTransport | None) -> None:
    """Route every `client()` through `transport` (tests fake the network at this boundary)."""
    global _transport_override
    _transport_override = transport
