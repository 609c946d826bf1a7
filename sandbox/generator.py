"""Synthetic, deterministic US Core-shaped FHIR R4 records for the sandbox network.

Pure Python (stdlib only) so that benchmarks and other apps' tests can import it without Django.

The record is one person's history over up to fifteen years, gathered from several source
organizations reached through three network sources: an HIE (hospital, clinic, urgent care), a
pharmacy network (dispensed medications) and a national lab (lab results). Every clinical
resource names its organization in ``meta.source`` ("Organization/<id>", resolvable in the
bundle) and carries two ``meta.tag`` codings: the network source (``NETWORK_SOURCE_SYSTEM``:
hie | pharmacy | lab) and the source organization (``SOURCE_ORG_SYSTEM``, display = its name).

The data is deliberately as messy as real exchanged data: the same condition and medication
from two organizations, codings without display, text-only concepts, partial dates, glucose in
both mg/dL and mmol/L, ``valueString`` results such as "<5" and an Observation with only
``issued``.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = [
    "CONVERTER_SHAPES",
    "DOC_ID_EXTENSION",
    "NETWORK_SOURCES",
    "NETWORK_SOURCE_SYSTEM",
    "PERSONAS",
    "SHAPES",
    "SOURCE_ORG_SYSTEM",
    "bundle_for_sources",
    "ccda_document",
    "document_body",
    "generate_bundle",
    "persona_for",
    "resource_source",
]

NETWORK_SOURCES = ("hie", "pharmacy", "lab")
NETWORK_SOURCE_SYSTEM = "https://homeport.example/fhir/CodeSystem/network-source"
SOURCE_ORG_SYSTEM = "https://homeport.example/fhir/CodeSystem/source-organization"
# Metriport marks each converted resource with the file name of the document it came from.
DOC_ID_EXTENSION = "https://public.metriport.com/fhir/StructureDefinition/doc-id-extension.json"
# Converted documents are links, not inline data; the network hands out a short-lived link by fileName.
DOCUMENT_URL_BASE = "https://api.sandbox.metriport.com/doc-contribution/commonwell/"

# What a record looks like: "clean" US Core data only; "converted", every hospital-network resource
# as Metriport's C-CDA->FHIR converter writes it plus what only converted documents bring; "mixed",
# both side by side (about half of each hospital organization's resources converted).
SHAPES = ("clean", "converted", "mixed")
# The converter shapes a "converted" or "mixed" record always holds (tests/sandbox checks each one).
CONVERTER_SHAPES = {
    "allergy-substance-only": "AllergyIntolerance without code; the allergen in reaction[].substance",
    "condition-no-clinical-status": "Condition without clinicalStatus or verificationStatus",
    "condition-icd10-only": "Condition coded with ICD-10-CM only, no display, no text",
    "condition-snomed-only": "Condition coded with SNOMED CT only, no display, no text",
    "condition-onset-period": "Condition onset as onsetPeriod.start (an instant in UTC)",
    "procedure-text-only": "Procedure whose code has only text",
    "procedure-note-only": "Procedure without code; what was done is in note[].text",
    "encounter-unlinked": "Encounter that no other resource references",
    "practitioner-inline": "A performer, asserter, author or participant with a display and no reference",
    "practitioner-contained-no-id": "A contained Practitioner without id",
    "instant-utc": "Instants written in UTC with Z (2012-08-15T09:00:00Z, ...T14:13:00.000Z)",
    "instant-near-midnight-utc": "An instant between 00:00Z and 05:00Z: the evening before in the US",
    "ucum-annotation": "UCUM units with annotations or powers of ten (mL/min/{1.73_m2}, 10*9/L, 10*3/uL)",
    "quantity-without-code": "valueQuantity with unit and system but no code",
    "social-history": "Observations in category social-history: smoking status, alcohol",
    "family-history": "FamilyMemberHistory with relationship and conditions (one code-only)",
    "coverage": "Coverage with an inline payor display",
    "care-plan-narrative": "CarePlan with only narrative text and an activity description, no title",
    "goal": "Goal, code-only or text-only description",
    "device": "Device (the authoring system) named only by a coding display",
    "related-person": "RelatedPerson with relationship text and codings",
    "composition": "Composition with sections whose narrative is only the section title",
    "document-ccda-link": "DocumentReference to a C-CDA (text/xml) by url, no inline data",
    "document-pdf-link": "DocumentReference to a PDF by url, no inline data",
    "doc-id-extension": "meta.extension naming the source document's file name",
}

# Personas are chosen from the demographics a tester types in the portal: first name "Pat" and
# one of these last names. Anyone else is "ordinary".
PERSONAS = {
    "ordinary": "An ordinary patient: every source answers with a realistic record.",
    "pharmacyfail": "The pharmacy source fails; HIE and lab answer.",
    "norecords": "No records anywhere: every source completes with nothing but the Patient.",
    "idfail": "Identity proofing always fails on the hosted identity page.",
    "large": "A very large record (about 50,000 resources).",
}
PERSONA_LAST_NAMES = {
    "pharmacyfail": "pharmacyfail",
    "norecords": "norecords",
    "idfail": "idfail",
    "large": "large",
}

ANCHOR = date(2025, 11, 1)  # "today" of the synthetic history: fixed, so output is deterministic

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
NPI = "http://hl7.org/fhir/sid/us-npi"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
COND_CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CAT = "http://terminology.hl7.org/CodeSystem/condition-category"
USCORE = "http://hl7.org/fhir/us/core/StructureDefinition/"

_ORGS = [
    # (key, name, network source, type display, city, state, zip)
    ("riverside", "Riverside Community Hospital", "hie", "Hospital", "Springfield", "IL", "62704"),
    ("lakeview", "Lakeview Family Medicine", "hie", "Outpatient clinic", "Springfield", "IL", "62702"),
    ("prairie", "Prairie Urgent Care", "hie", "Urgent care", "Chatham", "IL", "62629"),
    ("carerx", "CareRx Pharmacy #4471", "pharmacy", "Pharmacy", "Springfield", "IL", "62703"),
    ("northstar", "Northstar Clinical Laboratories", "lab", "Laboratory", "Chicago", "IL", "60601"),
]

_PRACTITIONER_NAMES = [
    ("Maria", "Alvarez", "MD"),
    ("James", "Okafor", "MD"),
    ("Linda", "Nguyen", "DO"),
    ("Robert", "Kowalski", "MD"),
    ("Aisha", "Rahman", "NP"),
    ("David", "Chen", "MD"),
    ("Emily", "Larsen", "PA-C"),
    ("Samuel", "Brooks", "MD"),
    ("Grace", "Patel", "MD"),
    ("Thomas", "Whitfield", "DO"),
    ("Hannah", "Moreau", "NP"),
    ("Victor", "Ibarra", "MD"),
]

_FIRST = {
    "F": ["Olivia", "Emma", "Ava", "Sophia", "Isabella", "Mia", "Evelyn", "Harper", "Linda", "Karen"],
    "M": ["Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry", "Mark"],
}
_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Wilson"]

# (snomed, snomed display, icd10, icd10 display, chronic?)
_CONDITIONS = [
    ("59621000", "Essential hypertension", "I10", "Essential (primary) hypertension", True),
    ("44054006", "Type 2 diabetes mellitus", "E11.9", "Type 2 diabetes mellitus without complications", True),
    ("55822004", "Hyperlipidemia", "E78.5", "Hyperlipidemia, unspecified", True),
    ("700378005", "Chronic kidney disease stage 3a", "N18.31", "Chronic kidney disease, stage 3a", True),
    ("414916001", "Obesity", "E66.9", "Obesity, unspecified", True),
    (
        "235595009",
        "Gastroesophageal reflux disease",
        "K21.9",
        "Gastro-esophageal reflux disease without esophagitis",
        True,
    ),
    ("195967001", "Asthma", "J45.909", "Unspecified asthma, uncomplicated", True),
    ("239873007", "Osteoarthritis of knee", "M17.9", "Osteoarthritis of knee, unspecified", True),
    ("35489007", "Depressive disorder", "F32.A", "Depression, unspecified", True),
    ("197480006", "Anxiety disorder", "F41.9", "Anxiety disorder, unspecified", True),
    ("37796009", "Migraine", "G43.909", "Migraine, unspecified, not intractable", True),
    ("34713006", "Vitamin D deficiency", "E55.9", "Vitamin D deficiency, unspecified", True),
    ("10509002", "Acute bronchitis", "J20.9", "Acute bronchitis, unspecified", False),
    ("44465007", "Sprain of ankle", "S93.409A", "Sprain of unspecified ligament of ankle, initial", False),
    ("444814009", "Viral sinusitis", "J01.90", "Acute sinusitis, unspecified", False),
    ("68566005", "Urinary tract infection", "N39.0", "Urinary tract infection, site not specified", False),
    ("840539006", "COVID-19", "U07.1", "COVID-19", False),
    ("43878008", "Streptococcal sore throat", "J02.0", "Streptococcal pharyngitis", False),
]

# (rxnorm, display, sig, linked condition snomed or None)
_MEDS = [
    ("314076", "lisinopril 10 MG Oral Tablet", "Take 1 tablet by mouth once daily", "59621000"),
    (
        "861007",
        "metformin hydrochloride 500 MG Oral Tablet",
        "Take 1 tablet by mouth twice daily with meals",
        "44054006",
    ),
    ("617310", "atorvastatin 20 MG Oral Tablet", "Take 1 tablet by mouth at bedtime", "55822004"),
    ("197361", "amlodipine 5 MG Oral Tablet", "Take 1 tablet by mouth once daily", "59621000"),
    ("310798", "hydrochlorothiazide 25 MG Oral Tablet", "Take 1 tablet by mouth every morning", "59621000"),
    (
        "198053",
        "omeprazole 20 MG Delayed Release Oral Capsule",
        "Take 1 capsule by mouth before breakfast",
        "235595009",
    ),
    (
        "745679",
        "albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
        "Inhale 2 puffs every 4 hours as needed",
        "195967001",
    ),
    ("312941", "sertraline 50 MG Oral Tablet", "Take 1 tablet by mouth once daily", "35489007"),
    (
        "197806",
        "ibuprofen 600 MG Oral Tablet",
        "Take 1 tablet by mouth every 6 hours as needed for pain",
        "239873007",
    ),
    (
        "308191",
        "amoxicillin 500 MG Oral Capsule",
        "Take 1 capsule by mouth three times daily for 10 days",
        "43878008",
    ),
    ("316965", "cholecalciferol 1000 UNT Oral Tablet", "Take 1 tablet by mouth once daily", "34713006"),
    ("1545658", "empagliflozin 10 MG Oral Tablet", "Take 1 tablet by mouth every morning", "44054006"),
]

_VACCINES = [
    ("140", "Influenza, seasonal, injectable, preservative free", 1),
    ("150", "Influenza, injectable, quadrivalent, preservative free", 1),
    ("208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", 3),
    ("115", "Tdap", 10),
    ("133", "Pneumococcal conjugate PCV 13", 0),
    ("187", "Zoster vaccine recombinant", 0),
    ("43", "Hepatitis B vaccine, adult dosage", 0),
]

_ALLERGIES = [
    ("764146007", "Penicillin", "medication", "247472004", "Hives"),
    ("256349002", "Peanut", "food", "39579001", "Anaphylaxis"),
    ("111088007", "Latex", "environment", "271807003", "Skin rash"),
    ("227037002", "Shellfish", "food", "422587007", "Nausea"),
    ("387406002", "Sulfonamide", "medication", "271807003", "Skin rash"),
]

# (snomed, display, cpt, cpt display)
_PROCEDURES = [
    (
        "29303009",
        "Electrocardiographic procedure",
        "93000",
        "Electrocardiogram, routine ECG with at least 12 leads",
    ),
    ("73761001", "Colonoscopy", "45378", "Colonoscopy, flexible; diagnostic"),
    ("399208008", "Plain chest X-ray", "71046", "Radiologic examination, chest; 2 views"),
    ("71651007", "Mammography", "77067", "Screening mammography, bilateral"),
    ("76164006", "Biopsy of colon", "45380", "Colonoscopy, flexible; with biopsy"),
    ("80146002", "Appendectomy", "44950", "Appendectomy"),
    ("182813001", "Emergency treatment", "99283", "Emergency department visit, moderate severity"),
    ("252160004", "Standard pure tone audiometry", "92552", "Pure tone audiometry, air only"),
]

# (class code, class display, snomed type, type display, cpt, cpt display)
_ENCOUNTER_TYPES = [
    ("AMB", "ambulatory", "185349003", "Encounter for check up", "99396", "Periodic preventive visit, 40-64"),
    (
        "AMB",
        "ambulatory",
        "390906007",
        "Follow-up encounter",
        "99214",
        "Office or other outpatient visit, est. patient, moderate",
    ),
    (
        "AMB",
        "ambulatory",
        "185345009",
        "Encounter for symptom",
        "99213",
        "Office or other outpatient visit, est. patient, low",
    ),
    (
        "EMER",
        "emergency",
        "50849002",
        "Emergency room admission",
        "99284",
        "Emergency department visit, high severity",
    ),
    (
        "IMP",
        "inpatient encounter",
        "183452005",
        "Emergency hospital admission",
        "99223",
        "Initial hospital care, high severity",
    ),
    (
        "VR",
        "virtual",
        "448337001",
        "Telemedicine consultation with patient",
        "99442",
        "Telephone evaluation and management, 11-20 minutes",
    ),
]

# Lab analytes: key -> (loinc, display, ucum unit, low, high, decimals)
_ANALYTES = {
    "glucose": ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 99, 0),
    "bun": ("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", 7, 20, 0),
    "creatinine": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3, 2),
    "egfr": (
        "98979-8",
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma "
        "or Blood by Creatinine-based formula (CKD-EPI 2021)",
        "mL/min/{1.73_m2}",
        60,
        None,
        0,
    ),
    "sodium": ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 136, 145, 0),
    "potassium": ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1, 1),
    "chloride": ("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", 98, 107, 0),
    "co2": ("2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "mmol/L", 22, 29, 0),
    "calcium": ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 8.6, 10.3, 1),
    "protein": ("2885-2", "Protein [Mass/volume] in Serum or Plasma", "g/dL", 6.0, 8.3, 1),
    "albumin": ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 3.5, 5.0, 1),
    "bilirubin": ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 0.1, 1.2, 1),
    "alp": (
        "6768-6",
        "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        44,
        147,
        0,
    ),
    "alt": (
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        7,
        56,
        0,
    ),
    "ast": (
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        10,
        40,
        0,
    ),
    "chol": ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", None, 200, 0),
    "trig": ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", None, 150, 0),
    "hdl": ("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 40, None, 0),
    "ldl": (
        "13457-7",
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
        "mg/dL",
        None,
        100,
        0,
    ),
    "wbc": ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4.5, 11.0, 1),
    "rbc": ("789-8", "Erythrocytes [#/volume] in Blood by Automated count", "10*6/uL", 4.2, 5.9, 2),
    "hgb": ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12.0, 17.5, 1),
    "hct": ("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "%", 36, 53, 1),
    "mcv": ("787-2", "MCV [Entitic volume] by Automated count", "fL", 80, 100, 0),
    "plt": ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150, 400, 0),
    "hba1c": ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.0, 5.6, 1),
    "tsh": ("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "m[IU]/L", 0.4, 4.0, 2),
}
_PANELS = {
    "cmp": (
        "24323-8",
        "Comprehensive metabolic 2000 panel - Serum or Plasma",
        [
            "glucose",
            "bun",
            "creatinine",
            "egfr",
            "sodium",
            "potassium",
            "chloride",
            "co2",
            "calcium",
            "protein",
            "albumin",
            "bilirubin",
            "alp",
            "alt",
            "ast",
        ],
    ),
    "lipid": ("57698-3", "Lipid panel with direct LDL - Serum or Plasma", ["chol", "trig", "hdl", "ldl"]),
    "cbc": ("58410-2", "CBC panel - Blood by Automated count", ["wbc", "rbc", "hgb", "hct", "mcv", "plt"]),
}
_INTERP_DISPLAY = {
    "H": "High",
    "L": "Low",
    "N": "Normal",
    "HH": "Critical high",
    "LL": "Critical low",
    "A": "Abnormal",
}


def persona_for(*, first_name: str = "", last_name: str = "") -> str:
    """The persona a tester selects by typing first name "Pat" and a persona's last name."""
    if (first_name or "").strip().lower() != "pat":
        return "ordinary"
    return PERSONA_LAST_NAMES.get((last_name or "").strip().lower(), "ordinary")


