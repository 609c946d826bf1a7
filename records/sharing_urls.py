from django.urls import path

from records import sharing_views

app_name = "share"

urlpatterns = [
    path("", sharing_views.share_list, name="list"),
    path("new/", sharing_views.share_new, name="new"),
    path("<int:pk>/revoke/", sharing_views.share_revoke, name="revoke"),
    path("view", sharing_views.viewer, name="viewer"),
    path("m/<str:manifest_id>", sharing_views.manifest, name="manifest"),
    path("f/<str:token>", sharing_views.share_file, name="file"),
]
