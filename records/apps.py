from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = gettext_lazy("Health records")