def resource_source(resource: dict) -> str | None:
    """The network source (hie / pharmacy / lab) a generated resource came through, if tagged."""
    for tag in (resource.get("meta") or {}).get("tag") or ():
        if tag.get("system") == NETWORK_SOURCE_SYSTEM:
            return tag.get("code")
    return None


def bundle_for_sources(bundle: dict, sources: Iterable[str]) -> dict:
    """The part of a bundle contributed by the given network sources.

    Untagged resources (Patient, Organizations, Practitioners) are always kept, so each per-source
    webhook can link the bundle as it stands after that source finished.
    """
    wanted = set(sources)
    entries = []
    for entry in bundle.get("entry", ()):
        src = resource_source(entry["resource"])
        if src is None or src in wanted:
            entries.append(entry)
    return {**{k: v for k, v in bundle.items() if k != "entry"}, "total": len(entries), "entry": entries}


def _utc(stamp: str) -> str:
    """An instant as the converter writes it (2012-08-15T14:13:00.000Z); dates stay dates."""
    if len(stamp) <= 10 or "T" not in stamp:
        return stamp
    if len(stamp) == 25 and stamp.endswith("-05:00") and int(stamp[11:13]) < 19:
        # The generator's own local times: the same day in UTC, five hours on (the common, fast case).
        return f"{stamp[:11]}{int(stamp[11:13]) + 5:02d}{stamp[13:19]}.000Z"
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _converted_quantity(quantity: dict) -> dict:
    """A Quantity as the converter writes it: value, unit and system; no code."""
    return {"value": quantity["value"], "unit": quantity.get("unit", ""), "system": UCUM}


def document_body(resource: dict) -> bytes:
    """The file a generated DocumentReference stands for: its inline data, else rebuilt from it.

    Converted documents carry only a link; the sandbox serves their bytes from this, so they are
    the same every time without being stored.
    """
    attachment = resource["content"][0]["attachment"]
    if attachment.get("data"):
        return base64.b64decode(attachment["data"])
    custodian = (resource.get("custodian") or {}).get("display", "")
    day = str(resource.get("date", ""))[:10]
    if attachment.get("contentType") == "application/pdf":
        return minimal_pdf(f"{resource.get('description', 'Document')} - {custodian} - {day}")
    return ccda_document(
        title=f"Continuity of Care Document - {custodian}",
        day=day,
        patient=(resource.get("subject") or {}).get("display", ""),
        author=((resource.get("author") or [{}])[0]).get("display", ""),
        custodian=custodian,
    )


