from django.urls import path

from records import views

app_name = "records"

urlpatterns = [
    path("", views.summary, name="summary"),
    path("timeline/", views.timeline, name="timeline"),
    path("access/", views.access_history, name="access_history"),
    path("downloads/", views.downloads, name="downloads"),
    path("downloads/record.json", views.download_bundle, name="download_bundle"),
    path("downloads/record-ndjson.zip", views.download_ndjson, name="download_ndjson"),
    path("downloads/summary.pdf", views.summary_pdf, name="summary_pdf"),
    path("print/", views.print_summary, name="print"),
    path("item/<int:pk>/", views.item, name="item"),
    path("item/<int:pk>/trend/", views.trend, name="trend"),
    path("item/<int:pk>/explain/", views.explain, name="explain"),
    path("item/<int:pk>/document/<int:index>/", views.document, name="document"),
    path("item/<int:pk>/document/<int:index>/read/", views.document_read, name="document_read"),
    path("<slug:category>/", views.category, name="category"),
]
