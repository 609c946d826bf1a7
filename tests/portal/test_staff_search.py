"""Staff find a person by email, name, network patient id, request id or webhook message id; names
are searchable through keyed hashes only, never stored in clear."""

import pytest
from django.db import connection
from django.urls import reverse

from accounts.models import PersonNameToken
from accounts.selectors import name_token_digest, name_tokens, users_matching_name
from accounts.services import person_name_index
from tests.ias import conftest as ias_fixtures
from tests.portal.staff_story import person_story

pytestmark = pytest.mark.django_db

network = ias_fixtures.network


@pytest.fixture
def story(mfa_user, network):
    return person_story(mfa_user, network=network)


def _found(client, term: str) -> list:
    response = client.get(reverse("admin:accounts_user_changelist"), {"q": term})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_staff_find_a_person_by_every_kind_of_id(staff_client_mfa, mfa_user, other_user, story):
    for term in (
        mfa_user.email,
        "pharmacyfail",
        "Pat Pharmacyfail",
        "PHARMACYFAIL pat",
        story.link.patient_id,
        story.query.request_id,
        story.event.message_id,
    ):
        assert _found(staff_client_mfa, term) == [mfa_user], term
    assert _found(staff_client_mfa, "Pharmacy") == []
    assert _found(staff_client_mfa, "Pat Someoneelse") == []


def test_names_are_stored_only_as_keyed_hashes(mfa_user, story):
    digests = set(PersonNameToken.objects.filter(user=mfa_user).values_list("digest", flat=True))
    assert digests == {name_token_digest("pat"), name_token_digest("pharmacyfail")}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names come from the schema
            for row in cursor.fetchall():
                assert not any(isinstance(value, str) and "Pharmacyfail" in value for value in row), table


def test_the_hash_depends_on_the_secret_key(settings):
    before = name_token_digest("pat")
    settings.SECRET_KEY = "another-secret-key-for-this-test-0123456789abcdef"
    assert name_token_digest("pat") != before


def test_name_tokens_fold_accents_case_and_punctuation(user):
    assert name_tokens("  José-María O'Brien ") == ["jose", "maria", "o", "brien"]
    person_name_index(user=user, names=["José-María", "O'Brien"])
    assert list(users_matching_name(text="jose obrien")) == []
    assert list(users_matching_name(text="JOSE brien")) == [user]
    person_name_index(user=user, names=["Ann", "Lee"])
    assert list(users_matching_name(text="jose")) == []
    assert list(users_matching_name(text="ann lee")) == [user]
