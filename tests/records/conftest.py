"""Record fixtures: bundles from the sandbox generator and small hand-made ones, ingested for a person."""

import tempfile
from pathlib import Path

import orjson
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def ingest_bundle(user, bundle: dict, *, network_source: str = "hie", request_id: str = "req-1", retire: bool = True):
    from records.services import snapshot_ingest_file

    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(orjson.dumps(bundle))
        handle.flush()
        return snapshot_ingest_file(
            user_id=user.pk, path=handle.name, network_source=network_source, request_id=request_id, retire=retire
        )


def load_fixture(name: str) -> dict:
    return orjson.loads((FIXTURES / name).read_bytes())


@pytest.fixture
def small_bundle():
    return load_fixture("small_bundle.json")


def generated(shape: str = "clean", *, size: int = 400) -> dict:
    """A record from the sandbox generator, in one of its shapes (sandbox.generator.SHAPES)."""
    from sandbox.generator import generate_bundle

    return generate_bundle(seed="records-tests", size=size, shape=shape)


@pytest.fixture
def generated_bundle():
    return generated("clean")


@pytest.fixture
def clean_bundle():
    """US Core data only, as the generator always made it."""
    return generated("clean")


@pytest.fixture
def converted_bundle():
    """Every hospital-network resource as Metriport's C-CDA->FHIR converter writes it, plus the
    resource types only converted documents bring (see sandbox.generator.CONVERTER_SHAPES)."""
    return generated("converted")


@pytest.fixture
def mixed_bundle():
    """Clean and converter-shaped data side by side: what the sandbox sends by default."""
    return generated("mixed")


@pytest.fixture(params=["clean", "converted", "mixed"])
def shaped_bundle(request):
    """Each generator shape in turn: a test using it runs once per shape (ids: clean, converted, mixed)."""
    return generated(request.param)


@pytest.fixture
def record_owner(mfa_user, generated_bundle, private_storage_dir):
    ingest_bundle(mfa_user, generated_bundle)
    return mfa_user


@pytest.fixture
def converted_record_owner(mfa_user, converted_bundle, private_storage_dir):
    """A person whose record is the converter-shaped bundle, ingested."""
    ingest_bundle(mfa_user, converted_bundle)
    return mfa_user


@pytest.fixture
def shaped_record_owner(mfa_user, shaped_bundle, private_storage_dir):
    """A person whose record is each generator shape in turn (clean, converted, mixed), ingested."""
    ingest_bundle(mfa_user, shaped_bundle)
    return mfa_user
