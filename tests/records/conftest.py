"""Record fixtures: bundles from the sandbox generator and small hand-made ones, ingested for a person."""

import tempfile
from pathlib import Path

import orjson
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def ingest_bundle(user, bundle: dict, *, network_source: str = "hie", request_id: str = "req-1"):
    from records.services import snapshot_ingest_file

    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(orjson.dumps(bundle))
        handle.flush()
        return snapshot_ingest_file(
            user_id=user.pk, path=handle.name, network_source=network_source, request_id=request_id
        )


def load_fixture(name: str) -> dict:
    return orjson.loads((FIXTURES / name).read_bytes())


@pytest.fixture
def small_bundle():
    return load_fixture("small_bundle.json")


@pytest.fixture
def generated_bundle():
    from sandbox.generator import generate_bundle

    return generate_bundle(seed="records-tests", size=400)


@pytest.fixture
def record_owner(mfa_user, generated_bundle, private_storage_dir):
    ingest_bundle(mfa_user, generated_bundle)
    return mfa_user
