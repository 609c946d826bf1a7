"""Objects one person owns, per URL name, for the cross-person (IDOR) attacks. Register every new
id-taking page of ours here: the suite fails on one it does not know."""

from __future__ import annotations

import uuid

from django.urls import reverse

from tests.security.urlwalk import REGISTRY, IdCase


def _query(owner, tmp_path):
    from ias.models import NetworkQuery, QuerySource

    query = NetworkQuery.objects.create(user=owner, request_id=f"req-{uuid.uuid4()}", status="processing")
    QuerySource.objects.create(query=query, source_type="hie", status="processing", reason="Owner-only words")
    return {"public_id": query.public_id}


def _aal2_state(owner, tmp_path):
    from ias.models import Aal2Challenge

    challenge = Aal2Challenge.objects.create(user=owner, challenge_id=f"ch-{uuid.uuid4()}", proofed_identity_id="pid")
    return {"state": challenge.state}


def _aal2_refused(response, kwargs, owner) -> None:
    """Someone else's AAL2 state must neither show anything nor complete the owner's challenge."""
    from ias.models import Aal2Challenge

    assert response.status_code in (302, 404), response.status_code
    if response.status_code == 302:
        assert response["Location"] == reverse("ias:aal2")
    challenge = Aal2Challenge.objects.get(state=kwargs["state"])
    assert challenge.status == Aal2Challenge.Status.PENDING
    assert not challenge.aal2_session_id


def _resource(owner, tmp_path, resource_type: str = "Observation"):
    """A record resource of the owner's (ingested through records unless the owner has a record already)."""
    from records.models import Resource
    from tests.security.bundles import ingest_for, person_bundle

    if not Resource.objects.filter(user=owner).exists():
        ingest_for(
            user_id=owner.pk, bundle=person_bundle(label="Owner-Only"), tmp_path=tmp_path, name=f"owner-{owner.pk}.json"
        )
    return Resource.objects.filter(user=owner, resource_type=resource_type).order_by("pk").first()


def _item(owner, tmp_path):
    return {"pk": _resource(owner, tmp_path, "Condition").pk}


def _trend(owner, tmp_path):
    return {"pk": _resource(owner, tmp_path, "Observation").pk}


def _document(owner, tmp_path):
    return {"pk": _resource(owner, tmp_path, "DocumentReference").pk, "index": 0}


def _share(owner, tmp_path):
    from datetime import timedelta

    from records.sharing import share_create

    created = share_create(
        user=owner, label="Owner-only share", scope="summary", categories=[], lifetime=timedelta(days=1)
    )
    return {"pk": created.share.pk}


def _share_refused(response, kwargs, owner) -> None:
    """Someone else's share id: a 404, and the owner's share still works."""
    from records.models import Share

    assert response.status_code == 404, response.status_code
    assert Share.objects.get(pk=kwargs["pk"]).revoked_at is None


REGISTRY.id_cases.update(
    {
        "ias:progress": IdCase(make=_query),
        "ias:progress_status": IdCase(make=_query),
        "ias:source_retry": IdCase(make=_query),
        "ias:aal2_return": IdCase(make=_aal2_state, refused=_aal2_refused, note="state binds the browser"),
        "records:item": IdCase(make=_item),
        "records:trend": IdCase(make=_trend),
        "records:document": IdCase(make=_document),
        "share:revoke": IdCase(make=_share, refused=_share_refused, note="POST only; the owner's share stays"),
        "records:document_read": IdCase(make=_document),
        "records:explain": IdCase(make=_item),
    }
)
