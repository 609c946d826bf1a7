"""The language and time zone a record page is drawn in, read once for the page.

A lab page describes about 250 results, and each asked Django for the active language and for the
translation of the same few words ("Final", "High", "Lab result", month names) every time, each
through asgiref's context-local storage: some 2,000 look-ups a page for twenty distinct answers.
Inside `fixed()` (the record views) the language and zone are read once, each sentence is
translated once and `remembered` keeps per-page results (a date in words); outside it every call
goes to Django as before. `speaking` switches the language for a moment with nothing remembered.

`gettext` and `pgettext` keep Django's names so that `makemessages` still finds the sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import TypeVar

from django.utils import timezone, translation

T = TypeVar("T")


@dataclass
class _Page:
    language: str | None
    zone: tzinfo
    translated: dict[str | tuple[str, str], str] = field(default_factory=dict)
    memos: dict[str, dict] = field(default_factory=dict)


_PAGE: ContextVar[_Page | None] = ContextVar("records_page_language", default=None)


def _current_zone() -> tzinfo:
    try:
        return timezone.get_current_timezone()
    except Exception:  # outside a configured Django: show UTC, labelled as such
        return UTC


@contextmanager
def fixed() -> Iterator[None]:
    """While a page is drawn (also a view decorator: `@page_language.fixed()`), its language and
    zone are the ones active when it started; nothing inside may switch them except `speaking`."""
    token = _PAGE.set(_Page(language=translation.get_language(), zone=_current_zone()))
    try:
        yield
    finally:
        _PAGE.reset(token)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """`translation.override(language)`, with every word looked up afresh inside it."""
    with translation.override(language):
        token = _PAGE.set(None)
        try:
            yield
        finally:
            _PAGE.reset(token)


def language() -> str | None:
    """`translation.get_language()`, read once per page."""
    page = _PAGE.get()
    return translation.get_language() if page is None else page.language


def in_spanish() -> bool:
    return (language() or "en")[:2] == "es"


def zone() -> tzinfo:
    """The zone times are shown in: the one activated for this request (the person's), else UTC."""
    page = _PAGE.get()
    return _current_zone() if page is None else page.zone


def gettext(message: str) -> str:
    """`django.utils.translation.gettext`, each sentence translated once per page."""
    page = _PAGE.get()
    if page is None or type(message) is not str:  # a safe or lazy string keeps Django's handling
        return translation.gettext(message)
    found = page.translated.get(message)
    if found is None:
        found = page.translated[message] = translation.gettext(message)
    return found


def pgettext(context: str, message: str) -> str:
    """`django.utils.translation.pgettext`, each sentence translated once per page."""
    page = _PAGE.get()
    if page is None or type(context) is not str or type(message) is not str:
        return translation.pgettext(context, message)
    key = (context, message)
    found = page.translated.get(key)
    if found is None:
        found = page.translated[key] = translation.pgettext(context, message)
    return found


def remembered(name: str) -> dict | None:
    """A dict kept for the rest of the page under `name` (for results that depend only on their
    input, the language and the zone); None outside a page, where nothing is kept."""
    page = _PAGE.get()
    if page is None:
        return None
    memo = page.memos.get(name)
    if memo is None:
        memo = page.memos[name] = {}
    return memo


def once_per_page(name: str, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, kept under (`name`, `key`) for the rest of the page: `key` must hold everything
    the result depends on besides the page's language and zone. Outside a page it is computed each time."""
    memo = remembered(name)
    if memo is None:
        return compute()
    if key in memo:
        return memo[key]
    found = memo[key] = compute()
    return found
