from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class IasConfig(AppConfig):
    name = "ias"
    verbose_name = gettext_lazy("Network (IAS)")
    default_auto_field = "django.db.models.BigAutoField"
