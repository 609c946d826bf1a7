"""Forms for the person's account: preferences, confirming consent revocation and account deletion."""

from typing import cast

from django import forms

from accounts.models import User
from accounts.timezones import US_TIME_ZONES, all_time_zones


class ConsentRevokeForm(forms.Form):
    confirm = forms.BooleanField(
        label=("I want to withdraw my consent. Homeport will not ask the health networks for my records again."),
        required=True,
        error_messages={"required": "Tick the box to confirm that you want to withdraw your consent."},
    )


class AccountDeleteForm(forms.Form):
    """The person types DELETE or their own email address: deletion cannot be undone."""

    confirmation = forms.CharField(
        label="To confirm, type DELETE or your email address",
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
        raise forms.ValidationError("That does not match. Type DELETE in capital letters, or your email address.")


class PreferencesForm(forms.Form):
    """How the record is shown (time zone, units for vitals) and whether to send notice emails."""

    FROM_ADDRESS = "address"

    time_zone = forms.ChoiceField(
        label="Time zone",
        help_text="Times in your record are shown in this time zone.",
        error_messages={
            "required": "Choose a time zone from the list.",
            "invalid_choice": "Choose a time zone from the list.",
        },
    )
    measurement_units = forms.ChoiceField(
        label="Units for weight, height and temperature",
        choices=User.UNITS_CHOICES,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose US or metric units.",
            "invalid_choice": "Choose US or metric units.",
        },
    )
    email_notifications = forms.BooleanField(
        label="Email me when my records are ready or a search fails",
        required=False,
    )

    def __init__(self, *args, address_zone: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        us_names = {name for name, _label in US_TIME_ZONES}
        from_address = f"From my address ({address_zone.replace('_', ' ')})" if address_zone else "From my address"
        time_zone = cast(forms.ChoiceField, self.fields["time_zone"])  # declared as a ChoiceField above
        time_zone.choices = [
            (self.FROM_ADDRESS, from_address),
            ("US time zones", list(US_TIME_ZONES)),
            ("All time zones", [(z, z.replace("_", " ")) for z in all_time_zones() if z not in us_names]),
        ]

    def clean_time_zone(self) -> str:
        """The zone to store; "" means "follow my address"."""
        value = self.cleaned_data["time_zone"]
        return "" if value == self.FROM_ADDRESS else value
