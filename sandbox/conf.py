"""The sandbox's knobs, read from Django settings.

Each is defined once, with its default, in `portal/settings.py` (the `# --- sandbox ---` and the
sandbox's Particle blocks read them from the environment); tests override them with
`override_settings`. This module only reads and parses them.
"""

from dataclasses import dataclass

from django.conf import settings


def conf(name: str):
    """A sandbox setting by name; each is defined once, with its default, in portal/settings.py."""
    return getattr(settings, name)


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
