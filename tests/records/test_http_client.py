"""The hardened client verifies certificates against certifi's roots, with one TLS context per
process: building it loads the roots, which cost every download and network call tens of ms."""

import ssl

from records.http import hardened_client, tls_context


def client_tls_context(client) -> ssl.SSLContext:
    return client._transport._pool._ssl_context


def test_clients_share_one_tls_context():
    with hardened_client(timeout=5) as first, hardened_client(timeout=5, base_url="https://example.org") as second:
        assert client_tls_context(first) is tls_context()
        assert client_tls_context(second) is tls_context()


def test_the_shared_context_verifies_peers_against_loaded_roots():
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] > 100
