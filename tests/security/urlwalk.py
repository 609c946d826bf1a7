"""Every URL pattern of the project, found by walking the resolver, so the attack suite covers new
pages without being told about them. Registries below say what the walk cannot guess; a new page
that takes an id, or a new page that is neither health-gated nor known to be public, makes a test fail
until it is registered here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

OUR_APPS = ("portal", "ias", "records", "accounts")


@dataclass(frozen=True)
class Route:
    name: str  # namespaced ("records:summary"); "" when the pattern has no name
    route: str  # the pattern text, for messages
    callback: Callable
    kwargs: tuple[tuple[str, str], ...]  # (keyword, converter type) in order
    regex: bool = False

    @property
    def app(self) -> str:
        module = getattr(self.callback, "__module__", "") or ""
        return module.split(".")[0]

    @property
    def namespace(self) -> str:
        return self.name.rsplit(":", 1)[0] if ":" in self.name else ""

    @property
    def ours(self) -> bool:
        return self.app in OUR_APPS

    @property
    def takes_id(self) -> bool:
        return bool(self.kwargs) or (self.regex and bool(re.search(r"\(\?P<", self.route)))

    @property
    def health_gated(self) -> bool:
        return bool(getattr(self.callback, "health_data_required", False))

    @property
    def csrf_exempt(self) -> bool:
        return bool(getattr(self.callback, "csrf_exempt", False))

    def __str__(self) -> str:
        return self.name or self.route


def _converter_type(converter) -> str:
    return type(converter).__name__.replace("Converter", "").lower() or "str"


def _walk(patterns, prefix: str, namespace: str, converters: tuple, regex: bool):
    for entry in patterns:
        pattern = entry.pattern
        is_regex = regex or not isinstance(pattern, RoutePattern)
        here = converters
        if isinstance(pattern, RoutePattern):
            here = converters + tuple((k, _converter_type(v)) for k, v in pattern.converters.items())
        text = prefix + str(pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, text, ns, here, is_regex)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield Route(name=name, route=text, callback=entry.callback, kwargs=here, regex=is_regex)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", "", (), False))


DUMMY_BY_TYPE = {
    "int": "987654",
    "uuid": str(uuid.UUID(int=987654)),
    "slug": "x-y",
    "str": "zz-none",
    "path": "zz/none",
}
DUMMY_BY_NAME = {"app_label": "accounts"}


def dummy_kwargs(route: Route) -> dict[str, str]:
    return {k: DUMMY_BY_NAME.get(k, DUMMY_BY_TYPE.get(t, "zz-none")) for k, t in route.kwargs}


def url_for(route: Route, kwargs: dict | None = None) -> str | None:
    """The URL of `route` with `kwargs` (dummies by default), or None when it cannot be reversed."""
    if not route.name:
        return None
    try:
        return reverse(route.name, kwargs=dummy_kwargs(route) if kwargs is None else kwargs)
    except NoReverseMatch:
        return None


# --- registries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdCase:
    """How to make an object that `owner` owns and the URL kwargs that reach it.

    `make(owner, tmp_path) -> kwargs`. `refused(response, kwargs, owner)` checks another person's
    request; by default it must be a 404.
    """

    make: Callable
    refused: Callable | None = None
    note: str = ""


@dataclass
class Registry:
    id_cases: dict[str, IdCase] = field(default_factory=dict)
    # Our id-taking patterns whose parameter does not name an object some person owns.
    not_owned: dict[str, str] = field(default_factory=dict)
    # Our patterns that may be reached without the health gate, and why.
    ungated: dict[str, str] = field(default_factory=dict)
    # Patterns that may accept a POST without a CSRF token, and why.
    csrf_exempt: dict[str, str] = field(default_factory=dict)
    csrf_exempt_namespaces: dict[str, str] = field(default_factory=dict)


STAFF_ADMIN_GATE = (
    "staff admin: all of /admin/ is behind accounts.middleware.admin_requires_mfa (staff with a fresh second "
    "factor); a person's health data also asks a reason first and is logged (tests/security/test_staff_reads_logged.py)"
)

STAFF_ADMIN_PAGES = (
    "admin:accounts_user_access_reason",
    "admin:accounts_user_journey",
    "admin:accounts_user_journey_act",
    "admin:ias_networkpatient_change",
    "admin:ias_webhookevent_change",
    "admin:records_resource_change",
    "admin:records_share_change",
    "admin:records_snapshot_change",
)

REGISTRY = Registry(
    not_owned={
        **{
            name: "staff admin: the id names a person or their row on purpose; staff only, each read logged"
            for name in STAFF_ADMIN_PAGES
        },
        "privacy_version": "a published notice version, public text",
        "records:category": "a category name (labs, medications, ...): each person sees their own items",
        "share:manifest": "a SMART Health Link's random manifest id: the capability itself",
        "share:file": "a signed, hour-long file token handed out by a manifest answer",
    },
    ungated={
        "home": "public landing page, or the signed-in home with links only",
        "start": "login only: redirects to the next journey step, shows nothing",
        "healthz": "liveness probe: database and broker up or down, no personal data",
        "privacy": "the public privacy notice",
        "privacy_version": "the public privacy notice, earlier versions",
        "set_language": "the header's language switch: public, CSRF-protected; signed in, it stores only the language",
        "account": "login only: sign-in settings, consent state and the access log (no health data)",
        "account_consent_revoke": "login only: withdrawing consent must be simple and never blocked",
        "account_deleted": "public: confirms a deletion after the session has ended",
        "mfa_activate_totp": "setting up the second factor that the gate itself asks for",
        "mfa_add_webauthn": "setting up the second factor that the gate itself asks for",
        "ias:webhook": "the network's signed webhook endpoint (HMAC, no session)",
        "ias:webhook_particle": "Particle's signed CloudEvents endpoint (timestamped HMAC, no session)",
        "share:viewer": "the clinician's SMART Health Link viewer: an empty page, data is decrypted in the browser",
        "share:manifest": "SMART Health Link manifest: capability URL, passcode and lifetime checked by the service",
        "share:file": "a manifest file location: signed short-lived token, ciphertext only",
        **dict.fromkeys(STAFF_ADMIN_PAGES, STAFF_ADMIN_GATE),
    },
    csrf_exempt={
        "ias:webhook": "the network posts without a session; authenticated by HMAC over the raw body",
        "ias:webhook_particle": "Particle posts without a session; authenticated by HMAC over timestamp and raw body",
        "share:manifest": "SMART Health Link receivers POST JSON from any origin without a session or cookie",
    },
    csrf_exempt_namespaces={
        "sandbox": "the stand-in network's API: called with an API key by the portal's server, not a browser",
    },
)
