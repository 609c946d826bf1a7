"""Recording a source's news reads the query's source rows once, locked, after the query's own row:
the status it derives and the settle it checks use those rows, with the change just made, instead of
asking the database again (each statement is a round trip on the path from webhook to records)."""

import pytest

from ias.models import NetworkQuery, QuerySource
from ias.query_state import source_event_apply, source_records_set
from tests.ias.test_handlers import start_query, verified

pytestmark = pytest.mark.django_db


def statements(captured) -> list[str]:
    return [q["sql"].split(" ", 1)[0] + (" FOR UPDATE" if "FOR UPDATE" in q["sql"] else "") for q in captured]


def sources_read(captured) -> int:
    selects = [q["sql"] for q in captured if q["sql"].startswith("SELECT")]
    return sum(1 for sql in selects if '"ias_querysource"' in sql.split("WHERE")[0])


def test_a_source_saving_reads_the_sources_once(mfa_user, network, no_enqueue, django_assert_max_num_queries):
    """At most 7 statements (PostgreSQL adds one that lets this commit skip the disk wait)."""
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    with django_assert_max_num_queries(7) as captured:
        _query_id, source_id = source_event_apply(
            user_id=mfa_user.pk,
            request_id=query.request_id,
            query_ref="",
            source_type="lab",
            status="completed",
            completed_at=None,
            first_data=False,
            records=QuerySource.Records.SAVING,
        )
    assert sources_read(captured) == 1, statements(captured)
    lab = QuerySource.objects.get(pk=source_id)
    assert (lab.status, lab.records) == (QuerySource.Status.COMPLETED, QuerySource.Records.SAVING)


def test_the_last_source_saved_settles_the_query_from_the_rows_it_holds(
    mfa_user, network, no_enqueue, django_assert_max_num_queries
):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    ids = {}
    for source in ("hie", "pharmacy", "lab"):
        _, ids[source] = source_event_apply(
            user_id=mfa_user.pk,
            request_id=query.request_id,
            query_ref="",
            source_type=source,
            status="completed",
            completed_at=None,
            first_data=False,
            records=QuerySource.Records.SAVING,
        )
    source_records_set(source_id=ids["hie"], records=QuerySource.Records.FETCHED, saved=3, query_id=query.pk)
    source_records_set(source_id=ids["pharmacy"], records=QuerySource.Records.EMPTY, query_id=query.pk)
    assert NetworkQuery.objects.get(pk=query.pk).settled_at is None
    with django_assert_max_num_queries(8) as captured:
        source_records_set(source_id=ids["lab"], records=QuerySource.Records.FETCHED, saved=5, query_id=query.pk)
    assert sources_read(captured) == 1, statements(captured)
    settled = NetworkQuery.objects.get(pk=query.pk)
    assert settled.status == NetworkQuery.Status.COMPLETED
    assert settled.settled_at is not None


def test_a_source_of_another_query_is_refused(mfa_user, network, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    other = NetworkQuery.objects.create(user=mfa_user, kind=NetworkQuery.Kind.NETWORK)
    stranger = QuerySource.objects.create(query=other, source_type="hie")
    with pytest.raises(QuerySource.DoesNotExist):
        source_records_set(source_id=stranger.pk, records=QuerySource.Records.FETCHED, query_id=query.pk)
