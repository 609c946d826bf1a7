"""The sandbox's knobs, read from Django settings with development defaults.

Every value may be set in `portal/settings.py` (the `# --- sandbox ---` block reads them from the
environment); tests override them with `override_settings`.
"""

from dataclasses import dataclass

from django.conf import settings

DEFAULTS = {
    "SANDBOX_AAL2_TTL_SECONDS": 900,
    "SANDBOX_AAL2_CHALLENGE_TTL_SECONDS": 600,
    "SANDBOX_IDENTITY_SESSION_TTL_SECONDS": 1800,
    "SANDBOX_LINK_TTL_SECONDS": 180,
    "SANDBOX_DOCUMENT_LINK_TTL_SECONDS": 600,
    "SANDBOX_SOURCE_DELAY_SECONDS": {"hie": 2.0, "pharmacy": 3.0, "lab": 4.0},
    "SANDBOX_CONSOLIDATED_DELAY_SECONDS": 1.0,
    "SANDBOX_RATE_LIMITS": {"patient": 15, "query": 20, "consolidated": 120},
    "SANDBOX_ACCOUNT_SOURCES": ["hie", "pharmacy", "lab"],
    "SANDBOX_RECORD_SIZE": 600,
    "SANDBOX_LARGE_RECORD_SIZE": 50000,
    "SANDBOX_RECORD_SHAPE": "mixed",
    "SANDBOX_FAULTS": [],
    "SANDBOX_WEBHOOK_TIMEOUT_SECONDS": 5.0,
    "SANDBOX_PING_TIMEOUT_SECONDS": 2.0,
    "SANDBOX_TASK_QUEUE": "",
    "SANDBOX_API_KEY": "homeport-dev-api-key",
    "SANDBOX_WEBHOOK_URL": "http://localhost:8000/webhooks/metriport/",
    "SANDBOX_WEBHOOK_KEY": "homeport-dev-webhook-key",
    "SANDBOX_PARTICLE_CLIENT_ID": "homeport-dev-particle-client",
    "SANDBOX_PARTICLE_CLIENT_SECRET": "homeport-dev-particle-secret",
    "SANDBOX_PARTICLE_WEBHOOK_URL": "http://localhost:8000/webhooks/particle/",
    "SANDBOX_PARTICLE_WEBHOOK_SECRET": "homeport-dev-particle-webhook",
    "SANDBOX_PARTICLE_TOKEN_TTL_SECONDS": 3600,
    "SANDBOX_PARTICLE_QUERY_DELAY_SECONDS": 3.0,
    "SANDBOX_PARTICLE_STATUS_404_SECONDS": 1.0,
    "SANDBOX_PARTICLE_EVENT_VERSION": "v2",
}


def conf(name: str):
    return getattr(settings, name, DEFAULTS[name])


def pairs(value) -> dict | float:
    """A number, a dict, or the environment's "a=1,b=2" form."""
    if isinstance(value, int | float | dict):
        return value
    text = str(value).strip()
    if "=" not in text:
        return float(text or 0)
    out = {}
    for item in text.split(","):
        key, _, raw = item.partition("=")
        if key.strip():
            out[key.strip()] = float(raw)
    return out


def source_delay(source: str) -> float:
    value = pairs(conf("SANDBOX_SOURCE_DELAY_SECONDS"))
    if isinstance(value, int | float):
        return float(value)
    return float(value.get(source, 2.0))


def rate_limits() -> dict:
    value = pairs(conf("SANDBOX_RATE_LIMITS"))
    return value if isinstance(value, dict) else {}


def account_sources() -> set[str]:
    value = conf("SANDBOX_ACCOUNT_SOURCES")
    if isinstance(value, str):
        value = value.split(",")
    return {item.strip() for item in value if item.strip()}


@dataclass(frozen=True)
class FaultSpec:
    """A fault in force, whether from a `Fault` row or from the SANDBOX_FAULTS setting."""

    kind: str
    target: str = ""
    seconds: float = 5.0


def parse_fault(text: str) -> FaultSpec:
    """`kind[:target][@seconds]`, e.g. "source_fail:pharmacy", "delay@10", "drop:network-query.lab"."""
    seconds = 5.0
    if "@" in text:
        text, raw = text.rsplit("@", 1)
        seconds = float(raw)
    kind, _, target = text.partition(":")
    return FaultSpec(kind=kind.strip(), target=target.strip(), seconds=seconds)


def setting_faults() -> list[FaultSpec]:
    raw = conf("SANDBOX_FAULTS")
    if isinstance(raw, str):
        raw = [item for item in raw.split(",") if item.strip()]
    return [parse_fault(item) if isinstance(item, str) else item for item in raw]
