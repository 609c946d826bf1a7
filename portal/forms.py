"""Forms for the person's account: preferences, confirming consent revocation and account deletion."""

from typing import cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.timezones import US_TIME_ZONES, all_time_zones


class ConsentRevokeForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I want to withdraw my consent. Homeport will not ask the health networks for my records again."),
        required=True,
        error_messages={"required": _("Tick the box to confirm that you want to withdraw your consent.")},
    )


class AccountDeleteForm(forms.Form):
    """The person types DELETE or their own email address: deletion cannot be undone."""

    confirmation = forms.CharField(
        label=_("To confirm, type DELETE or your email address"),
        max_length=254,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_confirmation(self) -> str:
        value = self.cleaned_data["confirmation"]
        if value == "DELETE" or value.lower() == self.email.lower():
            return value
        raise forms.ValidationError(_("That does not match. Type DELETE in capital letters, or your email address."))


class PreferencesForm(forms.Form):
    """Language, how the record is shown (time zone, units for vitals) and whether to send notice emails."""

    FROM_ADDRESS = "address"

    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        required=False,
        help_text=_("Pages and emails from Homeport are in this language."),
        error_messages={
            "required": _("Choose a language from the list."),
            "invalid_choice": _("Choose a language from the list."),
        },
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Times in your record are shown in this time zone."),
        error_messages={
            "required": _("Choose a time zone from the list."),
            "invalid_choice": _("Choose a time zone from the list."),
        },
    )
    measurement_units = forms.ChoiceField(
        label=_("Units for weight, height and temperature"),
        choices=[(User.UNITS_US, _("US (lb, ft and in, °F)")), (User.UNITS_METRIC, _("Metric (kg, cm, °C)"))],
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose US or metric units."),
            "invalid_choice": _("Choose US or metric units."),
        },
    )
    email_notifications = forms.BooleanField(
        label=_("Email me when my records are ready or a search fails"),
        required=False,
    )

    def __init__(self, *args, address_zone: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        us_names = {name for name, _label in US_TIME_ZONES}
        if address_zone:
            from_address = str(_("From my address (%(zone)s)")) % {"zone": address_zone.replace("_", " ")}
        else:
            from_address = str(_("From my address"))
        time_zone = cast(forms.ChoiceField, self.fields["time_zone"])  # declared as a ChoiceField above
        time_zone.choices = [
            (self.FROM_ADDRESS, from_address),
            (_("US time zones"), list(US_TIME_ZONES)),
            (_("All time zones"), [(z, z.replace("_", " ")) for z in all_time_zones() if z not in us_names]),
        ]

    def clean_time_zone(self) -> str:
        """The zone to store; "" means "follow my address"."""
        value = self.cleaned_data["time_zone"]
        return "" if value == self.FROM_ADDRESS else value
