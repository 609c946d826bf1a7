"""Helpers for tests that talk to the sandbox's Particle: its clock, and httpx over Django."""

from datetime import timedelta

import httpx
from django.test import Client
from django.utils import timezone

from sandbox import particle
from sandbox.models import ParticleQuery


def advance(query_id, *, to):
    """Move a query's clock: `visible`, `running` or `finished` (and run its completion)."""
    query = ParticleQuery.objects.get(pk=query_id)
    past = timezone.now() - timedelta(seconds=1)
    query.visible_at = past
    if to in ("running", "finished"):
        query.running_at = past
    if to == "finished":
        query.finish_at = past
    query.save()
    if to == "finished":
        particle.query_complete(query_id=str(query_id))


class DjangoTransport(httpx.BaseTransport):
    """httpx requests answered by the whole Django stack (middleware, urls, views) in this thread."""

    def __init__(self):
        self.client = Client()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        skip = {"host", "content-length", "content-type"}
        response = self.client.generic(
            request.method,
            request.url.raw_path.decode(),
            data=request.read(),
            content_type=request.headers.get("content-type", ""),
            headers={k: v for k, v in request.headers.items() if k.lower() not in skip},
        )
        return httpx.Response(response.status_code, headers=dict(response.items()), content=response.content)


WEBHOOK_SECRET = "particle-test-webhook"


def particle_through_sandbox(settings, *, webhook_secret: str = WEBHOOK_SECRET) -> None:
    """Settings for the portal's Particle, enabled, talking to the sandbox's Particle in this process
    (pair with `particle.use_transport(DjangoTransport())`)."""
    settings.HOMEPORT_NETWORKS = ["metriport", "particle"]
    settings.PARTICLE_PURPOSE_OF_USE = "TREATMENT"
    settings.PARTICLE_BASE_URL = "http://testserver/sandbox/particle"
    settings.PARTICLE_CLIENT_ID = settings.SANDBOX_PARTICLE_CLIENT_ID = "cid"
    settings.PARTICLE_CLIENT_SECRET = settings.SANDBOX_PARTICLE_CLIENT_SECRET = "csecret"
    settings.PARTICLE_SCOPE = "projects/p1"
    settings.PARTICLE_WEBHOOK_SECRET = settings.SANDBOX_PARTICLE_WEBHOOK_SECRET = webhook_secret
    settings.SANDBOX_FAULTS = []
