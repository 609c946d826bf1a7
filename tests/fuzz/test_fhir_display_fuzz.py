"""Every public display helper in records.fhir, on arbitrary JSON: no exception escapes, every input gets a
defined answer of the declared kind."""

import inspect
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import anything, resources

fhir = pytest.importorskip("records.fhir")

settings.load_profile("homeport-fuzz")


def _public_functions():
    out = []
    for name, func in inspect.getmembers(fhir, inspect.isfunction):
        if name.startswith("_") or func.__module__ != fhir.__name__:
            continue
        params = list(inspect.signature(func).parameters.values())
        required = [
            p
            for p in params
            if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        # The helpers that take FHIR JSON declare their input as Any (format_number takes a float it made).
        if len(required) == 1 and required[0].annotation in ("Any", typing.Any):
            out.append((name, func))
    return out


FUNCTIONS = _public_functions()

_SIMPLE = {"str": str, "bool": bool, "float": float, "int": int, "list": list, "set": set, "tuple": tuple, "dict": dict}


def _expected_type(func):
    """The declared return type, when it is a plain one we can check."""
    annotation = inspect.signature(func).return_annotation
    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        optional = text.endswith("|None") or text.startswith("None|")
        base = text.replace("|None", "").replace("None|", "").split("[")[0]
        kind = _SIMPLE.get(base) or getattr(fhir, base, None)
        return (kind, optional) if isinstance(kind, type) else (None, True)
    return (annotation if isinstance(annotation, type) else None), True


def test_there_are_helpers_to_fuzz():
    names = {name for name, _ in FUNCTIONS}
    assert {
        "concept_name",
        "resource_name",
        "describe",
        "format_fhir_date",
        "observation_value_text",
        "narrative_text",
    } <= names, names


@pytest.mark.parametrize(("name", "func"), FUNCTIONS, ids=[name for name, _ in FUNCTIONS])
@given(value=anything)
def test_helper_answers_anything(name, func, value):
    result = func(value)
    kind, optional = _expected_type(func)
    if kind is not None and kind is not typing.Any:
        assert isinstance(result, kind) or (optional and result is None), (name, type(result))


@given(
    resource=resources,
    other=anything,
    sex=st.sampled_from(["", "male", "female", "other"]),
    age=st.none() | st.floats(allow_nan=True, allow_infinity=True),
)
def test_describe_with_a_hostile_resolver(resource, other, sex, age):
    """References resolve to arbitrary JSON (a hostile bundle can point anywhere)."""

    def resolve(ref):
        return other

    display = fhir.describe(resource, resolve=resolve, sex=sex, age_years=age)
    assert isinstance(display.name, str) and display.name
    assert isinstance(display.value, str)
    assert isinstance(display.status, str)
    assert isinstance(fhir.resource_name(resource, resolve=resolve), str)
    assert isinstance(fhir.medication_name(resource, resolve=resolve), str)
    assert isinstance(fhir.reference_label(other, resource=resource, resolve=resolve), str)


@given(resource=resources)
def test_narrative_text_never_returns_markup(resource):
    text = fhir.narrative_text(resource)
    assert isinstance(text, str)
    assert "<script" not in text.lower()
