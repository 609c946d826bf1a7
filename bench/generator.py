"""Benchmark of the sandbox's synthetic record generator: 1k, 20k and 50k resources.

Prints, per size and shape ("clean", and "mixed", the sandbox's default): resources generated,
JSON bytes, generation seconds and serialisation seconds, then one line of JSON with every figure.
Figures, not assertions.

    .venv/bin/python bench/generator.py
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.generator import generate_bundle

SIZES = (1_000, 20_000, 50_000)
SHAPES = ("clean", "mixed")


def main() -> None:
    figures = []
    for shape, size in ((shape, size) for shape in SHAPES for size in SIZES):
        started = time.perf_counter()
        bundle = generate_bundle(
            seed=f"bench-{size}", size=size, persona="large" if size >= 50_000 else "ordinary", shape=shape
        )
        generated = time.perf_counter() - started
        started = time.perf_counter()
        raw = json.dumps(bundle, separators=(",", ":")).encode()
        serialised = time.perf_counter() - started
        row = {
            "shape": shape,
            "size": size,
            "resources": len(bundle["entry"]),
            "json_bytes": len(raw),
            "generate_seconds": round(generated, 3),
            "json_seconds": round(serialised, 3),
        }
        figures.append(row)
        print(
            f"{shape:>5} {size:>6} asked: {row['resources']:>6} resources, {len(raw) / 1e6:8.2f} MB JSON, "
            f"generated in {generated:6.3f} s, serialised in {serialised:6.3f} s"
        )
    print(json.dumps({"bench": "sandbox.generator", "results": figures}))


if __name__ == "__main__":
    main()
