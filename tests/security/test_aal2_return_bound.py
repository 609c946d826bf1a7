"""Item 5 of issue 12: the AAL2 return comes through the browser. Metriport's contract has no
endpoint to confirm an aal2SessionId, so the value is bound instead: it completes only this
person's own open challenge (the `state` in our return URL), an aal2SessionId is accepted once
ever, each AAL2 session starts one query only, and the network checks the session itself (identity
and expiry) when the query starts; its refusal sends the person back to a new challenge."""

import pytest

from ias import aal2, queries
from ias.errors import Aal2Mismatch, Aal2Refused
from ias.models import Aal2Challenge
from ias.network import SourceChoice
from tests.ias.conftest import network, no_enqueue, verified  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

ALL = SourceChoice(hie=True, pharmacy=True, lab=True)


def _pass(user, aal2_session_id: str) -> Aal2Challenge:
    challenge = aal2.aal2_challenge_start(user=user)
    return aal2.aal2_challenge_complete(
        user=user, state=challenge.state, aal2_session_id=aal2_session_id, status="verified"
    )


def test_replaying_an_earlier_aal2_session_id_does_not_pass_a_new_challenge(mfa_user, network, no_enqueue):  # noqa: F811
    verified(mfa_user, "pat_1")
    _pass(mfa_user, "aal2_first")
    queries.network_query_start(user=mfa_user, sources=ALL)
    fresh = aal2.aal2_challenge_start(user=mfa_user)
    with pytest.raises((Aal2Refused, Aal2Mismatch)):
        aal2.aal2_challenge_complete(user=mfa_user, state=fresh.state, aal2_session_id="aal2_first", status="verified")
    fresh.refresh_from_db()
    assert fresh.status != Aal2Challenge.Status.VERIFIED
    with pytest.raises(Aal2Refused):
        queries.network_query_start(user=mfa_user, sources=ALL)
    assert len(network.calls_to("POST", "/medical/v1/network/query")) == 1


def test_someone_elses_aal2_session_id_does_not_pass_my_challenge(mfa_user, other_user, network, no_enqueue):  # noqa: F811
    verified(mfa_user, "pat_1")
    verified(other_user, "pat_2")
    _pass(other_user, "aal2_olive")
    mine = aal2.aal2_challenge_start(user=mfa_user)
    with pytest.raises((Aal2Refused, Aal2Mismatch)):
        aal2.aal2_challenge_complete(user=mfa_user, state=mine.state, aal2_session_id="aal2_olive", status="verified")
    assert not Aal2Challenge.objects.filter(user=mfa_user, status=Aal2Challenge.Status.VERIFIED).exists()


def test_one_aal2_session_starts_one_query(mfa_user, network, no_enqueue):  # noqa: F811
    verified(mfa_user, "pat_1")
    _pass(mfa_user, "aal2_once")
    queries.network_query_start(user=mfa_user, sources=ALL)
    with pytest.raises(Aal2Refused):
        queries.network_query_start(user=mfa_user, sources=ALL)
    sent = [call[4].get("x-aal2-session") for call in network.calls_to("POST", "/medical/v1/network/query")]
    assert sent == ["aal2_once"]


def test_the_networks_refusal_of_the_session_asks_for_a_new_challenge(mfa_user, network, no_enqueue):  # noqa: F811
    import httpx

    verified(mfa_user, "pat_1")
    challenge = _pass(mfa_user, "aal2_forged")
    network.on(
        "POST",
        "/medical/v1/network/query",
        httpx.Response(401, json={"status": 401, "name": "Unauthorized", "detail": "x-aal2-session is not known"}),
    )
    with pytest.raises(Aal2Refused):
        queries.network_query_start(user=mfa_user, sources=ALL)
    challenge.refresh_from_db()
    assert challenge.status == Aal2Challenge.Status.REFUSED
