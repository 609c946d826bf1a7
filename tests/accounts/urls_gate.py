from django.http import HttpResponse
from django.urls import path

from accounts.decorators import health_data_required
from portal.urls import urlpatterns as portal_urlpatterns


@health_data_required
def gated(request):
    return HttpResponse("health data")


@health_data_required(touch=False)
def gated_poll(request):
    return HttpResponse("status")


urlpatterns = [
    path("test-gated/", gated),
    path("test-gated-poll/", gated_poll),
    *portal_urlpatterns,
]
