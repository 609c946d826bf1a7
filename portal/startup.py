"""What a web process does once, after it has loaded the site and before its first request."""

from __future__ import annotations

import gc

from django.urls import get_resolver


def startup_objects_freeze() -> None:
    """Import every view now (the URLconf names them), then set everything loaded so far aside from
    the garbage collector (`gc.freeze`).

    A web process holds 130,000-300,000 long-lived objects (modules, models, code tables). Every ten
    or so record pages, the objects a page kept alive across the collector's younger passes trigger a
    full collection that walked them all: 40-250 ms of CPU added to one request, the slowest
    requests of the pages benchmark. Frozen objects are never freed, which long-lived ones never are.
    """
    get_resolver().url_patterns  # noqa: B018 - loading the URLconf imports the views
    gc.collect()
    gc.freeze()
