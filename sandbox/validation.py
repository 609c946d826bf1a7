"""Request validation for the sandbox API; every failure names the offending field."""

from __future__ import annotations

import json
import re
from datetime import date
from urllib.parse import urlsplit

from sandbox.problems import bad

US_STATES = {
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
    "PR",
    "VI",
    "GU",
    "AS",
    "MP",
}
SOURCES = ("hie", "pharmacy", "lab")
_ZIP = re.compile(r"^\d{5}$")
_PHONE = re.compile(r"^\d{10}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def json_body(request, *, required: bool = True) -> dict:
    if not request.body:
        if required:
            raise bad("body", "A JSON object body is required")
        return {}
    try:
        body = json.loads(request.body)
    except ValueError:
        raise bad("body", "The body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad("body", "The body must be a JSON object")
    return body


def text(body: dict, field: str, *, required: bool = True, max_len: int = 200) -> str:
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise bad(field, f"{field} is required")
        return ""
    if not isinstance(value, str) or not value.strip():
        raise bad(field, f"{field} must be a non-empty string")
    if len(value) > max_len:
        raise bad(field, f"{field} must be at most {max_len} characters")
    return value.strip()


def iso_date(value: object, field: str, *, past: bool = False) -> str:
    if not isinstance(value, str) or not _DATE.match(value):
        raise bad(field, f"{field} must be a date in the form YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise bad(field, f"{field} is not a valid calendar date") from None
    if past and parsed > date.today():
        raise bad(field, f"{field} cannot be in the future")
    return value


def url(value, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise bad(field, f"{field} is required")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad(field, f"{field} must be an absolute http(s) URL")
    if len(value) > 1000:
        raise bad(field, f"{field} is too long")
    return value


def metadata(value, field: str = "metadata") -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad(field, f"{field} must be an object of string pairs")
    if len(value) > 50:
        raise bad(field, f"{field} may hold at most 50 pairs")
    for key, item in value.items():
        if len(key) > 40:
            raise bad(f"{field}.{key[:40]}", "metadata keys must be at most 40 characters")
        if not isinstance(item, str):
            raise bad(f"{field}.{key}", "metadata values must be strings")
        if len(item) > 500:
            raise bad(f"{field}.{key}", "metadata values must be at most 500 characters")
    return value


def patient(body: dict) -> dict:
    """A validated copy of a Create/Update Patient body."""
    out: dict = {"firstName": text(body, "firstName"), "lastName": text(body, "lastName")}
    out["dob"] = iso_date(body.get("dob"), "dob", past=True) if body.get("dob") else None
    if not out["dob"]:
        raise bad("dob", "dob is required")
    gender = body.get("genderAtBirth")
    if gender not in ("M", "F", "O", "U"):
        raise bad("genderAtBirth", "genderAtBirth must be one of M, F, O, U")
    out["genderAtBirth"] = gender
    addresses = body.get("address")
    if isinstance(addresses, dict):
        addresses = [addresses]
    if not isinstance(addresses, list) or not addresses:
        raise bad("address", "address must be a non-empty list")
    out["address"] = []
    for i, addr in enumerate(addresses):
        f = f"address[{i}]"
        if not isinstance(addr, dict):
            raise bad(f, f"{f} must be an object")
        clean = {"addressLine1": text(addr, "addressLine1") if addr.get("addressLine1") else ""}
        if not clean["addressLine1"]:
            raise bad(f"{f}.addressLine1", f"{f}.addressLine1 is required")
        if addr.get("addressLine2"):
            if not isinstance(addr["addressLine2"], str):
                raise bad(f"{f}.addressLine2", f"{f}.addressLine2 must be a string")
            clean["addressLine2"] = addr["addressLine2"].strip()
        if not isinstance(addr.get("city"), str) or not addr["city"].strip():
            raise bad(f"{f}.city", f"{f}.city is required")
        clean["city"] = addr["city"].strip()
        state = addr.get("state")
        if not isinstance(state, str) or state.upper() not in US_STATES:
            raise bad(f"{f}.state", f"{f}.state must be a 2-letter US state code")
        clean["state"] = state.upper()
        zip_code = addr.get("zip")
        if not isinstance(zip_code, str) or not _ZIP.match(zip_code):
            raise bad(f"{f}.zip", f"{f}.zip must be 5 digits")
        clean["zip"] = zip_code
        country = addr.get("country") or "USA"
        if country != "USA":
            raise bad(f"{f}.country", f"{f}.country must be USA")
        clean["country"] = country
        out["address"].append(clean)
    contacts = body.get("contact")
    if contacts is not None:
        if isinstance(contacts, dict):
            contacts = [contacts]
        if not isinstance(contacts, list):
            raise bad("contact", "contact must be a list")
        out["contact"] = []
        for i, c in enumerate(contacts):
            f = f"contact[{i}]"
            if not isinstance(c, dict) or not (c.get("phone") or c.get("email")):
                raise bad(f, f"{f} needs a phone or an email")
            clean = {}
            if c.get("phone"):
                phone = re.sub(r"\D", "", str(c["phone"]))
                if not _PHONE.match(phone):
                    raise bad(f"{f}.phone", f"{f}.phone must be 10 digits")
                clean["phone"] = phone
            if c.get("email"):
                if not isinstance(c["email"], str) or not _EMAIL.match(c["email"]):
                    raise bad(f"{f}.email", f"{f}.email is not a valid email address")
                clean["email"] = c["email"]
            out["contact"].append(clean)
    idents = body.get("personalIdentifiers")
    if idents is not None:
        if isinstance(idents, dict):
            idents = [idents]
        if not isinstance(idents, list):
            raise bad("personalIdentifiers", "personalIdentifiers must be a list")
        out["personalIdentifiers"] = []
        for i, ident in enumerate(idents):
            f = f"personalIdentifiers[{i}]"
            if not isinstance(ident, dict) or ident.get("type") not in ("driversLicense", "ssn"):
                raise bad(f"{f}.type", f"{f}.type must be driversLicense or ssn")
            if not isinstance(ident.get("value"), str) or not ident["value"].strip():
                raise bad(f"{f}.value", f"{f}.value is required")
            clean = {"type": ident["type"], "value": ident["value"].strip()}
            if ident["type"] == "driversLicense":
                if not isinstance(ident.get("state"), str) or ident["state"].upper() not in US_STATES:
                    raise bad(f"{f}.state", f"{f}.state must be a 2-letter US state code")
                clean["state"] = ident["state"].upper()
            out["personalIdentifiers"].append(clean)
    if body.get("externalId") is not None:
        out["externalId"] = text(body, "externalId", max_len=200)
    return out


def sources(value) -> list[str]:
    """Sources from the object form `{hie: {enabled}}` or the older list form; at least one enabled."""
    if value is None:
        raise bad("sources", "sources is required")
    enabled: list[str] = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            if item not in SOURCES:
                raise bad(f"sources[{i}]", "sources entries must be hie, pharmacy or lab")
            if item not in enabled:
                enabled.append(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in SOURCES:
                raise bad(f"sources.{key}", "sources keys must be hie, pharmacy or lab")
            if not isinstance(item, dict) or not isinstance(item.get("enabled"), bool):
                raise bad(f"sources.{key}.enabled", f"sources.{key}.enabled must be true or false")
            if "realtime" in item and not isinstance(item["realtime"], bool):
                raise bad(f"sources.{key}.realtime", f"sources.{key}.realtime must be true or false")
            if item["enabled"]:
                enabled.append(key)
    else:
        raise bad("sources", "sources must be an object or a list")
    if not enabled:
        raise bad("sources", "sources must enable at least one source")
    return [s for s in SOURCES if s in enabled]
