"""An ingest holds at most a chunk's worth of a large bundle in memory, never a copy of all of it,
and gives the C heap's free memory back when it is done (bench/ingest.py prints the peak)."""

import mmap
import tracemalloc

import orjson
import pytest

from records import ingest, services
from sandbox.generator import generate_bundle
from tests.records.conftest import ingest_bundle


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "bundle.json"
    path.write_bytes(orjson.dumps(generate_bundle(seed="memory", size=3 * ingest.CHUNK)))
    return path


def _mapped_kib(path) -> int:
    """Resident KiB of this process's mapping of `path` (/proc/self/smaps)."""
    resident, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            if "-" in line.split(" ", 1)[0]:
                inside = line.rstrip().endswith(str(path))
            elif inside and line.startswith("Rss:"):
                resident += int(line.split()[1])
    return resident


def test_splitting_a_bundle_into_entries_copies_none_of_it(bundle_file):
    tracemalloc.start()
    try:
        buffer, entries = ingest.open_bundle(str(bundle_file))
        _, peak = tracemalloc.get_traced_memory()
        assert isinstance(buffer, mmap.mmap)
    finally:
        tracemalloc.stop()
    size = bundle_file.stat().st_size
    assert size > 5_000_000 and len(entries) >= 3 * ingest.CHUNK
    assert peak < size / 4  # the Raw slices point into the map; the entry array is never copied
    del entries
    buffer.close()


def test_each_pass_lets_go_of_the_pages_it_has_read(bundle_file):
    buffer, entries = ingest.open_bundle(str(bundle_file))
    assert isinstance(buffer, mmap.mmap)
    assert _mapped_kib(bundle_file) * 1024 > bundle_file.stat().st_size * 0.9  # the split read all of it
    ingest.pages_release(buffer)
    lookup = ingest.build_lookup(ingest.entries_releasing(entries, buffer))
    assert lookup.resources  # the pass read what the rows point at
    assert _mapped_kib(bundle_file) * 1024 < bundle_file.stat().st_size * 0.1
    stats = ingest.ParseStats()
    for _chunk in ingest.releasing(ingest.iter_rows(entries, lookup, stats), buffer):
        assert _mapped_kib(bundle_file) * 1024 < bundle_file.stat().st_size * 0.5
    assert stats.total == len(entries)
    del entries
    buffer.close()


def test_the_heap_is_given_back_after_a_large_bundle_only(user, generated_bundle, private_storage_dir, monkeypatch):
    """After a bundle of at least HEAP_RETURN_MIN_BYTES, not after a smaller one (whose parse left a
    few MB, and whose save would wait on a walk of the whole heap)."""
    calls = []
    original = ingest.heap_return

    def counted() -> bool:
        calls.append("trim")
        return original()

    monkeypatch.setattr(ingest, "heap_return", counted)
    size = len(orjson.dumps(generated_bundle))
    monkeypatch.setattr(ingest, "HEAP_RETURN_MIN_BYTES", size)
    ingest_bundle(user, generated_bundle)
    assert calls == ["trim"]
    monkeypatch.setattr(ingest, "HEAP_RETURN_MIN_BYTES", size + 1)
    ingest_bundle(user, generated_bundle)
    assert calls == ["trim"]
    assert services.ingest is ingest and original() is True  # glibc on this platform