def _seed_int(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _smooth(a: float, b: float, t: float) -> float:
    if t <= a:
        return 0.0
    if t >= b:
        return 1.0
    x = (t - a) / (b - a)
    return x * x * (3 - 2 * x)


class _Gen:
    """One generation run: a seeded RNG, the record's cast and the entries built so far."""

    def __init__(self, *, seed: str, size: int, persona: str, demographics: dict | None, shape: str = "clean"):
        self.rng = random.Random(_seed_int("homeport-sandbox", seed, size, persona))
        # Which clean resources a "mixed" record reshapes: a stream of its own, so "clean" stays as it was.
        self.crng = random.Random(_seed_int("converted", seed, size, persona))
        self.shape = shape
        self.converted_docs: dict[str, str] = {}
        # Demographic choices use their own stream so that the record does not change with size.
        self.drng = random.Random(_seed_int("demographics", seed))
        self.seed = seed
        self.size = size
        self.persona = persona
        self.demographics = demographics or {}
        self.entries: list[dict] = []
        self._counter = 0

    # ---- small builders -------------------------------------------------------------------
    def new_id(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def add(self, resource: dict) -> dict:
        self.entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
        return resource

    def meta(self, org: dict, profile: str | None = None) -> dict:
        meta = {
            "source": org["ref"],
            "tag": [
                {"system": NETWORK_SOURCE_SYSTEM, "code": org["source"], "display": org["source_display"]},
                {"system": SOURCE_ORG_SYSTEM, "code": org["key"], "display": org["name"]},
            ],
        }
        if profile:
            meta["profile"] = [USCORE + profile]
        return meta

    @staticmethod
    def cc(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
        coding = {"system": system, "code": code}
        if display is not None:
            coding["display"] = display
        out: dict = {"coding": [coding]}
        if text is not None:
            out["text"] = text
        return out

    @staticmethod
    def qty(value: float, unit: str) -> dict:
        return {"value": value, "unit": unit, "system": UCUM, "code": unit}

    def when(self, day: date, hour: int | None = None) -> str:
        if hour is None:
            hour = self.rng.randint(7, 17)
        return f"{day.isoformat()}T{hour:02d}:{self.rng.randint(0, 59):02d}:00-05:00"

    def day_at(self, t: float) -> date:
        """The date at fraction t of the patient's history."""
        return self.start + timedelta(days=int(t * self.span_days))

    # ---- cast -----------------------------------------------------------------------------
    def build_patient(self) -> None:
        d = self.demographics
        drng = self.drng
        gender_code = (d.get("genderAtBirth") or drng.choice("MF")).upper()
        gender = {"M": "male", "F": "female", "O": "other"}.get(gender_code, "unknown")
        first = d.get("firstName") or drng.choice(_FIRST["F" if gender_code == "F" else "M"])
        last = d.get("lastName") or drng.choice(_LAST)
        dob = d.get("dob") or date(drng.randint(1950, 1985), drng.randint(1, 12), drng.randint(1, 28)).isoformat()
        try:
            self.birth = date.fromisoformat(dob)
        except ValueError:
            self.birth = date(1970, 1, 1)
        self.gender = gender
        addresses = d.get("address") or [
            {
                "addressLine1": f"{drng.randint(100, 9999)} {drng.choice(['Oak', 'Maple', 'Elm'])} St",
                "city": "Springfield",
                "state": "IL",
                "zip": "62704",
                "country": "USA",
            }
        ]
        address = []
        for a in addresses:
            lines = [x for x in (a.get("addressLine1"), a.get("addressLine2")) if x]
            address.append(
                {
                    "use": "home",
                    "line": lines,
                    "city": a.get("city", ""),
                    "state": a.get("state", ""),
                    "postalCode": a.get("zip", ""),
                    "country": a.get("country") or "USA",
                }
            )
        telecom = []
        for c in d.get("contact") or [{"phone": f"217555{drng.randint(1000, 9999)}"}]:
            if c.get("phone"):
                telecom.append({"system": "phone", "value": c["phone"], "use": "home"})
            if c.get("email"):
                telecom.append({"system": "email", "value": c["email"]})
        pid = d.get("id") or f"{_seed_int('patient', self.seed):016x}"
        self.patient_ref = f"Patient/{pid}"
        self.patient_display = f"{first} {last}"
        self.add(
            {
                "resourceType": "Patient",
                "id": pid,
                "meta": {"profile": [USCORE + "us-core-patient"]},
                "extension": [
                    {
                        "url": USCORE + "us-core-race",
                        "extension": [
                            {
                                "url": "ombCategory",
                                "valueCoding": {
                                    "system": "urn:oid:2.16.840.1.113883.6.238",
                                    "code": "2106-3",
                                    "display": "White",
                                },
                            },
                            {"url": "text", "valueString": "White"},
                        ],
                    },
                    {
                        "url": USCORE + "us-core-ethnicity",
                        "extension": [
                            {
                                "url": "ombCategory",
                                "valueCoding": {
                                    "system": "urn:oid:2.16.840.1.113883.6.238",
                                    "code": "2186-5",
                                    "display": "Not Hispanic or Latino",
                                },
                            },
                            {"url": "text", "valueString": "Not Hispanic or Latino"},
                        ],
                    },
                    {
                        "url": USCORE + "us-core-birthsex",
                        "valueCode": gender_code if gender_code in "MF" else "UNK",
                    },
                ],
                "identifier": [
                    {
                        "use": "usual",
                        "type": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                    "code": "MR",
                                    "display": "Medical Record Number",
                                }
                            ],
                            "text": "Medical Record Number",
                        },
                        "system": "urn:oid:2.16.840.1.113883.3.9621.1",
                        "value": f"MRN{_seed_int('mrn', self.seed) % 10**8:08d}",
                    }
                ],
                "name": [{"use": "official", "family": last, "given": [first]}],
                "telecom": telecom,
                "gender": gender,
                "birthDate": self.birth.isoformat(),
                "address": address,
                "communication": [
                    {
                        "language": {
                            "coding": [
                                {
                                    "system": "urn:ietf:bcp:47",
                                    "code": "en-US",
                                    "display": "English (United States)",
                                }
                            ]
                        }
                    }
                ],
            }
        )

    def build_orgs(self) -> None:
        self.orgs: dict[str, dict] = {}
        for i, (key, name, source, type_display, city, state, zip_code) in enumerate(_ORGS):
            oid = f"2.16.840.1.113883.3.9621.{100 + i}"
            org_id = f"{_seed_int('org', key):016x}"
            self.orgs[key] = {
                "key": key,
                "name": name,
                "source": source,
                "ref": f"Organization/{org_id}",
                "source_display": {
                    "hie": "Health information exchange",
                    "pharmacy": "Pharmacy network",
                    "lab": "Laboratory network",
                }[source],
            }
            self.add(
                {
                    "resourceType": "Organization",
                    "id": org_id,
                    "meta": {"profile": [USCORE + "us-core-organization"]},
                    "identifier": [
                        {"system": "urn:ietf:rfc:3986", "value": f"urn:oid:{oid}"},
                        {"system": NPI, "value": f"1{_seed_int('npi', key) % 10**9:09d}"},
                    ],
                    "active": True,
                    "type": [{"text": type_display}],
                    "name": name,
                    "telecom": [{"system": "phone", "value": f"217555{1000 + i * 37}"}],
                    "address": [
                        {
                            "line": [f"{100 + i * 250} Main St"],
                            "city": city,
                            "state": state,
                            "postalCode": zip_code,
                            "country": "USA",
                        }
                    ],
                }
            )
        self.hie_orgs = [self.orgs["riverside"], self.orgs["lakeview"], self.orgs["prairie"]]

    def build_practitioners(self, count: int) -> None:
        self.practitioners = []
        for i in range(count):
            given, family, suffix = _PRACTITIONER_NAMES[i % len(_PRACTITIONER_NAMES)]
            if i >= len(_PRACTITIONER_NAMES):
                family = f"{family}-{_LAST[i % len(_LAST)]}"
            pid = self.new_id()
            self.practitioners.append({"ref": f"Practitioner/{pid}", "display": f"{given} {family}, {suffix}"})
            self.add(
                {
                    "resourceType": "Practitioner",
                    "id": pid,
                    "meta": {"profile": [USCORE + "us-core-practitioner"]},
                    "identifier": [{"system": NPI, "value": f"1{self.rng.randrange(10**9):09d}"}],
                    "name": [{"family": family, "given": [given], "suffix": [suffix]}],
                }
            )

    def practitioner(self) -> dict:
        return self.rng.choice(self.practitioners)

    # ---- clinical resources -----------------------------------------------------------------
    def encounter(self, org: dict, day: date, kind: int | None = None) -> dict:
        rng = self.rng
        if kind is None:
            kind = rng.choices(range(len(_ENCOUNTER_TYPES)), weights=(5, 8, 6, 2, 1, 2))[0]
        cls, cls_display, sct, sct_display, cpt, cpt_display = _ENCOUNTER_TYPES[kind]
        prac = self.practitioner()
        start = self.when(day)
        end_day = day + timedelta(days=rng.randint(1, 5)) if cls == "IMP" else day
        end = f"{end_day.isoformat()}T{min(int(start[11:13]) + 1, 23):02d}:{start[14:16]}:00-05:00"
        res = {
            "resourceType": "Encounter",
            "id": self.new_id(),
            "meta": self.meta(org, "us-core-encounter"),
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": cls,
                "display": cls_display,
            },
            "type": [
                {
                    "coding": [
                        {"system": SNOMED, "code": sct, "display": sct_display},
                        {"system": CPT, "code": cpt, "display": cpt_display},
                    ],
                    "text": sct_display,
                }
            ],
            "subject": {"reference": self.patient_ref, "display": self.patient_display},
            "participant": [
                {
                    "type": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                    "code": "PPRF",
                                    "display": "primary performer",
                                }
                            ]
                        }
                    ],
                    "individual": {"reference": prac["ref"], "display": prac["display"]},
                }
            ],
            "period": {"start": start, "end": end},
            "serviceProvider": {"reference": org["ref"], "display": org["name"]},
        }
        return self.add(res)

    def condition(
        self,
        org: dict,
        item: tuple,
        onset: str,
        *,
        encounter: dict | None = None,
        resolved: bool = False,
        mode: str = "full",
    ) -> dict:
        sct, sct_display, icd, icd_display, _chronic = item
        if mode == "full":
            code = {
                "coding": [
                    {"system": SNOMED, "code": sct, "display": sct_display},
                    {"system": ICD10, "code": icd, "display": icd_display},
                ],
                "text": sct_display,
            }
        elif mode == "icd-nodisplay":
            code = {"coding": [{"system": ICD10, "code": icd}]}
        elif mode == "sct-nodisplay":
            code = {"coding": [{"system": SNOMED, "code": sct}]}
        else:  # text only
            code = {"text": sct_display}
        prac = self.practitioner()
        res = {
            "resourceType": "Condition",
            "id": self.new_id(),
            "meta": self.meta(org, "us-core-condition-problems-health-concerns"),
            "clinicalStatus": self.cc(COND_CLIN, "resolved" if resolved else "active"),
            "verificationStatus": self.cc(COND_VER, "confirmed"),
            "category": [self.cc(COND_CAT, "problem-list-item", "Problem List Item")],
            "code": code,
            "subject": {"reference": self.patient_ref},
            "onsetDateTime": onset,
            "recordedDate": onset if len(onset) > 10 else None,
            "recorder": {"reference": prac["ref"], "display": prac["display"]},
            "asserter": {"reference": prac["ref"], "display": prac["display"]},
        }
        if res["recordedDate"] is None:
            del res["recordedDate"]
        if resolved and len(onset) >= 10:
            res["abatementDateTime"] = (date.fromisoformat(onset[:10]) + timedelta(days=14)).isoformat()
        if encounter is not None:
            res["encounter"] = {"reference": f"Encounter/{encounter['id']}"}
        return self.add(res)

    def med_request(self, org: dict, med: tuple, authored: str, *, active: bool = True) -> dict:
        rx, display, sig, _cond = med
        prac = self.practitioner()
        return self.add(
            {
                "resourceType": "MedicationRequest",
                "id": self.new_id(),
                "meta": self.meta(org, "us-core-medicationrequest"),
                "status": "active" if active else "completed",
                "intent": "order",
                "category": [
                    self.cc(
                        "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                        "outpatient",
                        "Outpatient",
                    )
                ],
                "medicationCodeableConcept": self.cc(RXNORM, rx, display, display),
                "subject": {"reference": self.patient_ref},
                "authoredOn": authored,
                "requester": {"reference": prac["ref"], "display": prac["display"]},
                "dosageInstruction": [{"text": sig}],
                "dispenseRequest": {
                    "numberOfRepeatsAllowed": self.rng.randint(0, 5),
                    "quantity": {"value": 30, "unit": "TAB", "system": UCUM, "code": "{tbl}"},
                },
            }
        )

    def med_statement(self, med: tuple, start: str, *, active: bool = True, display: bool = True) -> dict:
        rx, name, sig, _cond = med
        org = self.orgs["carerx"]
        end = (date.fromisoformat(start[:10]) + timedelta(days=90)).isoformat()
        return self.add(
            {
                "resourceType": "MedicationStatement",
                "id": self.new_id(),
                "meta": self.meta(org),
                "status": "active" if active else "completed",
                "medicationCodeableConcept": (
                    self.cc(RXNORM, rx, name, name) if display else {"coding": [{"system": RXNORM, "code": rx}]}
                ),
                "subject": {"reference": self.patient_ref},
                "effectivePeriod": {"start": start[:10]} if active else {"start": start[:10], "end": end},
                "dateAsserted": start[:10],
                "informationSource": {"reference": org["ref"], "display": org["name"]},
                "dosage": [{"text": sig}],
            }
        )

    def immunization(self, org: dict, vax: tuple, when: str) -> dict:
        cvx, display, _every = vax
        return self.add(
            {
                "resourceType": "Immunization",
                "id": self.new_id(),
                "meta": self.meta(org, "us-core-immunization"),
                "status": "completed",
                "vaccineCode": self.cc(CVX, cvx, display, display),
                "patient": {"reference": self.patient_ref},
                "occurrenceDateTime": when,
                "primarySource": True,
                "lotNumber": f"{self.rng.choice('ABCDEFGHJK')}{self.rng.randint(1000, 9999)}",
                "site": self.cc("http://terminology.hl7.org/CodeSystem/v3-ActSite", "LA", "left arm"),
                "performer": [{"actor": {"reference": org["ref"], "display": org["name"]}}],
            }
        )

    def allergy(self, org: dict, item: tuple, onset: str) -> dict:
        sct, display, category, reaction_code, reaction_display = item
        return self.add(
            {
                "resourceType": "AllergyIntolerance",
                "id": self.new_id(),
                "meta": self.meta(org, "us-core-allergyintolerance"),
                "clinicalStatus": self.cc(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"
                ),
                "verificationStatus": self.cc(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed"
                ),
                "type": "allergy",
                "category": [category],
                "criticality": "high" if reaction_code == "39579001" else "low",
                "code": self.cc(SNOMED, sct, display, display),
                "patient": {"reference": self.patient_ref},
                "onsetDateTime": onset,
                "recordedDate": onset,
                "reaction": [
                    {
                        "manifestation": [self.cc(SNOMED, reaction_code, reaction_display, reaction_display)],
                        "severity": "severe" if reaction_code == "39579001" else "mild",
                    }
                ],
            }
        )

    def procedure(self, org: dict, item: tuple, performed: str, encounter: dict | None = None) -> dict:
        sct, display, cpt, cpt_display = item
        prac = self.practitioner()
        res = {
            "resourceType": "Procedure",
            "id": self.new_id(),
            "meta": self.meta(org, "us-core-procedure"),
            "status": "completed",
            "code": {
                "coding": [
                    {"system": SNOMED, "code": sct, "display": display},
                    {"system": CPT, "code": cpt, "display": cpt_display},
                ],
                "text": display,
            },
            "subject": {"reference": self.patient_ref},
            "performedDateTime": performed,
            "performer": [
                {
                    "actor": {"reference": prac["ref"], "display": prac["display"]},
                    "onBehalfOf": {"reference": org["ref"], "display": org["name"]},
                }
            ],
        }
        if encounter is not None:
            res["encounter"] = {"reference": f"Encounter/{encounter['id']}"}
        return self.add(res)

    def interpretation(self, value: float, low: float | None, high: float | None) -> str:
        if high is not None and value > high:
            return "HH" if value > high * 2.5 else "H"
        if low is not None and value < low:
            return "LL" if value < low * 0.4 else "L"
        return "N"

    def lab(
        self,
        org: dict,
        key: str,
        value: float,
        when: str,
        *,
        unit: str | None = None,
        low: float | None = None,
        high: float | None = None,
        encounter: dict | None = None,
    ) -> dict:
        loinc, display, default_unit, a_low, a_high, decimals = _ANALYTES[key]
        unit = unit or default_unit
        if unit == default_unit:
            low, high = a_low, a_high
        value = round(value, decimals) if decimals else round(value)
        ref_range: dict = {}
        if low is not None:
            ref_range["low"] = self.qty(low, unit)
        if high is not None:
            ref_range["high"] = self.qty(high, unit)
        if low is None:
            ref_range["text"] = f"<{high}" if high is not None else ""
        elif high is None:
            ref_range["text"] = f">{low}"
        flag = self.interpretation(value, low, high)
        res = {
            "resourceType": "Observation",
            "id": self.new_id(),
            "meta": self.meta(org, "us-core-observation-lab"),
            "status": "final",
            "category": [self.cc(OBS_CAT, "laboratory", "Laboratory")],
            "code": self.cc(LOINC, loinc, display, display),
            "subject": {"reference": self.patient_ref},
            "effectiveDateTime": when,
            "issued": when[:10] + "T20:00:00-05:00",
            "performer": [{"reference": org["ref"], "display": org["name"]}],
            "valueQuantity": self.qty(value, unit),
            "interpretation": [self.cc(INTERP, flag, _INTERP_DISPLAY[flag])],
            "referenceRange": [ref_range],
        }
        if encounter is not None:
            res["encounter"] = {"reference": f"Encounter/{encounter['id']}"}
        return self.add(res)

    def report(self, org: dict, panel: str, when: str, results: list[dict]) -> dict:
        loinc, display, _keys = _PANELS[panel]
        return self.add(
            {
                "resourceType": "DiagnosticReport",
                "id": self.new_id(),
                "meta": self.meta(org, "us-core-diagnosticreport-lab"),
                "status": "final",
                "category": [self.cc("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")],
                "code": self.cc(LOINC, loinc, display, display),
                "subject": {"reference": self.patient_ref},
                "effectiveDateTime": when,
                "issued": when[:10] + "T20:00:00-05:00",
                "performer": [{"reference": org["ref"], "display": org["name"]}],
                "result": [
                    {"reference": f"Observation/{r['id']}", "display": r["code"]["coding"][0]["display"]}
                    for r in results
                ],
            }
        )

    def vital(self, org: dict, kind: str, when: str, t: float, encounter: dict | None) -> dict:
        rng = self.rng
        vs = [self.cc(OBS_CAT, "vital-signs", "Vital Signs")]
        base = {
            "resourceType": "Observation",
            "id": self.new_id(),
            "status": "final",
            "category": vs,
            "subject": {"reference": self.patient_ref},
            "effectiveDateTime": when,
            "performer": [{"reference": org["ref"], "display": org["name"]}],
        }
        if encounter is not None:
            base["encounter"] = {"reference": f"Encounter/{encounter['id']}"}
        if kind == "bp":
            sys_v = int(128 + 18 * _smooth(0.1, 0.4, t) - 14 * _smooth(0.45, 0.6, t) + rng.gauss(0, 7))
            dia_v = int(80 + 8 * _smooth(0.1, 0.4, t) - 7 * _smooth(0.45, 0.6, t) + rng.gauss(0, 5))
            base["meta"] = self.meta(org, "us-core-blood-pressure")
            base["code"] = self.cc(
                LOINC, "85354-9", "Blood pressure panel with all children optional", "Blood pressure"
            )
            base["component"] = [
                {
                    "code": self.cc(LOINC, "8480-6", "Systolic blood pressure"),
                    "valueQuantity": self.qty(sys_v, "mm[Hg]"),
                    "interpretation": [self.cc(INTERP, "H" if sys_v >= 130 else "N")],
                },
                {
                    "code": self.cc(LOINC, "8462-4", "Diastolic blood pressure"),
                    "valueQuantity": self.qty(dia_v, "mm[Hg]"),
                    "interpretation": [self.cc(INTERP, "H" if dia_v >= 80 else "N")],
                },
            ]
            return self.add(base)
        weight = round(self.weight0 + 9 * _smooth(0.0, 0.5, t) - 6 * _smooth(0.55, 0.9, t) + rng.gauss(0, 0.8), 1)
        if kind == "weight":
            base["meta"] = self.meta(org, "us-core-body-weight")
            base["code"] = self.cc(LOINC, "29463-7", "Body weight", "Weight")
            base["valueQuantity"] = self.qty(weight, "kg")
        elif kind == "bmi":
            base["meta"] = self.meta(org, "us-core-bmi")
            base["code"] = self.cc(LOINC, "39156-5", "Body mass index (BMI) [Ratio]", "BMI")
            base["valueQuantity"] = self.qty(round(weight / (self.height_m**2), 1), "kg/m2")
        elif kind == "hr":
            base["meta"] = self.meta(org, "us-core-heart-rate")
            base["code"] = self.cc(LOINC, "8867-4", "Heart rate", "Heart rate")
            base["valueQuantity"] = self.qty(int(72 + rng.gauss(0, 8)), "/min")
        elif kind == "temp":
            base["meta"] = self.meta(org, "us-core-body-temperature")
            base["code"] = self.cc(LOINC, "8310-5", "Body temperature", "Temperature")
            base["valueQuantity"] = self.qty(round(36.8 + rng.gauss(0, 0.3), 1), "Cel")
        elif kind == "spo2":
            base["meta"] = self.meta(org, "us-core-pulse-oximetry")
            base["code"] = {
                "coding": [
                    {
                        "system": LOINC,
                        "code": "59408-5",
                        "display": "Oxygen saturation in Arterial blood by Pulse oximetry",
                    },
                    {"system": LOINC, "code": "2708-6", "display": "Oxygen saturation in Arterial blood"},
                ],
                "text": "SpO2",
            }
            base["valueQuantity"] = self.qty(min(100, int(97 + rng.gauss(0, 1.2))), "%")
        else:  # height
            base["meta"] = self.meta(org, "us-core-body-height")
            base["code"] = self.cc(LOINC, "8302-2", "Body height", "Height")
            base["valueQuantity"] = self.qty(round(self.height_m * 100, 1), "cm")
        return self.add(base)

    def document(self, org: dict, when: str, encounter: dict | None, kind: str) -> dict:
        prac = self.practitioner()
        doc_id = self.new_id()
        day = when[:10]
        if kind == "ccda":
            loinc, display = "34133-9", "Summarization of episode note"
            body = ccda_document(
                title=f"Continuity of Care Document - {org['name']}",
                day=day,
                patient=self.patient_display,
                author=prac["display"],
            )
            content_type, title = "application/xml", f"CCD {day}"
            fmt = {
                "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
                "code": "urn:hl7-org:sdwg:ccda-structuredBody:2.1",
                "display": "For documents following C-CDA 2.1 constraints using a structured body",
            }
        else:
            loinc, display = ("11506-3", "Progress note") if kind == "note" else ("18842-5", "Discharge summary")
            body = minimal_pdf(f"{display} - {org['name']} - {day}")
            content_type, title = "application/pdf", f"{display} {day}"
            fmt = {
                "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
                "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
                "display": "mimeType Sufficient",
            }
        attachment = {
            "contentType": content_type,
            "language": "en-US",
            "data": base64.b64encode(body).decode(),
            "title": title,
            "creation": when,
            "size": len(body),
        }
        res: dict[str, Any] = {
            "resourceType": "DocumentReference",
            "id": doc_id,
            "meta": self.meta(org, "us-core-documentreference"),
            "status": "current",
            "docStatus": "final",
            "type": self.cc(LOINC, loinc, display, display),
            "category": [
                self.cc(
                    "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                    "clinical-note",
                    "Clinical Note",
                )
            ],
            "subject": {"reference": self.patient_ref},
            "date": when,
            "author": [{"reference": prac["ref"], "display": prac["display"]}],
            "custodian": {"reference": org["ref"], "display": org["name"]},
            "description": display,
            "content": [{"attachment": attachment, "format": fmt}],
            "context": {"period": {"start": when, "end": when}},
        }
        if encounter is not None:
            res["context"]["encounter"] = [{"reference": f"Encounter/{encounter['id']}"}]
        return self.add(res)

    def provenance(self, org: dict, targets: list[dict], recorded: str) -> dict:
        return self.add(
            {
                "resourceType": "Provenance",
                "id": self.new_id(),
                "meta": self.meta(org, "us-core-provenance"),
                "target": [{"reference": f"{r['resourceType']}/{r['id']}"} for r in targets],
                "recorded": recorded,
                "agent": [
                    {
                        "type": self.cc(
                            "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "author",
                            "Author",
                        ),
                        "who": {"reference": org["ref"], "display": org["name"]},
                    },
                    {
                        "type": self.cc(
                            "http://hl7.org/fhir/us/core/CodeSystem/us-core-provenance-participant-type",
                            "transmitter",
                            "Transmitter",
                        ),
                        "who": {"reference": org["ref"], "display": org["name"]},
                    },
                ],
            }
        )

    # ---- converter shapes (Metriport's C-CDA -> FHIR output) --------------------------------
    def converted_meta(self, org: dict) -> dict:
        """The tags the sandbox needs to cut a bundle by source, without US Core profiles."""
        meta = self.meta(org)
        doc = self.converted_docs.get(org["key"])
        if doc is not None:
            meta["extension"] = [{"url": DOC_ID_EXTENSION, "valueString": doc}]
        return meta

    def converted_extras(self, remaining: int) -> None:
        """Per hospital-network organization, what only converted C-CDA documents bring."""
        per_org = 22
        for org in self.hie_orgs[: min(3, remaining // (per_org * 3))]:
            self.converted_org(org, self.hie_orgs.index(org))

    def converted_org(self, org: dict, index: int) -> None:
        rng = self.rng
        day = self.day_at(0.55 + index * 0.12)
        # Near midnight UTC, so showing the instant in UTC puts it on the wrong day for a US patient.
        late = f"{(day + timedelta(days=1)).isoformat()}T0{index + 1}:{15 + index * 10}:00Z"
        morning = f"{day.isoformat()}T{9 + index:02d}:00:00Z"
        prac = self.practitioner()
        ccda = self.converted_document(org, morning, "ccda", prac)
        self.converted_docs[org["key"]] = ccda["content"][0]["attachment"]["title"]
        self.converted_document(org, late, "discharge" if index == 0 else "note", prac)
        made: list[dict] = []
        made.append(
            self.add(
                {
                    "resourceType": "Encounter",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "status": "unknown",
                    "class": {"code": "AMB"} if index else {"code": "EMER", "display": "emergency"},
                    "type": [{"coding": [{"system": CPT, "code": "99283" if index == 0 else "99213"}]}],
                    "subject": {"reference": self.patient_ref},
                    "participant": [{"individual": {"display": prac["display"]}}],
                    "period": {"start": late, "end": late[:11] + f"0{index + 3}:05:00Z"},
                }
            )
        )
        conditions = [
            ("ICD10-only", {"coding": [{"system": ICD10, "code": "I10"}]}),
            ("SNOMED-only", {"coding": [{"system": SNOMED, "code": "40930008"}]}),
            ("text", {"text": "Chronic low back pain", "coding": [{"system": ICD10, "code": "M54.50"}]}),
        ]
        for n, (_label, code) in enumerate(conditions):
            made.append(
                self.add(
                    {
                        "resourceType": "Condition",
                        "id": self.new_id(),
                        "meta": self.converted_meta(org),
                        "contained": [
                            {"resourceType": "Practitioner", "name": [{"text": prac["display"]}]},
                        ],
                        "code": code,
                        "category": [self.cc(LOINC, "75326-9", "Problem")],
                        "subject": {"reference": self.patient_ref},
                        "onsetPeriod": {"start": f"{self.day_at(0.2 + n * 0.2).isoformat()}T00:00:00.000Z"},
                        "asserter": {"display": prac["display"]},
                    }
                )
            )
        allergen = _ALLERGIES[(index + 1) % len(_ALLERGIES)]
        made.append(
            self.add(
                {
                    "resourceType": "AllergyIntolerance",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "clinicalStatus": self.cc(
                        "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"
                    ),
                    "patient": {"reference": self.patient_ref},
                    "onsetDateTime": f"{self.day_at(0.1).isoformat()}T00:00:00.000Z",
                    "reaction": [
                        {
                            "substance": {
                                "coding": [{"system": RXNORM if index == 0 else SNOMED, "code": allergen[0]}],
                                "text": allergen[1],
                            },
                            "manifestation": [self.cc(SNOMED, allergen[3], allergen[4])],
                        }
                    ],
                }
            )
        )
        proc = _PROCEDURES[(index + 2) % len(_PROCEDURES)]
        made.append(
            self.add(
                {
                    "resourceType": "Procedure",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "status": "completed",
                    "code": {"text": proc[1]},
                    "subject": {"reference": self.patient_ref},
                    "performedDateTime": morning,
                }
            )
        )
        made.append(
            self.add(
                {
                    "resourceType": "Procedure",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "status": "completed",
                    "subject": {"reference": self.patient_ref},
                    "performedPeriod": {"start": late},
                    "note": [{"text": "Diabetic foot exam: sensation intact, no ulcers."}],
                }
            )
        )
        # Social history: smoking status and alcohol use, as the converter categorises them.
        social = self.cc(OBS_CAT, "social-history", "Social History")
        social["text"] = "Social History"
        smoking = ("8517006", "Ex-smoker") if index == 0 else ("266919005", "Never smoked tobacco")
        made.append(
            self.add(
                {
                    "resourceType": "Observation",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "category": [social],
                    "status": "final",
                    "code": self.cc(LOINC, "72166-2", "Tobacco smoking status"),
                    "subject": {"reference": self.patient_ref},
                    "effectiveDateTime": morning,
                    "valueCodeableConcept": self.cc(SNOMED, *smoking),
                }
            )
        )
        made.append(
            self.add(
                {
                    "resourceType": "Observation",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "category": [social],
                    "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": "74013-4"}], "text": "Alcoholic drinks per day"},
                    "subject": {"reference": self.patient_ref},
                    "effectivePeriod": {"start": morning},
                    "valueQuantity": {"value": 2, "unit": "{drinks}/d", "system": UCUM},
                }
            )
        )
        # Lab results with UCUM annotations and powers of ten, instants in UTC.
        lab_cat = self.cc(OBS_CAT, "laboratory", "Laboratory")
        for loinc, name, value, unit, low, high in (
            ("98979-8", "eGFR", 58, "mL/min/{1.73_m2}", 60, None),
            ("6690-2", "WBC", 6.4, "10*9/L", 4.5, 11.0),
            ("777-3", "Platelets", 231, "10*3/uL", 150, 400),
        ):
            obs = {
                "resourceType": "Observation",
                "id": self.new_id(),
                "meta": self.converted_meta(org),
                "category": [lab_cat],
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": loinc}], "text": name},
                "subject": {"reference": self.patient_ref},
                "effectiveDateTime": late if loinc == "98979-8" else morning,
                "valueQuantity": {"value": value, "unit": unit, "system": UCUM},
                "interpretation": [{"coding": [{"system": INTERP, "code": "L" if value < low else "N"}]}],
                "referenceRange": [
                    {
                        k: {"value": v, "unit": unit, "system": UCUM}
                        for k, v in (("low", low), ("high", high))
                        if v is not None
                    }
                ],
            }
            made.append(self.add(obs))
        relative = (("FTH", "father", "male"), ("MTH", "mother", "female"), ("BRO", "brother", "male"))[index]
        made.append(
            self.add(
                {
                    "resourceType": "FamilyMemberHistory",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "status": "completed",
                    "patient": {"reference": self.patient_ref},
                    "date": morning,
                    "relationship": self.cc("http://terminology.hl7.org/CodeSystem/v3-RoleCode", *relative[:2]),
                    "sex": self.cc("http://hl7.org/fhir/administrative-gender", relative[2], relative[2].title()),
                    "condition": [
                        {
                            "code": self.cc(SNOMED, "22298006", "Myocardial infarction"),
                            "contributedToDeath": index == 0,
                            "onsetAge": {"value": 58 + index, "unit": "a", "system": UCUM, "code": "a"},
                        },
                        {"code": {"coding": [{"system": SNOMED, "code": "44054006"}]}},
                    ],
                }
            )
        )
        payer = ("Blue Cross Blue Shield of Illinois", "Medicare Part B", "Aetna Choice POS II")[index]
        made.append(
            self.add(
                {
                    "resourceType": "Coverage",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "identifier": [{"value": f"{self.rng.randrange(10**9):09d}"}],
                    "status": "active",
                    "type": self.cc("urn:oid:2.16.840.1.113883.3.221.5", "1" if index == 1 else "5"),
                    "subscriberId": f"XJH{rng.randrange(10**8):08d}",
                    "beneficiary": {"reference": self.patient_ref},
                    "relationship": self.cc(
                        "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "self", "Self"
                    ),
                    "period": {"start": f"{self.day_at(0.3).isoformat()}T00:00:00.000Z"},
                    "payor": [{"display": payer}],
                }
            )
        )
        made.append(
            self.add(
                {
                    "resourceType": "Goal",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "lifecycleStatus": "active",
                    "description": (
                        {"coding": [{"system": LOINC, "code": "4548-4"}]}
                        if index == 0
                        else {"text": "Walk 30 minutes five days a week"}
                    ),
                    "subject": {"reference": self.patient_ref},
                    "target": [
                        {
                            "measure": {"coding": [{"system": LOINC, "code": "4548-4"}]},
                            "detailQuantity": {"value": 7, "unit": "%", "system": UCUM},
                            "dueDate": (day + timedelta(days=180)).isoformat(),
                        }
                    ]
                    if index == 0
                    else [],
                }
            )
        )
        if not made[-1]["target"]:
            del made[-1]["target"]
        made.append(
            self.add(
                {
                    "resourceType": "CarePlan",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "text": {
                        "status": "generated",
                        "div": '<div xmlns="http://www.w3.org/1999/xhtml">Follow up in 3 months. '
                        "Repeat HbA1c and kidney function.</div>",
                    },
                    "status": "active",
                    "intent": "plan",
                    "category": [self.cc(SNOMED, "734163000", "Care plan")],
                    "subject": {"reference": self.patient_ref},
                    "period": {"start": morning},
                    "activity": [
                        {
                            "detail": {
                                "kind": "ServiceRequest",
                                "code": {"coding": [{"system": LOINC, "code": "4548-4"}]},
                                "status": "scheduled",
                                "description": "Hemoglobin A1c in 3 months",
                            }
                        }
                    ],
                }
            )
        )
        made.append(
            self.add(
                {
                    "resourceType": "Device",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "type": {"coding": [{"display": ("Epic", "athenaClinicals", "eClinicalWorks")[index]}]},
                    "manufacturer": ("Epic Systems", "athenahealth", "eClinicalWorks")[index],
                    "version": [{"value": ("November 2021", "22.4", "12.0.1")[index]}],
                }
            )
        )
        contact = (("SPS", "spouse", "Spouse"), ("DAU", "daughter", "Daughter"), ("FRND", "friend", "Friend"))[index]
        made.append(
            self.add(
                {
                    "resourceType": "RelatedPerson",
                    "id": self.new_id(),
                    "meta": self.converted_meta(org),
                    "patient": {"reference": self.patient_ref},
                    "relationship": [
                        {
                            "text": contact[2],
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                    "code": contact[0],
                                    "display": contact[1],
                                }
                            ],
                        },
                        {
                            "text": "Emergency Contact",
                            "coding": [
                                {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "C"},
                            ],
                        },
                    ],
                    "name": [{"family": self.patient_display.split()[-1], "given": [_FIRST["F"][index]]}],
                    "telecom": [{"system": "phone", "value": f"217555{rng.randint(1000, 9999)}", "use": "mobile"}],
                }
            )
        )
        sections = {
            "Problems": ("11450-4", "Condition"),
            "Allergies and Adverse Reactions": ("48765-2", "AllergyIntolerance"),
            "Procedures": ("47519-4", "Procedure"),
            "Results": ("30954-2", "Observation"),
            "Social History": ("29762-2", "Observation"),
            "Plan of Treatment": ("18776-5", "CarePlan"),
            "Encounters": ("46240-8", "Encounter"),
        }
        section_list = []
        for title, (code, rtype) in sections.items():
            social_section = title == "Social History"
            entries = [
                {"reference": f"{r['resourceType']}/{r['id']}"}
                for r in made
                if r["resourceType"] == rtype
                and (
                    rtype != "Observation"
                    or (r["category"][0]["coding"][0]["code"] == "social-history") == social_section
                )
            ]
            section_list.append(
                {
                    "title": title,
                    "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{title}</div>'},
                    "code": self.cc(LOINC, code, title),
                    "mode": "snapshot",
                    "entry": entries,
                }
            )
        self.add(
            {
                "resourceType": "Composition",
                "id": self.new_id(),
                "meta": self.converted_meta(org),
                "identifier": {"use": "official", "value": f"2.16.840.1.113883.3.9621.{900 + index}"},
                "status": "final",
                "type": self.cc(LOINC, "34133-9", "Summarization of episode note"),
                "subject": {"reference": self.patient_ref},
                "date": morning,
                "author": [{"display": prac["display"]}],
                "title": f"Continuity of Care Document - {org['name']}",
                "confidentiality": "N",
                "custodian": {"reference": org["ref"], "display": org["name"]},
                "section": section_list,
            }
        )

    def converted_document(self, org: dict, when: str, kind: str, prac: dict) -> dict:
        """A DocumentReference whose attachment is a link the sandbox serves (no inline data)."""
        doc_id = self.new_id()
        patient_id = self.patient_ref.split("/", 1)[1]
        if kind == "ccda":
            loinc, display, content_type, ext = "34133-9", "Summarization of episode note", "text/xml", "xml"
        else:
            loinc, display = ("11506-3", "Progress note") if kind == "note" else ("18842-5", "Discharge summary")
            content_type, ext = "application/pdf", "pdf"
        file_name = f"{patient_id}_{doc_id}.{ext}"
        attachment: dict = {
            "contentType": content_type,
            "url": f"{DOCUMENT_URL_BASE}?fileName={file_name}",
            "title": file_name,
            "creation": when,
        }
        res = {
            "resourceType": "DocumentReference",
            "id": doc_id,
            "meta": self.converted_meta(org),
            "status": "current",
            "type": self.cc(LOINC, loinc, display),
            "subject": {"reference": self.patient_ref, "display": self.patient_display},
            "date": when,
            "author": [{"display": prac["display"]}],
            "custodian": {"reference": org["ref"], "display": org["name"]},
            "description": display,
            "content": [{"attachment": attachment}],
        }
        attachment["size"] = len(document_body(res))
        return self.add(res)

    def convert(self, res: dict) -> None:
        """Reshape one clean resource, in place, the way the C-CDA converter would have written it."""
        rtype = res["resourceType"]
        org_ref = res.get("meta", {}).get("source")
        org = next((o for o in self.hie_orgs if o["ref"] == org_ref), None)
        if org is None:
            return
        res["meta"] = self.converted_meta(org)
        crng = self.crng
        res.pop("encounter", None)
        if rtype == "Condition":
            res.pop("clinicalStatus", None)
            res.pop("verificationStatus", None)
            res.pop("recordedDate", None)
            res.pop("recorder", None)
            codings = res["code"].get("coding") or []
            style = crng.randrange(3)
            if codings and style < 2:
                wanted = ICD10 if style == 0 else SNOMED
                kept = [c for c in codings if c["system"] == wanted] or codings[:1]
                res["code"] = {"coding": [{"system": c["system"], "code": c["code"]} for c in kept]}
            res["category"] = [self.cc(LOINC, "75326-9", "Problem")]
            onset = res.pop("onsetDateTime", None)
            if onset:
                res["onsetPeriod"] = {"start": _utc(onset)}
            asserter = res.pop("asserter", None)
            if asserter:
                res["contained"] = [{"resourceType": "Practitioner", "name": [{"text": asserter["display"]}]}]
                res["asserter"] = {"display": asserter["display"]}
        elif rtype == "AllergyIntolerance":
            code = res.pop("code", None)
            for key in ("verificationStatus", "type", "category", "criticality", "recordedDate"):
                res.pop(key, None)
            if code and res.get("reaction"):
                res["reaction"][0]["substance"] = code
                res["reaction"][0].pop("severity", None)
        elif rtype == "Procedure":
            text = res["code"].get("text") or res["code"]["coding"][0].get("display", "")
            if crng.random() < 0.5:
                res["code"] = {"text": text}
            else:
                del res["code"]
                res["note"] = [{"text": text}]
            res["performer"] = [{"actor": {"display": p["actor"]["display"]}} for p in res.get("performer", ())]
            if "performedDateTime" in res:
                res["performedDateTime"] = _utc(res["performedDateTime"])
        elif rtype == "Observation":
            res.pop("issued", None)
            if "effectiveDateTime" in res:
                res["effectiveDateTime"] = _utc(res["effectiveDateTime"])
            for holder in (res, *res.get("component", ())):
                quantity = holder.get("valueQuantity")
                if quantity:
                    holder["valueQuantity"] = _converted_quantity(quantity)
            for ref_range in res.get("referenceRange", ()):
                for key in ("low", "high"):
                    if key in ref_range:
                        ref_range[key] = _converted_quantity(ref_range[key])
        elif rtype == "Encounter":
            res["period"] = {k: _utc(v) for k, v in res["period"].items()}
            res["participant"] = [
                {"individual": {"display": p["individual"]["display"]}} for p in res.get("participant", ())
            ]
            res["type"] = [{"coding": [c for c in t["coding"] if c["system"] == CPT]} for t in res.get("type", ())]
        elif rtype == "MedicationRequest":
            res["authoredOn"] = _utc(res["authoredOn"])
            res["requester"] = {"display": res["requester"]["display"]}
        elif rtype == "Immunization":
            res["occurrenceDateTime"] = _utc(res["occurrenceDateTime"])
        elif rtype == "DiagnosticReport":
            res["effectiveDateTime"] = _utc(res["effectiveDateTime"])
            res["issued"] = _utc(res["issued"])
        elif rtype == "DocumentReference":
            res["date"] = _utc(res["date"])
            res["author"] = [{"display": a["display"]} for a in res.get("author", ())]
            res.get("context", {}).pop("encounter", None)

    def convert_pass(self) -> None:
        """Reshape every (converted) or about half (mixed) of the hospital-network resources."""
        skip = {"Patient", "Organization", "Practitioner", "Provenance"}
        for entry in self.entries:
            res = entry["resource"]
            if res["resourceType"] in skip or "extension" in res.get("meta", {}):
                continue
            if self.shape == "converted" or self.crng.random() < 0.5:
                self.convert(res)

    # ---- trends ---------------------------------------------------------------------------
    def lab_value(self, key: str, t: float) -> float:
        g = self.rng.gauss
        if key == "hba1c":
            return max(4.5, 5.4 + 2.6 * _smooth(0.0, 0.6, t) - 0.9 * _smooth(0.62, 0.8, t) + g(0, 0.15))
        if key == "glucose":
            return max(60.0, 28.7 * self.lab_value("hba1c", t) - 46.7 + g(0, 12))
        if key == "ldl":
            return max(40.0, 168 - 72 * _smooth(0.45, 0.55, t) + g(0, 9))
        if key == "chol":
            return max(110.0, 245 - 70 * _smooth(0.45, 0.55, t) + g(0, 10))
        if key == "trig":
            return max(50.0, 190 - 40 * _smooth(0.45, 0.55, t) + g(0, 22))
        if key == "hdl":
            return max(25.0, 42 + g(0, 4))
        if key == "creatinine":
            return max(0.5, 0.88 + 0.55 * t * t + g(0, 0.05))
        if key == "egfr":
            return self.egfr(self.lab_value("creatinine", t), t)
        if key == "potassium":
            return 4.1 + 0.5 * t + g(0, 0.25)
        _loinc, _d, _u, low, high, _dec = _ANALYTES[key]
        if low is None:
            assert high is not None, key  # every analyte in _ANALYTES gives at least one bound
            low = high * 0.5
        if high is None:
            high = low * 1.6
        mid = (low + high) / 2
        return max(0.01, mid + g(0, (high - low) / 5))

    def egfr(self, scr: float, t: float) -> float:
        age = (self.day_at(t) - self.birth).days / 365.25
        female = self.gender == "female"
        kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
        value = 142 * min(scr / kappa, 1) ** alpha * max(scr / kappa, 1) ** -1.2 * 0.9938**age
        return value * (1.012 if female else 1)

    # ---- the run --------------------------------------------------------------------------
    def run(self) -> dict:
        rng = self.rng
        self.build_patient()
        if self.persona == "norecords":
            return self.bundle()
        self.build_orgs()
        self.build_practitioners(max(3, min(40, self.size // 250)))
        adult = (
            self.birth.replace(year=self.birth.year + 18)
            if self.birth.month != 2 or self.birth.day != 29
            else date(self.birth.year + 18, 3, 1)
        )
        self.start = max(adult, ANCHOR - timedelta(days=365 * 15))
        self.span_days = max(30, (ANCHOR - self.start).days)
        self.height_m = self.drng.uniform(1.55, 1.70) if self.gender == "female" else self.drng.uniform(1.68, 1.88)
        self.weight0 = round(self.height_m**2 * self.drng.uniform(27, 31), 1)

        remaining = self.size - len(self.entries)
        if remaining <= 0:
            return self.bundle()
        self.mess(remaining)
        remaining = self.size - len(self.entries)
        if self.shape != "clean":
            self.converted_extras(remaining)
            remaining = self.size - len(self.entries)

        n_enc = min(4000, max(1, int(remaining * 0.10)))
        n_cond = min(len(_CONDITIONS) * 2, int(remaining * 0.04))
        n_allergy = min(len(_ALLERGIES), int(remaining * 0.01))
        n_medreq = min(400, int(remaining * 0.05))
        n_medstmt = min(300, int(remaining * 0.03))
        n_imm = min(80, int(remaining * 0.03))
        n_proc = min(300, int(remaining * 0.03))
        n_doc = min(600, int(remaining * 0.03))
        n_prov = min(n_enc, int(remaining * 0.03))
        fixed = n_enc + n_cond + n_allergy + n_medreq + n_medstmt + n_imm + n_proc + n_doc + n_prov
        rest = max(0, remaining - fixed)
        n_labs = int(rest * 0.62)
        n_vitals = rest - n_labs

        encs = []
        enc_times = sorted(rng.random() for _ in range(n_enc))
        for i, t in enumerate(enc_times):
            org = self.hie_orgs[0 if i % 7 == 0 else (1 if i % 7 < 6 else 2)]
            new_enc = self.encounter(org, self.day_at(t))
            new_enc["_t"] = t
            encs.append(new_enc)

        def enc_near(t: float) -> dict | None:
            if not encs:
                return None
            return encs[min(len(encs) - 1, int(t * len(encs)))]

        # Conditions: the cardiometabolic core first, then others; duplicates across orgs when many.
        onset_t = {"59621000": 0.1, "44054006": 0.35, "55822004": 0.42, "700378005": 0.75, "414916001": 0.2}
        for i in range(n_cond):
            item = _CONDITIONS[i % len(_CONDITIONS)]
            t = onset_t.get(item[0], rng.random())
            org = self.hie_orgs[(i // len(_CONDITIONS)) % 3] if item[4] else self.hie_orgs[2]
            enc = enc_near(t)
            self.condition(org, item, self.when(self.day_at(t)), encounter=enc, resolved=not item[4])

        for i in range(n_allergy):
            self.allergy(self.hie_orgs[1], _ALLERGIES[i], self.day_at(rng.random() * 0.3).isoformat())

        med_start = {"59621000": 0.12, "44054006": 0.37, "55822004": 0.5}
        for i in range(n_medreq):
            med = _MEDS[i % len(_MEDS)]
            base_t = med_start.get(med[3], rng.random() * 0.9)
            t = min(0.999, base_t + (i // len(_MEDS)) * 0.05 + rng.random() * 0.01)
            latest = i + len(_MEDS) >= n_medreq
            self.med_request(
                self.hie_orgs[1 if i % 3 else 0],
                med,
                self.when(self.day_at(t)),
                active=latest and med[3] not in ("43878008",),
            )
        for i in range(n_medstmt):
            med = _MEDS[i % len(_MEDS)]
            t = min(0.999, med_start.get(med[3], rng.random() * 0.9) + (i // len(_MEDS)) * 0.04)
            self.med_statement(med, self.day_at(t).isoformat(), active=i + len(_MEDS) >= n_medstmt)

        for i in range(n_imm):
            vax = _VACCINES[i % len(_VACCINES)]
            t = rng.random()
            org = self.hie_orgs[1] if i % 4 else self.orgs["carerx"]
            self.immunization(org, vax, self.day_at(t).isoformat())

        for i in range(n_proc):
            t = rng.random()
            enc = enc_near(t)
            self.procedure(self.hie_orgs[0], _PROCEDURES[i % len(_PROCEDURES)], self.when(self.day_at(t)), enc)

        for i in range(n_doc):
            t = rng.random()
            enc = enc_near(t)
            org = self.hie_orgs[i % 3]
            self.document(org, self.when(self.day_at(t)), enc, ("ccda", "note", "discharge")[i % 3])

        # Lab visits: panels while the budget allows, then single HbA1c results.
        lab_left = n_labs
        visits = []
        while lab_left > 0:
            plan: list[str] = []
            for panel, (_l, _d, keys) in _PANELS.items():
                wanted = panel == "cmp" or rng.random() < (0.5 if panel == "lipid" else 0.6)
                if wanted and len(keys) + 1 <= lab_left - sum(len(_PANELS[p][2]) + 1 for p in plan):
                    plan.append(panel)
            used = sum(len(_PANELS[p][2]) + 1 for p in plan)
            if lab_left - used >= 1 and rng.random() < 0.7:
                plan.append("hba1c")
                used += 1
            if not plan:
                plan, used = ["hba1c"] * lab_left, lab_left
            visits.append(plan)
            lab_left -= used
        visit_times = sorted(rng.random() for _ in visits)
        for vi, (plan, t) in enumerate(zip(visits, visit_times, strict=True)):
            org = self.orgs["northstar"] if vi % 5 < 3 else self.hie_orgs[vi % 2]
            when = self.when(self.day_at(t), hour=8)
            enc = enc_near(t) if org["source"] == "hie" else None
            for panel in plan:
                if panel == "hba1c":
                    self.lab(org, "hba1c", self.lab_value("hba1c", t), when, encounter=enc)
                    continue
                results = []
                for key in _PANELS[panel][2]:
                    if key == "glucose" and org["key"] == "lakeview" and vi % 4 == 1:
                        value = self.lab_value("glucose", t) / 18.016
                        results.append(
                            self.lab(
                                org,
                                key,
                                round(value, 1),
                                when,
                                unit="mmol/L",
                                low=3.9,
                                high=5.5,
                                encounter=enc,
                            )
                        )
                    else:
                        results.append(self.lab(org, key, self.lab_value(key, t), when, encounter=enc))
                self.report(org, panel, when, results)

        kinds = ("bp", "weight", "bmi", "hr", "temp", "spo2", "height")
        v_left = n_vitals
        vt_count = max(1, n_vitals // 5)
        vtimes = sorted(rng.random() for _ in range(vt_count))
        vi = 0
        while v_left > 0:
            t = vtimes[vi % vt_count]
            enc = enc_near(t)
            org = (
                self.hie_orgs[1]
                if enc is None
                else {o["ref"]: o for o in self.hie_orgs}.get(enc["serviceProvider"]["reference"], self.hie_orgs[1])
            )
            when = (
                enc["period"]["start"] if enc is not None and abs(enc["_t"] - t) < 0.01 else self.when(self.day_at(t))
            )
            for kind in kinds[: min(v_left, 4 if vi % 3 else 7)]:
                self.vital(org, kind, when, t, enc)
                v_left -= 1
            vi += 1

        for i in range(n_prov):
            enc = encs[i]
            org = {o["ref"]: o for o in self.hie_orgs}[enc["serviceProvider"]["reference"]]
            self.provenance(org, [enc], enc["period"]["end"])

        for enc in encs:
            del enc["_t"]
        if self.shape != "clean":
            self.convert_pass()
        return self.bundle()

    def mess(self, remaining: int) -> None:
        """The irregularities real exchanged records have, present whenever the size allows."""
        if remaining < 16:
            return
        hie_a, hie_b, urgent = self.hie_orgs
        htn = _CONDITIONS[0]
        # The same condition from two organizations (the second: ICD-10 code only, no display).
        self.condition(hie_a, htn, self.when(self.day_at(0.1)))
        self.condition(hie_b, htn, "2016", mode="icd-nodisplay")
        # A SNOMED coding with no display, a text-only concept, a partial month date.
        self.condition(
            hie_b,
            ("40930008", "Hypothyroidism", "E03.9", "Hypothyroidism, unspecified", True),
            "2019-03",
            mode="sct-nodisplay",
        )
        self.condition(urgent, ("", "Seasonal allergies", "", "", True), "2019", mode="text")
        # The same medication prescribed by a clinic and dispensed by the pharmacy; one without display.
        lisinopril = _MEDS[0]
        self.med_request(hie_b, lisinopril, self.when(self.day_at(0.12)))
        self.med_statement(lisinopril, self.day_at(0.13).isoformat())
        self.med_statement(_MEDS[2], self.day_at(0.52).isoformat(), display=False)
        # Partial-date immunization and procedure.
        self.immunization(hie_b, _VACCINES[3], "2019-03")
        self.procedure(hie_a, _PROCEDURES[5], "2012")
        # Glucose in mg/dL (lab) and in mmol/L (clinic), a "<5" valueString, an Observation with only issued.
        lab = self.orgs["northstar"]
        when = self.when(self.day_at(0.9), hour=8)
        self.lab(lab, "glucose", self.lab_value("glucose", 0.9), when)
        self.lab(
            hie_b,
            "glucose",
            round(self.lab_value("glucose", 0.9) / 18.016, 1),
            self.when(self.day_at(0.91), hour=9),
            unit="mmol/L",
            low=3.9,
            high=5.5,
        )
        obs = self.lab(lab, "tsh", 1.8, when)
        obs["code"] = self.cc(LOINC, "14957-5", "Microalbumin [Mass/volume] in Urine", "Urine microalbumin")
        del obs["valueQuantity"]
        obs["valueString"] = "<5"
        obs["referenceRange"] = [{"text": "<30 mg/L"}]
        obs["interpretation"] = [self.cc(INTERP, "N", "Normal")]
        vitd = self.lab(hie_a, "tsh", 0, when)
        vitd["code"] = self.cc(
            LOINC, "1989-3", "25-Hydroxyvitamin D3 [Mass/volume] in Serum or Plasma", "Vitamin D, 25-hydroxy"
        )
        vitd["valueQuantity"] = self.qty(18.0, "ng/mL")
        vitd["referenceRange"] = [{"low": self.qty(30, "ng/mL"), "high": self.qty(100, "ng/mL")}]
        vitd["interpretation"] = [self.cc(INTERP, "L", "Low")]
        del vitd["effectiveDateTime"]
        vitd["issued"] = self.when(self.day_at(0.6))
        # An allergy recorded as free text only.
        allergy = self.allergy(urgent, _ALLERGIES[0], "2010")
        allergy["code"] = {"text": "PCN - hives as a child"}
        allergy["category"] = ["medication"]

    def bundle(self) -> dict:
        return {
            "resourceType": "Bundle",
            "id": f"{_seed_int('bundle', self.seed, self.size, self.persona):016x}",
            "type": "collection",
            "timestamp": f"{ANCHOR.isoformat()}T12:00:00Z",
            "total": len(self.entries),
            "entry": self.entries,
        }


def ccda_document(*, title: str, day: str, patient: str, author: str, custodian: str = "") -> bytes:
    """A C-CDA 2.1 Continuity of Care Document whose sections carry real narrative markup.

    The narrative (`<text>`) uses what exchanged documents use: paragraphs, tables with a caption,
    head and body, lists, `<content>` with ``styleCode`` and ``ID``, ``<br/>``, ``<linkHtml>``,
    footnote-style ``<sup>``, so a reader of the document has something real to render.
    """
    from xml.sax.saxutils import escape, quoteattr

    stamp = day.replace("-", "")
    pretty = f"{day[5:7]}/{day[8:10]}/{day[:4]}"
    sections = [
        (
            "48765-2",
            "Allergies and Adverse Reactions",
            '<table border="1" width="100%"><caption>Allergies</caption>'
            "<thead><tr><th>Substance</th><th>Reaction</th><th>Severity</th><th>Status</th></tr></thead>"
            '<tbody><tr ID="allergy1"><td><content ID="allergen1">Penicillin G</content></td>'
            '<td>Hives</td><td><content styleCode="Bold">Moderate</content></td><td>Active</td></tr>'
            '<tr ID="allergy2"><td><content ID="allergen2">Shellfish</content></td><td>Nausea</td>'
            "<td>Mild</td><td>Active</td></tr></tbody></table>",
        ),
        (
            "11450-4",
            "Problems",
            '<list listType="ordered"><caption>Active problems</caption>'
            '<item><content ID="problem1">Essential hypertension</content> (since 2012)</item>'
            '<item><content ID="problem2">Type 2 diabetes mellitus</content>'
            "<list><item>Last HbA1c 7.2 %</item><item>Foot exam normal</item></list></item>"
            '<item><content styleCode="Italics">Hyperlipidemia</content></item></list>'
            '<paragraph>Resolved: <content styleCode="Underline">Acute bronchitis</content>.</paragraph>',
        ),
        (
            "10160-0",
            "Medications",
            '<table border="1" width="100%"><thead><tr><th>Medication</th><th>Directions</th>'
            "<th>Start date</th><th>Status</th></tr></thead><tbody>"
            "<tr><td>lisinopril 10 MG Oral Tablet</td><td>Take 1 tablet by mouth once daily</td>"
            "<td>03/14/2012</td><td>Active</td></tr>"
            "<tr><td>metformin hydrochloride 500 MG Oral Tablet</td>"
            "<td>Take 1 tablet by mouth twice daily<br/>with meals</td><td>06/02/2016</td><td>Active</td></tr>"
            "</tbody></table>",
        ),
        (
            "30954-2",
            "Results",
            '<table border="1" width="100%"><caption>Basic metabolic panel, ' + pretty + "</caption>"
            "<thead><tr><th>Test</th><th>Result</th><th>Units</th><th>Reference range</th></tr></thead>"
            "<tbody><tr><td>Creatinine</td><td>1.21</td><td>mg/dL</td><td>0.60-1.30</td></tr>"
            '<tr><td>eGFR</td><td><content styleCode="Bold">58</content><sup>L</sup></td>'
            "<td>mL/min/{1.73_m2}</td><td>&gt;60</td></tr>"
            "<tr><td>WBC</td><td>6.4</td><td>10*9/L</td><td>4.5-11.0</td></tr></tbody></table>",
        ),
        (
            "29762-2",
            "Social History",
            '<paragraph>Tobacco: <content styleCode="Bold">former smoker</content>, quit 2015.'
            "<br/>Alcohol: 2 drinks per week.</paragraph>",
        ),
        (
            "18776-5",
            "Plan of Treatment",
            '<paragraph>Follow up in <content styleCode="Bold Italics">3 months</content>.</paragraph>'
            '<list listType="unordered"><item>Repeat HbA1c and kidney function</item>'
            "<item>Diabetes education: "
            '<linkHtml href="https://www.cdc.gov/diabetes/">CDC diabetes basics</linkHtml></item></list>',
        ),
    ]
    body = "".join(
        "<component><section>"
        f'<code code="{code}" codeSystem="2.16.840.1.113883.6.1" displayName={quoteattr(name)}/>'
        f"<title>{escape(name)}</title><text>{narrative}</text></section></component>\n"
        for code, name, narrative in sections
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        '  <realmCode code="US"/>\n'
        '  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>\n'
        '  <templateId root="2.16.840.1.113883.10.20.22.1.2" extension="2015-08-01"/>\n'
        '  <code code="34133-9" codeSystem="2.16.840.1.113883.6.1"'
        ' displayName="Summarization of episode note"/>\n'
        f"  <title>{escape(title)}</title>\n"
        f'  <effectiveTime value="{stamp}090000-0500"/>\n'
        '  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>\n'
        f"  <recordTarget><patientRole><patient><name>{escape(patient)}</name></patient></patientRole>"
        "</recordTarget>\n"
        f'  <author><time value="{stamp}"/><assignedAuthor><assignedPerson><name>{escape(author)}</name>'
        "</assignedPerson></assignedAuthor></author>\n"
        + (
            "  <custodian><assignedCustodian><representedCustodianOrganization>"
            f"<name>{escape(custodian)}</name></representedCustodianOrganization></assignedCustodian></custodian>\n"
            if custodian
            else ""
        )
        + f"  <component><structuredBody>\n{body}  </structuredBody></component>\n"
        "</ClinicalDocument>\n"
    ).encode()


def minimal_pdf(text: str) -> bytes:
    """A minimal, valid one-page PDF holding one line of text."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1", "replace")
    stream = b"BT /F1 12 Tf 72 720 Td (" + safe + b") Tj ET"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def generate_bundle(
    *,
    seed: str,
    size: int = 400,
    persona: str = "ordinary",
    demographics: dict | None = None,
    shape: str = "clean",
) -> dict:
    """A FHIR R4 collection Bundle of exactly ``size`` resources, deterministic for its arguments.

    ``shape`` (one of ``SHAPES``) says what the network's data looks like: "clean" (the default
    here) is US Core as the generator always made it; "converted" reshapes every hospital-network
    resource as Metriport's C-CDA->FHIR converter writes it and adds, per hospital organization,
    what only converted documents bring (social history, family history, coverage, care plan,
    goal, device, related person, composition, unlinked encounters, C-CDA and PDF documents by
    link); "mixed" (the sandbox's default, ``SANDBOX_RECORD_SHAPE``) has the same additions and
    converts about half of each hospital organization's resources. ``CONVERTER_SHAPES`` names every
    converter shape a "converted" or "mixed" record of 200 resources or more holds.

    ``demographics`` uses the network's patient shape (firstName, lastName, dob, genderAtBirth,
    address, contact, and optionally id for the Patient's id); missing fields are made up from
    the seed. Persona "norecords" yields the Patient alone; other personas shape the network's
    behaviour, not the record (the sandbox picks the size for "large").
    """
    if persona not in PERSONAS:
        raise ValueError("unknown persona")
    if size < 1:
        raise ValueError("size must be positive")
    if shape not in SHAPES:
        raise ValueError("unknown shape")
    # Millions of small dicts and no cycles: the cyclic collector would only rescan them, repeatedly.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Gen(seed=seed, size=int(size), persona=persona, demographics=demographics, shape=shape).run()
    finally:
        if was_enabled:
            gc.enable()
