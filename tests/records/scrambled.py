"""Bundles whose fields have the wrong JSON type here and there, as partners' converters send them."""

from __future__ import annotations

import copy
import random
from typing import Any

from tests.records.conftest import generated

ODD_VALUES: tuple[Any, ...] = (None, "", "  ", 7, 1.5, True, [], {}, "n/a", [None], {"x": 1})


def scramble(node: Any, rng: random.Random, *, top: bool = True) -> None:
    """Some fields, at every depth, dropped or given one of ODD_VALUES; a list made a single item."""
    if isinstance(node, dict):
        for key in list(node):
            if top and key in ("resourceType", "id"):
                continue
            roll = rng.random()
            if roll < 0.08:
                del node[key]
            elif roll < 0.14:
                node[key] = copy.deepcopy(rng.choice(ODD_VALUES))
            elif roll < 0.17 and isinstance(node[key], list) and node[key]:
                node[key] = node[key][0]
            else:
                scramble(node[key], rng, top=False)
    elif isinstance(node, list):
        for item in node:
            scramble(item, rng, top=False)


def scrambled_bundle(shape: str, *, seed: int, size: int = 300) -> dict:
    """A generated record of `shape` with every resource scrambled (its type and id kept)."""
    bundle = generated(shape, size=size)
    rng = random.Random(seed)
    for entry in bundle["entry"]:
        scramble(entry["resource"], rng)
    return bundle
