"""The journey's forms. Demographics are validated the way the network validates them, so a
mistake shows next to its field instead of coming back as a refusal from the network."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ias.network import Address, PatientDetails

US_STATES = [
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
    ("AS", "American Samoa"),
    ("GU", "Guam"),
    ("MP", "Northern Mariana Islands"),
    ("PR", "Puerto Rico"),
    ("VI", "U.S. Virgin Islands"),
]
SEX_AT_BIRTH = [("F", _("Female")), ("M", _("Male")), ("O", _("Other")), ("U", _("Unknown / prefer not to say"))]
_NAME = re.compile(r"^[^\d<>{}\[\]\\/@#$%^*=+|~`]+$")


class ConsentForm(forms.Form):
    agree = forms.BooleanField(
        required=True,
        label=_("I agree: fetch my records from the health networks and keep them in Homeport for me."),
        error_messages={"required": _("Tick the box to give your consent, or leave this page if you do not agree.")},
    )


class DemographicsForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100)
    dob = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date"}),
        input_formats=["%Y-%m-%d", "%m/%d/%Y"],
        help_text=_("As on your ID, for example 1980-04-23."),
    )
    gender_at_birth = forms.ChoiceField(label=_("Sex at birth"), choices=SEX_AT_BIRTH)
    address_line1 = forms.CharField(label=_("Street address"), max_length=200)
    address_line2 = forms.CharField(label=_("Apartment, suite"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=100)
    state = forms.ChoiceField(label=_("State"), choices=[("", _("Choose a state")), *US_STATES])
    zip = forms.CharField(label=_("ZIP code"), max_length=10, help_text=_("5 digits."))
    phone = forms.CharField(
        label=_("Mobile phone"), max_length=20, required=False, help_text=_("10 digits, US number.")
    )
    email = forms.EmailField(label=_("Email"), required=False)

    def _clean_name(self, field: str) -> str:
        value = " ".join(self.cleaned_data[field].split())
        if not value:
            raise forms.ValidationError(_("This field is required."))
        if not _NAME.match(value):
            raise forms.ValidationError(_("Use letters, spaces, hyphens and apostrophes only."))
        return value

    def clean_first_name(self) -> str:
        return self._clean_name("first_name")

    def clean_last_name(self) -> str:
        return self._clean_name("last_name")

    def clean_dob(self) -> datetime.date:
        dob = self.cleaned_data["dob"]
        if dob > datetime.date.today():
            raise forms.ValidationError(_("The date of birth cannot be in the future."))
        if dob.year < 1900:
            raise forms.ValidationError(_("Please check the year of birth."))
        return dob

    def clean_address_line1(self) -> str:
        value = " ".join(self.cleaned_data["address_line1"].split())
        if not value:
            raise forms.ValidationError(_("This field is required."))
        return value

    def clean_city(self) -> str:
        value = " ".join(self.cleaned_data["city"].split())
        if not value:
            raise forms.ValidationError(_("This field is required."))
        return value

    def clean_zip(self) -> str:
        value = self.cleaned_data["zip"].strip()
        match = re.fullmatch(r"(\d{5})(?:-\d{4})?", value)
        if not match:
            raise forms.ValidationError(_("Enter a 5-digit ZIP code, for example 02139."))
        return match.group(1)

    def clean_phone(self) -> str:
        digits = re.sub(r"\D", "", self.cleaned_data.get("phone") or "")
        if not digits:
            return ""
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) != 10:
            raise forms.ValidationError(_("Enter a 10-digit US phone number, for example 617-555-0123."))
        return digits

    def to_details(self) -> PatientDetails:
        """What the person told us, in our own words; each network spells it its own way."""
        data = self.cleaned_data
        address = Address(
            line1=data["address_line1"],
            line2=(data.get("address_line2") or "").strip(),
            city=data["city"],
            state=data["state"],
            zip=data["zip"],
        )
        return PatientDetails(
            first_name=data["first_name"],
            last_name=data["last_name"],
            dob=data["dob"].isoformat(),
            gender_at_birth=data["gender_at_birth"],
            address=address,
            phone=data.get("phone") or "",
            email=data.get("email") or "",
        )

    @classmethod
    def initial_from_stored(cls, body: dict[str, Any]) -> dict[str, Any]:
        """The form filled from the details stored when they were last sent (`ias.patients.details_stored`)."""
        if not body:
            return {}
        address = (body.get("address") or [{}])[0]
        contact = (body.get("contact") or [{}])[0]
        return {
            "first_name": body.get("firstName", ""),
            "last_name": body.get("lastName", ""),
            "dob": body.get("dob", ""),
            "gender_at_birth": body.get("genderAtBirth", ""),
            "address_line1": address.get("addressLine1", ""),
            "address_line2": address.get("addressLine2", ""),
            "city": address.get("city", ""),
            "state": address.get("state", ""),
            "zip": address.get("zip", ""),
            "phone": contact.get("phone", ""),
            "email": contact.get("email", ""),
        }


class SourcesForm(forms.Form):
    hie = forms.BooleanField(
        label=_("Health information exchanges (hospitals, clinics, doctors)"), required=False, initial=True
    )
    pharmacy = forms.BooleanField(label=_("Pharmacies (medicines dispensed)"), required=False, initial=True)
    lab = forms.BooleanField(label=_("Laboratories (test results)"), required=False, initial=True)

    def clean(self):
        data = super().clean() or {}
        if not any(data.get(name) for name in ("hie", "pharmacy", "lab")):
            raise forms.ValidationError(_("Choose at least one place to search."))
        return data
