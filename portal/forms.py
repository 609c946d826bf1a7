"""Forms for the person's rights: confirming consent revocation and account deletion."""

from django import forms


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
