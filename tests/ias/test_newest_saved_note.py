"""The note of the newest copy saved: it only moves forward, and its commit does not wait for the disk."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ias.delivery import LinkedBundle, newest_saved_note
from ias.models import NetworkPatient
from tests.ias.conftest import linked


def bundle(data_at, message_id: str) -> LinkedBundle:
    return LinkedBundle(
        url="https://network.example/b", data_at=data_at, message_id=message_id, network_source="hie", request_id="r"
    )


def noted(link: NetworkPatient) -> tuple:
    link.refresh_from_db()
    return link.last_ingested_data_at, link.last_ingested_message_id


@pytest.mark.django_db
def test_the_note_moves_forward_only(mfa_user):
    link = linked(mfa_user, "pat_1")
    now = timezone.now()
    newer, older = now, now - timedelta(minutes=5)
    newest_saved_note(link_id=link.pk, bundle=bundle(newer, "m-newer"))
    assert noted(link) == (newer, "m-newer")
    newest_saved_note(link_id=link.pk, bundle=bundle(older, "m-older"))
    assert noted(link) == (newer, "m-newer")
    # The same moment again is the same copy or one sent alongside it: the later note wins.
    newest_saved_note(link_id=link.pk, bundle=bundle(newer, "m-same-time"))
    assert noted(link) == (newer, "m-same-time")
    newest_saved_note(link_id=link.pk, bundle=bundle(now + timedelta(seconds=1), "m-latest"))
    assert noted(link) == (now + timedelta(seconds=1), "m-latest")


@pytest.mark.django_db
def test_another_persons_note_is_left_alone(mfa_user, django_user_model):
    mine = linked(mfa_user, "pat_1")
    other = linked(django_user_model.objects.create_user(email="other@example.com", password=None), "pat_2")
    newest_saved_note(link_id=mine.pk, bundle=bundle(timezone.now(), "m-1"))
    assert noted(other) == (None, "")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_its_commit_does_not_wait_for_the_disk(mfa_user):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite does not flush on commit (synchronous=NORMAL in WAL mode)")
    link = linked(mfa_user, "pat_1")
    with CaptureQueriesContext(connection) as captured:
        newest_saved_note(link_id=link.pk, bundle=bundle(timezone.now(), "m-1"))
    (statement,) = [q["sql"] for q in captured.captured_queries]
    assert statement.startswith("UPDATE") and "'synchronous_commit', 'off', true" in statement
    assert noted(link)[1] == "m-1"
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"  # the setting lasted one statement's transaction
