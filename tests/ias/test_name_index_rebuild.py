"""`manage.py name_index_rebuild` makes people whose details predate the name index findable by name."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.crypto import encrypt_text
from accounts.models import PersonNameToken
from accounts.selectors import users_matching_name
from tests.ias.conftest import linked

pytestmark = pytest.mark.django_db


def test_rebuild_indexes_names_from_the_encrypted_demographics(mfa_user, other_user):
    link = linked(mfa_user, "pat_old")
    link.demographics_encrypted = encrypt_text(json.dumps({"firstName": "Rosa", "lastName": "Parks-Old"}))
    link.save()
    broken = linked(other_user, "pat_broken")
    broken.demographics_encrypted = "not-a-token"
    broken.save()
    assert list(users_matching_name(text="rosa")) == []

    out = StringIO()
    call_command("name_index_rebuild", stdout=out)
    assert "Indexed the names of 1 people; 1 could not be decrypted." in out.getvalue()
    assert list(users_matching_name(text="Rosa Parks old")) == [mfa_user]
    assert PersonNameToken.objects.filter(user=other_user).count() == 0
