"""A fake of the network at the client boundary (httpx.MockTransport), and webhook body builders."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from ias import metriport, webhooks

_ids = itertools.count(1)


class FakeNetwork:
    """Answers the Medical API calls the journey makes; `route[(method, prefix)]` overrides one."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict, Any, dict]] = []
        self.routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = {}
        self.query_sources = ["hie", "pharmacy", "lab"]
        self.query_errors: list[dict] = []

    def on(self, method: str, prefix: str, handler) -> None:
        if not callable(handler):
            response = handler
            handler = lambda request: response  # noqa: E731
        self.routes[(method, prefix)] = handler

    def calls_to(self, method: str, prefix: str) -> list:
        return [c for c in self.calls if c[0] == method and c[1].startswith(prefix)]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        for root in ("/medical/", "/settings"):
            if root in path:
                path = path[path.index(root) :]
                break
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, path, dict(request.url.params), body, dict(request.headers)))
        for (method, prefix), handler in self.routes.items():
            if method == request.method and path.startswith(prefix):
                return handler(request)
        n = next(_ids)
        if request.method == "POST" and path == "/medical/v1/patient":
            return httpx.Response(201, json={"id": f"pat_{n}", **(body or {})})
        if request.method == "PUT" and path.startswith("/medical/v1/patient/"):
            return httpx.Response(200, json={"id": path.rsplit("/", 1)[-1], **(body or {})})
        if request.method == "DELETE" and path.startswith("/medical/v1/patient/"):
            return httpx.Response(204)
        if path == "/medical/v1/identity/session":
            return httpx.Response(
                200,
                json={"sessionId": f"ids_{n}", "sessionUrl": f"https://idp.test/s/{n}", "status": "pending"},
            )
        if path.startswith("/medical/v1/identity/session/"):
            return httpx.Response(200, json={"sessionId": path.rsplit("/", 1)[-1], "status": "pending"})
        if path == "/medical/v1/identity/aal2/challenge":
            return httpx.Response(
                200,
                json={
                    "challengeId": f"aalc_{n}",
                    "challengeUrl": f"https://idp.test/c/{n}",
                    "method": "totp",
                },
            )
        if path == "/medical/v1/network/query" and request.method == "POST":
            return httpx.Response(
                200,
                json={
                    "requestId": f"req_{n}",
                    "status": "processing",
                    "sources": [
                        {"type": s, "status": "processing", "startedAt": "2026-01-01T00:00:00Z"}
                        for s in self.query_sources
                        if (body or {}).get("sources", {}).get(s, {}).get("enabled")
                    ],
                    "errors": self.query_errors,
                },
            )
        if path.startswith("/medical/v1/network/query/"):
            return httpx.Response(404, json={"status": 404, "name": "NotFound", "detail": "unknown"})
        if path.endswith("/consolidated/query") and request.method == "POST":
            return httpx.Response(200, json={"requestId": f"cq_{n}", "status": "processing"})
        if path == "/settings/webhook/retry":
            return httpx.Response(200, json={})
        return httpx.Response(404, json={"status": 404, "name": "NotFound", "detail": "no fake route"})


def install(network: FakeNetwork) -> None:
    metriport.use_transport(httpx.MockTransport(network))


def envelope(
    event_type: str,
    *,
    message_id: str | None = None,
    request_id: str | None = None,
    when: str = "2026-01-01T10:00:00.000Z",
    data: dict | None = None,
    **rest,
) -> dict:
    meta: dict[str, Any] = {"messageId": message_id or str(uuid.uuid4()), "when": when, "type": event_type}
    if request_id:
        meta["requestId"] = request_id
    if data is not None:
        meta["data"] = data
    return {"meta": meta, **rest}


def source_event(
    source: str,
    *,
    patient_id: str,
    request_id: str,
    status: str = "completed",
    url: str = "https://bundles.test/b.json",
    **kwargs,
) -> dict:
    payload = {
        "patientId": patient_id,
        "consolidatedDataUrl": url,
        "source": {"type": source, "status": status, "completedAt": "2026-01-01T10:00:00Z"},
    }
    return envelope(f"network-query.{source}", request_id=request_id, payload=payload, **kwargs)


def consolidated_event(
    *,
    patient_id: str,
    request_id: str,
    url: str = "https://bundles.test/c.json",
    status: str = "completed",
    **kwargs,
) -> dict:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": []}
    if url:
        bundle["entry"].append(
            {
                "resource": {
                    "resourceType": "DocumentReference",
                    "content": [
                        {"attachment": {"contentType": "application/json", "url": url}},
                        {"attachment": {"contentType": "application/gzip", "url": url + ".gz"}},
                    ],
                }
            }
        )
    return envelope(
        "medical.consolidated-data",
        request_id=request_id,
        patients=[{"patientId": patient_id, "status": status, "bundle": bundle}],
        **kwargs,
    )


def signed(body: dict, key: str | None = None) -> tuple[bytes, str]:
    raw = orjson.dumps(body)
    return raw, webhooks.sign(raw=raw, key=key)


def post_webhook(client, body: dict | bytes, *, signature: str | None = None, **extra):
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    sig = webhooks.sign(raw=raw) if signature is None else signature
    return client.post(
        "/webhooks/metriport/", data=raw, content_type="application/json", HTTP_X_METRIPORT_SIGNATURE=sig, **extra
    )
