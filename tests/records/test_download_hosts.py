"""The default allow-list takes the network's real presigned links and still refuses everything else.

Metriport hands out consolidated-data and document links presigned (SigV4) for its S3 buckets:
virtual-hosted style per region, the us-east-1 global name, and path style for dotted bucket names.
"""

from datetime import UTC, datetime

import httpx
import orjson
import pytest

from portal.settings import METRIPORT_LINK_HOSTS
from records import download
from records.errors import BundleDownloadError

BUNDLE = orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": []})
KEY = "cx-1/pt-1/cx-1_pt-1_CONSOLIDATED_DATA.json"


def presigned(base: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return (
        f"{base}/{KEY}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20250101%2Fus-west-1"
        f"%2Fs3%2Faws4_request&X-Amz-Date={stamp}&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=0123abcd"
    )


@pytest.fixture(autouse=True)
def default_hosts(settings, monkeypatch):
    settings.RECORDS_DOWNLOAD_ALLOWED_HOSTS = METRIPORT_LINK_HOSTS
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False
    monkeypatch.setattr(download.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("52.219.193.2", 443))])


def fetch(url: str) -> bytes:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=httpx.ByteStream(BUNDLE)))
    result = download.bundle_download(url=url, transport=transport)
    with open(result.path, "rb") as handle:
        data = handle.read()
    download.os.unlink(result.path)
    return data


def test_the_settings_default_is_the_network_list(settings):
    from django.conf import settings as django_settings

    assert django_settings.RECORDS_DOWNLOAD_ALLOWED_HOSTS == METRIPORT_LINK_HOSTS


@pytest.mark.parametrize(
    "base",
    [
        "https://metriport-medical-documents.s3.us-west-1.amazonaws.com",
        "https://metriport-medical-documents.s3.us-east-1.amazonaws.com",
        "https://metriport-medical-documents.s3.us-east-2.amazonaws.com",
        "https://metriport-medical-documents.s3.us-west-2.amazonaws.com",
        "https://documents.s3.amazonaws.com",
        "https://s3.us-west-1.amazonaws.com/metriport.medical.documents",
        "https://s3.us-east-1.amazonaws.com/metriport.medical.documents",
        "https://s3.us-east-2.amazonaws.com/metriport.medical.documents",
        "https://s3.us-west-2.amazonaws.com/metriport.medical.documents",
        "https://s3.amazonaws.com/metriport-medical-documents",
        "https://api.metriport.com/medical/v1/files",
        "https://api.sandbox.metriport.com/medical/v1/files",
    ],
)
def test_a_presigned_link_on_each_network_host_downloads(base):
    assert fetch(presigned(base)) == BUNDLE


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/bundle.json",
        "https://s3.amazonaws.com.evil.example/bundle.json",
        "https://metriport-medical-documents.s3.us-west-1.amazonaws.com.evil.example/b.json",
        "https://bucket.s3.eu-west-1.amazonaws.com/b.json",
        "https://bucket.s3-website-us-west-1.amazonaws.com/b.json",
        "https://d111111abcdef8.cloudfront.net/b.json",
        "https://xs3.amazonaws.com/b.json",
        "https://amazonaws.com/b.json",
        "http://metriport-medical-documents.s3.us-west-1.amazonaws.com/b.json",
        "https://user:pass@metriport-medical-documents.s3.us-west-1.amazonaws.com/b.json",
    ],
)
def test_everything_else_is_refused(url):
    with pytest.raises(BundleDownloadError):
        fetch(url)
