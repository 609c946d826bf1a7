"""A task queued for a row that is gone by the time it runs (the person deleted their account, or a
message left in the queue names a row this database never had) ends quietly as "gone": it was
logged as an error with a traceback, and the outcome email's task retried it five times."""

import logging

import pytest

from ias import tasks

pytestmark = pytest.mark.django_db

MISSING = 987_654_321


def test_polls_and_the_outcome_email_for_missing_rows_end_as_gone(caplog):
    with caplog.at_level(logging.WARNING):
        assert tasks.identity_poll(verification_id=MISSING) == tasks.GONE
        assert tasks.query_poll(query_id=MISSING) == tasks.GONE
        assert tasks.query_outcome_notify(query_id=MISSING) == tasks.GONE
    assert not [r for r in caplog.records if r.name.startswith(("ias", "celery"))]


def test_a_present_row_is_still_polled(mfa_user):
    from ias.models import NetworkQuery

    query = NetworkQuery.objects.create(user=mfa_user, kind=NetworkQuery.Kind.NETWORK)
    # No request id yet: nothing to ask the network, and the query answers its own status.
    assert tasks.query_poll(query_id=query.pk) == query.status
