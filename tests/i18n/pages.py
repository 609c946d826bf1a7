"""The pages every language test walks, and how to read a page's visible text.

Each page names its URL and, when needed, a `setup(user)` that puts the signed-in person at the
point of the journey where the page shows (and returns the URL's args). Add a page here and every
language test covers it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from django.utils import timezone


@dataclass(frozen=True)
class Page:
    url_name: str
    signed_in: bool = True
    setup: Callable[[Any], list] | None = None
    query: str = ""
    allow: tuple[str, ...] = field(default_factory=tuple)


def _consented(user) -> list:
    from tests.ias.conftest import consented

    consented(user)
    return []


def _linked(user) -> list:
    from tests.ias.conftest import linked

    linked(user)
    return []


def _identity_pending(user) -> list:
    from ias.models import IdentityVerification
    from tests.ias.conftest import linked

    linked(user)
    IdentityVerification.objects.create(user=user, session_id="ids_wait", status="pending")
    return []


def _verified(user) -> list:
    from tests.ias.conftest import verified

    verified(user)
    return []


def _aal2_passed(user) -> list:
    from tests.ias.conftest import aal2_passed, verified

    verified(user)
    aal2_passed(user)
    return []


def _query_running(user) -> list:
    from ias import wording
    from ias.models import NetworkQuery, QuerySource
    from tests.ias.conftest import verified

    verified(user)
    earlier = NetworkQuery.objects.create(user=user, status="completed", created_at=timezone.now())
    query = NetworkQuery.objects.create(user=user, request_id="req_i18n", status="processing")
    QuerySource.objects.create(query=query, source_type="hie", status="completed", records="fetched")
    refusal = wording.refused_reason(403)
    QuerySource.objects.create(query=query, source_type="pharmacy", status="refused", reason=refusal)
    QuerySource.objects.create(query=query, source_type="lab", status="processing")
    assert earlier.pk != query.pk
    return [query.public_id]


PAGES: list[Page] = [
    Page("home", signed_in=False),
    Page("account_login", signed_in=False),
    Page("account_signup", signed_in=False),
    Page("account_reset_password", signed_in=False),
    Page("privacy", signed_in=False),
    Page("home"),
    Page("account"),
    Page("account_consent_revoke", setup=_consented),
    Page("account_export"),
    Page("account_delete"),
    Page("ias:consent"),
    Page("ias:demographics", setup=_consented),
    Page("ias:identity", setup=_linked),
    Page("ias:identity_wait", setup=_identity_pending),
    Page("ias:aal2", setup=_verified),
    Page("ias:sources", setup=_aal2_passed),
    Page("ias:progress", setup=_query_running),
]

# Words that are the same in both languages or are the person's own data.
ALLOWED = (
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),  # email addresses
    re.compile(r"^(Homeport|Metriport|FHIR|JSON|NDJSON|README)\b"),
)


class _TextNodes(HTMLParser):
    """Visible text nodes (script, style and template contents skipped), whitespace collapsed."""

    SKIP = {"script", "style", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self._skipping:
            self.nodes.append(text)


def text_nodes(html: str) -> list[str]:
    parser = _TextNodes()
    parser.feed(html)
    return parser.nodes


def sentences(html: str, *, allow: tuple[str, ...] = ()) -> set[str]:
    """The text nodes of more than three words: the ones a reader would notice left in English."""
    found = set()
    for node in text_nodes(html):
        if len(node.split()) <= 3 or node in allow:
            continue
        if any(pattern.search(node) for pattern in ALLOWED):
            continue
        found.add(node)
    return found
