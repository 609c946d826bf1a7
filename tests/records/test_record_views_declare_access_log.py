"""Every record page declares its access-log line on the gate, so a new one cannot forget it."""

from django.urls import URLResolver, get_resolver, reverse

from records import urls as record_urls


def test_every_record_view_declares_what_it_logs():
    undeclared = [
        pattern.name
        for pattern in record_urls.urlpatterns
        if not isinstance(pattern, URLResolver) and not getattr(pattern.callback, "access_logged", "")
    ]
    assert record_urls.urlpatterns and undeclared == []


def test_the_declared_line_is_written_when_the_page_is_read(client_mfa, mfa_user):
    from accounts.models import AccessLogEntry

    assert getattr(get_resolver().resolve(reverse("records:timeline")).func, "access_logged") == "records:timeline"  # noqa: B009
    assert client_mfa.get(reverse("records:timeline")).status_code == 200
    assert AccessLogEntry.objects.filter(subject=mfa_user, action="records:timeline").count() == 1
