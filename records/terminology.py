"""Names for code-only concepts, and everyday names and search words for common lab tests.

Real converted records often carry a code with no display ("SNOMED CT 40930008"); a person needs
the name. ICD-10-CM names come from the maintained `simple-icd-10-cm` package (the full code set,
shipped with the package, no network), read through a small index built from it once
(`records.icd10cm`). LOINC, SNOMED CT, RxNorm and CVX have no such small, openly licensed library,
so Homeport ships reviewed tables of the common codes: the ones the sandbox generator uses plus the
most common labs, conditions, vaccines and medications.

The API is small: `code_name(system, code)`, `lab_everyday_name(code)`, `lab_official_name(code)`,
`lab_codes_matching(words)` and `relationship_name(code)`; `own_name_in_language(system, code, name)`
shows Homeport's own names in Spanish when the active language is Spanish; `code_sets_preload()`
builds the ICD-10-CM index ahead of first use.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import unicodedata

from records import icd10cm, page_language

logger = logging.getLogger(__name__)

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

# Other spellings of the same systems seen in converted C-CDA documents (OIDs and variants).
SYSTEM_ALIASES = {
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "2.16.840.1.113883.6.1": LOINC,
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "2.16.840.1.113883.6.96": SNOMED,
    "http://snomed.info/sct/": SNOMED,
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
    "2.16.840.1.113883.6.88": RXNORM,
    "http://www.nlm.nih.gov/research/umls/rxnorm/": RXNORM,
    "urn:oid:2.16.840.1.113883.12.292": CVX,
    "2.16.840.1.113883.12.292": CVX,
    "http://hl7.org/fhir/sid/cvx/": CVX,
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "2.16.840.1.113883.6.90": ICD10CM,
    "http://hl7.org/fhir/sid/icd-10-cm/": ICD10CM,
    "urn:oid:2.16.840.1.113883.5.111": ROLE_CODE,
    "2.16.840.1.113883.5.111": ROLE_CODE,
    "http://hl7.org/fhir/v3/RoleCode": ROLE_CODE,
}

# LOINC code -> (official long common name, everyday name, extra search words).
# An empty everyday name means the official name is already plain.
LAB_TESTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # blood sugar
    "2345-7": ("Glucose [Mass/volume] in Serum or Plasma", "Blood sugar (glucose)", ("sugar", "diabetes")),
    "2339-0": ("Glucose [Mass/volume] in Blood", "Blood sugar (glucose)", ("sugar", "diabetes")),
    "1558-6": ("Fasting glucose [Mass/volume] in Serum or Plasma", "Fasting blood sugar", ("sugar", "diabetes")),
    "4548-4": ("Hemoglobin A1c/Hemoglobin.total in Blood", "Hemoglobin A1c", ("a1c", "hba1c", "sugar", "diabetes")),
    "17856-6": (
        "Hemoglobin A1c/Hemoglobin.total in Blood by HPLC",
        "Hemoglobin A1c",
        ("a1c", "hba1c", "sugar", "diabetes"),
    ),
    # kidneys
    "2160-0": ("Creatinine [Mass/volume] in Serum or Plasma", "Creatinine", ("kidney",)),
    "38483-4": ("Creatinine [Mass/volume] in Blood", "Creatinine", ("kidney",)),
    "3094-0": ("Urea nitrogen [Mass/volume] in Serum or Plasma", "Urea nitrogen (BUN)", ("bun", "kidney", "urea")),
    "6299-2": ("Urea nitrogen [Mass/volume] in Blood", "Urea nitrogen (BUN)", ("bun", "kidney", "urea")),
    "33914-3": (
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by "
        "Creatinine-based formula (MDRD)",
        "Kidney function (eGFR)",
        ("egfr", "gfr", "kidney", "filtration"),
    ),
    "48642-3": (
        "Glomerular filtration rate/1.73 sq M.predicted among non-blacks [Volume Rate/Area] in Serum, Plasma "
        "or Blood by Creatinine-based formula (MDRD)",
        "Kidney function (eGFR)",
        ("egfr", "gfr", "kidney", "filtration"),
    ),
    "48643-1": (
        "Glomerular filtration rate/1.73 sq M.predicted among blacks [Volume Rate/Area] in Serum, Plasma or "
        "Blood by Creatinine-based formula (MDRD)",
        "Kidney function (eGFR)",
        ("egfr", "gfr", "kidney", "filtration"),
    ),
    "62238-1": (
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by "
        "Creatinine-based formula (CKD-EPI)",
        "Kidney function (eGFR)",
        ("egfr", "gfr", "kidney", "filtration"),
    ),
    "98979-8": (
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by "
        "Creatinine-based formula (CKD-EPI 2021)",
        "Kidney function (eGFR)",
        ("egfr", "gfr", "kidney", "filtration"),
    ),
    "14959-1": (
        "Microalbumin/Creatinine [Mass Ratio] in Urine",
        "Urine albumin/creatinine ratio",
        ("kidney", "microalbumin", "uacr", "urine"),
    ),
    "9318-7": (
        "Albumin/Creatinine [Mass Ratio] in Urine",
        "Urine albumin/creatinine ratio",
        ("kidney", "microalbumin", "uacr", "urine"),
    ),
    # salts and minerals
    "2951-2": ("Sodium [Moles/volume] in Serum or Plasma", "Sodium", ("salt", "electrolyte")),
    "2947-0": ("Sodium [Moles/volume] in Blood", "Sodium", ("salt", "electrolyte")),
    "2823-3": ("Potassium [Moles/volume] in Serum or Plasma", "Potassium", ("electrolyte",)),
    "6298-4": ("Potassium [Moles/volume] in Blood", "Potassium", ("electrolyte",)),
    "2075-0": ("Chloride [Moles/volume] in Serum or Plasma", "Chloride", ("electrolyte",)),
    "2028-9": (
        "Carbon dioxide, total [Moles/volume] in Serum or Plasma",
        "Carbon dioxide (bicarbonate)",
        ("co2", "bicarbonate", "electrolyte"),
    ),
    "1963-8": ("Bicarbonate [Moles/volume] in Serum or Plasma", "Bicarbonate", ("co2", "electrolyte")),
    "17861-6": ("Calcium [Mass/volume] in Serum or Plasma", "Calcium", ()),
    "19123-9": ("Magnesium [Mass/volume] in Serum or Plasma", "Magnesium", ()),
    "2777-1": ("Phosphate [Mass/volume] in Serum or Plasma", "Phosphate", ("phosphorus",)),
    "3084-1": ("Urate [Mass/volume] in Serum or Plasma", "Uric acid", ("urate", "gout")),
    # liver and proteins
    "2885-2": ("Protein [Mass/volume] in Serum or Plasma", "Total protein", ()),
    "1751-7": ("Albumin [Mass/volume] in Serum or Plasma", "Albumin", ("liver", "protein")),
    "1975-2": ("Bilirubin.total [Mass/volume] in Serum or Plasma", "Bilirubin (total)", ("liver",)),
    "6768-6": (
        "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
        "Alkaline phosphatase (ALP)",
        ("alp", "liver", "bone"),
    ),
    "1742-6": (
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "Liver enzyme (ALT)",
        ("alt", "sgpt", "liver"),
    ),
    "1920-8": (
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "Liver enzyme (AST)",
        ("ast", "sgot", "liver"),
    ),
    "2324-2": (
        "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma",
        "Liver enzyme (GGT)",
        ("ggt", "liver"),
    ),
    # cholesterol
    "2093-3": ("Cholesterol [Mass/volume] in Serum or Plasma", "Cholesterol (total)", ("lipid", "fat")),
    "2571-8": ("Triglyceride [Mass/volume] in Serum or Plasma", "Triglycerides", ("cholesterol", "lipid", "fat")),
    "2085-9": ("Cholesterol in HDL [Mass/volume] in Serum or Plasma", "Cholesterol (HDL)", ("hdl", "good", "lipid")),
    "13457-7": (
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
        "Cholesterol (LDL)",
        ("ldl", "bad", "lipid"),
    ),
    "18262-6": (
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay",
        "Cholesterol (LDL)",
        ("ldl", "bad", "lipid"),
    ),
    "2089-1": ("Cholesterol in LDL [Mass/volume] in Serum or Plasma", "Cholesterol (LDL)", ("ldl", "bad", "lipid")),
    # blood count
    "6690-2": (
        "Leukocytes [#/volume] in Blood by Automated count",
        "White blood cells",
        ("wbc", "white", "infection"),
    ),
    "26464-8": ("Leukocytes [#/volume] in Blood", "White blood cells", ("wbc", "white", "infection")),
    "789-8": ("Erythrocytes [#/volume] in Blood by Automated count", "Red blood cells", ("rbc", "red", "anemia")),
    "718-7": ("Hemoglobin [Mass/volume] in Blood", "Hemoglobin", ("hgb", "anemia", "blood count")),
    "4544-3": ("Hematocrit [Volume Fraction] of Blood by Automated count", "Hematocrit", ("hct", "anemia")),
    "20570-8": ("Hematocrit [Volume Fraction] of Blood", "Hematocrit", ("hct", "anemia")),
    "787-2": ("MCV [Entitic volume] by Automated count", "Red cell size (MCV)", ("mcv", "anemia")),
    "785-6": ("MCH [Entitic mass] by Automated count", "Hemoglobin per red cell (MCH)", ("mch",)),
    "786-4": ("MCHC [Mass/volume] by Automated count", "Hemoglobin concentration in red cells (MCHC)", ("mchc",)),
    "788-0": (
        "Erythrocyte distribution width [Ratio] by Automated count",
        "Red cell size range (RDW)",
        ("rdw",),
    ),
    "777-3": ("Platelets [#/volume] in Blood by Automated count", "Platelets", ("plt", "clotting")),
    "770-8": ("Neutrophils/100 leukocytes in Blood by Automated count", "Neutrophils (%)", ("white",)),
    "736-9": ("Lymphocytes/100 leukocytes in Blood by Automated count", "Lymphocytes (%)", ("white",)),
    # thyroid, vitamins, iron, other
    "3016-3": ("Thyrotropin [Units/volume] in Serum or Plasma", "Thyroid (TSH)", ("tsh", "thyroid")),
    "3024-7": ("Thyroxine (T4) free [Mass/volume] in Serum or Plasma", "Thyroid (free T4)", ("t4", "thyroid")),
    "62292-8": (
        "25-Hydroxyvitamin D2+25-Hydroxyvitamin D3 [Mass/volume] in Serum or Plasma",
        "Vitamin D",
        ("vitamin d",),
    ),
    "2132-9": ("Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma", "Vitamin B12", ("b12", "vitamin")),
    "2276-4": ("Ferritin [Mass/volume] in Serum or Plasma", "Ferritin (iron stores)", ("iron", "anemia")),
    "2498-4": ("Iron [Mass/volume] in Serum or Plasma", "Iron", ("anemia",)),
    "1988-5": ("C reactive protein [Mass/volume] in Serum or Plasma", "Inflammation (CRP)", ("crp",)),
    "2857-1": ("Prostate specific Ag [Mass/volume] in Serum or Plasma", "Prostate (PSA)", ("psa", "prostate")),
    "5902-2": ("Prothrombin time (PT)", "Clotting time (PT)", ("pt", "clotting")),
    "6301-6": (
        "INR in Platelet poor plasma by Coagulation assay",
        "Clotting (INR)",
        ("inr", "clotting", "warfarin"),
    ),
    # panels
    "24323-8": (
        "Comprehensive metabolic 2000 panel - Serum or Plasma",
        "Comprehensive metabolic panel (CMP)",
        ("cmp", "metabolic"),
    ),
    "24321-2": (
        "Basic metabolic 2000 panel - Serum or Plasma",
        "Basic metabolic panel (BMP)",
        ("bmp", "metabolic"),
    ),
    "51990-0": ("Basic metabolic panel - Blood", "Basic metabolic panel (BMP)", ("bmp", "metabolic")),
    "57698-3": (
        "Lipid panel with direct LDL - Serum or Plasma",
        "Cholesterol panel (lipids)",
        ("cholesterol", "lipid"),
    ),
    "24331-1": ("Lipid 1996 panel - Serum or Plasma", "Cholesterol panel (lipids)", ("cholesterol", "lipid")),
    "58410-2": ("CBC panel - Blood by Automated count", "Complete blood count (CBC)", ("cbc", "blood count")),
    "57021-8": ("CBC W Auto Differential panel - Blood", "Complete blood count (CBC)", ("cbc", "blood count")),
    "24325-3": ("Hepatic function 2000 panel - Serum or Plasma", "Liver panel", ("liver", "hepatic")),
    "24357-6": ("Urinalysis macro (dipstick) panel - Urine", "Urinalysis", ("urine",)),
}

# LOINC codes that are not lab tests: vitals, social history, documents.
LOINC_NAMES = {
    "8310-5": "Body temperature",
    "8867-4": "Heart rate",
    "9279-1": "Respiratory rate",
    "8480-6": "Systolic blood pressure",
    "8462-4": "Diastolic blood pressure",
    "85354-9": "Blood pressure",
    "55284-4": "Blood pressure",
    "29463-7": "Body weight",
    "3141-9": "Body weight",
    "8302-2": "Body height",
    "39156-5": "Body mass index (BMI)",
    "59408-5": "Oxygen saturation (pulse oximetry)",
    "2708-6": "Oxygen saturation",
    "8287-5": "Head circumference",
    "72166-2": "Smoking status",
    "11367-0": "Tobacco use",
    "11331-6": "Alcohol use",
    "74013-4": "Alcoholic drinks per day",
    "76689-9": "Sex assigned at birth",
    "82810-3": "Pregnancy status",
    "29762-2": "Social history",
    "34133-9": "Summary of care",
    "60591-5": "Patient summary",
    "11506-3": "Progress note",
    "18842-5": "Discharge summary",
    "34117-2": "History and physical note",
    "11488-4": "Consultation note",
    "28570-0": "Procedure note",
    "11502-2": "Laboratory report",
    "18748-4": "Imaging report",
    "48765-2": "Allergies",
    "11450-4": "Problem list",
    "10160-0": "Medication history",
}

SNOMED_NAMES = {
    # conditions
    "59621000": "Essential hypertension",
    "38341003": "High blood pressure (hypertension)",
    "44054006": "Type 2 diabetes",
    "46635009": "Type 1 diabetes",
    "73211009": "Diabetes",
    "15777000": "Prediabetes",
    "55822004": "High cholesterol (hyperlipidemia)",
    "700378005": "Chronic kidney disease stage 3a",
    "709044004": "Chronic kidney disease",
    "414916001": "Obesity",
    "162864005": "Obesity (body mass index 30 or more)",
    "235595009": "Acid reflux (gastroesophageal reflux disease)",
    "195967001": "Asthma",
    "13645005": "Chronic obstructive lung disease (COPD)",
    "239873007": "Osteoarthritis of knee",
    "396275006": "Osteoarthritis",
    "69896004": "Rheumatoid arthritis",
    "64859006": "Osteoporosis",
    "35489007": "Depression",
    "197480006": "Anxiety disorder",
    "37796009": "Migraine",
    "34713006": "Vitamin D deficiency",
    "40930008": "Underactive thyroid (hypothyroidism)",
    "49436004": "Atrial fibrillation",
    "53741008": "Coronary artery disease",
    "84114007": "Heart failure",
    "42343007": "Congestive heart failure",
    "22298006": "Heart attack (myocardial infarction)",
    "230690007": "Stroke",
    "271737000": "Anemia",
    "78275009": "Obstructive sleep apnea",
    "26929004": "Alzheimer's disease",
    "24700007": "Multiple sclerosis",
    "10509002": "Acute bronchitis",
    "44465007": "Sprain of ankle",
    "444814009": "Viral sinusitis",
    "36971009": "Sinusitis",
    "233604007": "Pneumonia",
    "65363002": "Ear infection (otitis media)",
    "68566005": "Urinary tract infection",
    "840539006": "COVID-19",
    "43878008": "Strep throat",
    "279039007": "Low back pain",
    "25064002": "Headache",
    "386661006": "Fever",
    "49727002": "Cough",
    "267036007": "Shortness of breath",
    "21522001": "Abdominal pain",
    "57676002": "Joint pain",
    "72892002": "Normal pregnancy",
    # reactions
    "247472004": "Hives",
    "39579001": "Anaphylaxis",
    "271807003": "Skin rash",
    "422587007": "Nausea",
    "418290006": "Itching",
    "267038008": "Swelling (edema)",
    "4386001": "Bronchospasm",
    "422400008": "Vomiting",
    "62315008": "Diarrhea",
    # allergens
    "764146007": "Penicillin",
    "256349002": "Peanut",
    "111088007": "Latex",
    "387406002": "Sulfonamide",
    "716186003": "No known allergy",
    # procedures and visit types
    "29303009": "Electrocardiogram (ECG)",
    "73761001": "Colonoscopy",
    "399208008": "Chest X-ray",
    "71651007": "Mammogram",
    "76164006": "Biopsy of colon",
    "80146002": "Appendectomy",
    "182813001": "Emergency treatment",
    "252160004": "Hearing test (audiometry)",
    "185349003": "Check-up visit",
    "390906007": "Follow-up visit",
    "185345009": "Visit for a symptom",
    "50849002": "Emergency room admission",
    "183452005": "Emergency hospital admission",
    "448337001": "Telemedicine visit",
    # smoking status answers
    "266919005": "Never smoked tobacco",
    "8517006": "Former smoker",
    "77176002": "Smoker",
    "449868002": "Smokes tobacco daily",
    "428041000124106": "Occasional tobacco smoker",
    "266927001": "Smoking status unknown",
}

RXNORM_NAMES = {
    "314076": "lisinopril 10 MG Oral Tablet",
    "861007": "metformin hydrochloride 500 MG Oral Tablet",
    "617310": "atorvastatin 20 MG Oral Tablet",
    "197361": "amlodipine 5 MG Oral Tablet",
    "310798": "hydrochlorothiazide 25 MG Oral Tablet",
    "198053": "omeprazole 20 MG Delayed Release Oral Capsule",
    "745679": "albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
    "312941": "sertraline 50 MG Oral Tablet",
    "197806": "ibuprofen 600 MG Oral Tablet",
    "308191": "amoxicillin 500 MG Oral Capsule",
    "316965": "cholecalciferol 1000 UNT Oral Tablet",
    "1545658": "empagliflozin 10 MG Oral Tablet",
    # ingredients (allergies and medication lists often use them)
    "6809": "metformin",
    "29046": "lisinopril",
    "83367": "atorvastatin",
    "17767": "amlodipine",
    "5487": "hydrochlorothiazide",
    "7646": "omeprazole",
    "435": "albuterol",
    "36437": "sertraline",
    "5640": "ibuprofen",
    "723": "amoxicillin",
    "70618": "penicillin",
    "1191": "aspirin",
    "161": "acetaminophen",
    "11289": "warfarin",
    "10582": "levothyroxine",
    "4603": "furosemide",
    "6918": "metoprolol",
    "36567": "simvastatin",
    "52175": "losartan",
    "8640": "prednisone",
    "25480": "gabapentin",
    "32968": "clopidogrel",
    "1364430": "apixaban",
    "18631": "azithromycin",
    "2551": "ciprofloxacin",
    "3640": "doxycycline",
    "321988": "escitalopram",
    "42347": "bupropion",
}

CVX_NAMES = {
    "140": "Flu vaccine (seasonal, preservative free)",
    "141": "Flu vaccine (seasonal)",
    "150": "Flu vaccine (quadrivalent, preservative free)",
    "158": "Flu vaccine (quadrivalent)",
    "88": "Flu vaccine",
    "208": "COVID-19 vaccine (Pfizer-BioNTech)",
    "207": "COVID-19 vaccine (Moderna)",
    "212": "COVID-19 vaccine (Janssen)",
    "213": "COVID-19 vaccine",
    "115": "Tetanus, diphtheria and whooping cough vaccine (Tdap)",
    "113": "Tetanus and diphtheria vaccine (Td)",
    "09": "Tetanus and diphtheria vaccine (Td)",
    "20": "Diphtheria, tetanus and whooping cough vaccine (DTaP)",
    "133": "Pneumococcal conjugate vaccine (PCV13)",
    "33": "Pneumococcal polysaccharide vaccine (PPSV23)",
    "152": "Pneumococcal conjugate vaccine",
    "187": "Shingles vaccine (recombinant)",
    "121": "Shingles vaccine (live)",
    "43": "Hepatitis B vaccine (adult)",
    "08": "Hepatitis B vaccine (child)",
    "52": "Hepatitis A vaccine (adult)",
    "83": "Hepatitis A vaccine (child)",
    "03": "Measles, mumps and rubella vaccine (MMR)",
    "21": "Chickenpox vaccine (varicella)",
    "62": "HPV vaccine (quadrivalent)",
    "165": "HPV vaccine (9-valent)",
    "10": "Polio vaccine (IPV)",
    "114": "Meningococcal vaccine (MCV4)",
}

# HL7 v3 RoleCode family relationships (FamilyMemberHistory.relationship, RelatedPerson.relationship).
RELATIONSHIP_NAMES = {
    "FTH": "Father",
    "MTH": "Mother",
    "PRN": "Parent",
    "BRO": "Brother",
    "SIS": "Sister",
    "SIB": "Sibling",
    "SON": "Son",
    "DAU": "Daughter",
    "CHILD": "Child",
    "GRFTH": "Grandfather",
    "GRMTH": "Grandmother",
    "MGRFTH": "Maternal grandfather",
    "MGRMTH": "Maternal grandmother",
    "PGRFTH": "Paternal grandfather",
    "PGRMTH": "Paternal grandmother",
    "UNCLE": "Uncle",
    "AUNT": "Aunt",
    "COUSN": "Cousin",
    "SPS": "Spouse",
    "HUSB": "Husband",
    "WIFE": "Wife",
    "DOMPART": "Domestic partner",
    "FRND": "Friend",
    "GUARD": "Guardian",
    "ECON": "Emergency contact",
    "NOK": "Next of kin",
}

_TABLES = {SNOMED: SNOMED_NAMES, RXNORM: RXNORM_NAMES, CVX: CVX_NAMES}


# Spanish for Homeport's own everyday names, keyed by the English name (English stays the source of
# truth). Shown when the active language is Spanish; names a source gave itself are never translated.
SPANISH_NAMES = {
    # lab tests
    "Albumin": "Albúmina",
    "Alkaline phosphatase (ALP)": "Fosfatasa alcalina (ALP)",
    "Basic metabolic panel (BMP)": "Panel metabólico básico (BMP)",
    "Bicarbonate": "Bicarbonato",
    "Bilirubin (total)": "Bilirrubina (total)",
    "Blood sugar (glucose)": "Azúcar en la sangre (glucosa)",
    "Calcium": "Calcio",
    "Carbon dioxide (bicarbonate)": "Dióxido de carbono (bicarbonato)",
    "Chloride": "Cloruro",
    "Cholesterol (HDL)": "Colesterol HDL",
    "Cholesterol (LDL)": "Colesterol LDL",
    "Cholesterol (total)": "Colesterol total",
    "Cholesterol panel (lipids)": "Panel de colesterol (lípidos)",
    "Clotting (INR)": "Coagulación (INR)",
    "Clotting time (PT)": "Tiempo de coagulación (TP)",
    "Complete blood count (CBC)": "Hemograma completo (CBC)",
    "Comprehensive metabolic panel (CMP)": "Panel metabólico completo (CMP)",
    "Creatinine": "Creatinina",
    "Fasting blood sugar": "Azúcar en la sangre en ayunas",
    "Ferritin (iron stores)": "Ferritina (reservas de hierro)",
    "Hematocrit": "Hematocrito",
    "Hemoglobin": "Hemoglobina",
    "Hemoglobin A1c": "Hemoglobina A1c",
    "Hemoglobin concentration in red cells (MCHC)": "Concentración de hemoglobina en los glóbulos rojos (CHCM)",
    "Hemoglobin per red cell (MCH)": "Hemoglobina por glóbulo rojo (HCM)",
    "Inflammation (CRP)": "Inflamación (PCR)",
    "Iron": "Hierro",
    "Kidney function (eGFR)": "Función renal (TFGe)",
    "Liver enzyme (ALT)": "Enzima del hígado (ALT)",
    "Liver enzyme (AST)": "Enzima del hígado (AST)",
    "Liver enzyme (GGT)": "Enzima del hígado (GGT)",
    "Liver panel": "Panel del hígado",
    "Lymphocytes (%)": "Linfocitos (%)",
    "Magnesium": "Magnesio",
    "Neutrophils (%)": "Neutrófilos (%)",
    "Phosphate": "Fosfato",
    "Platelets": "Plaquetas",
    "Potassium": "Potasio",
    "Prostate (PSA)": "Próstata (PSA)",
    "Red blood cells": "Glóbulos rojos",
    "Red cell size (MCV)": "Tamaño de los glóbulos rojos (VCM)",
    "Red cell size range (RDW)": "Variación del tamaño de los glóbulos rojos (ADE)",
    "Sodium": "Sodio",
    "Thyroid (TSH)": "Tiroides (TSH)",
    "Thyroid (free T4)": "Tiroides (T4 libre)",
    "Total protein": "Proteína total",
    "Triglycerides": "Triglicéridos",
    "Urea nitrogen (BUN)": "Nitrógeno ureico (BUN)",
    "Uric acid": "Ácido úrico",
    "Urinalysis": "Análisis de orina",
    "Urine albumin/creatinine ratio": "Relación albúmina/creatinina en la orina",
    "Vitamin B12": "Vitamina B12",
    "Vitamin D": "Vitamina D",
    "White blood cells": "Glóbulos blancos",
    # vitals and other observations
    "Body temperature": "Temperatura corporal",
    "Heart rate": "Frecuencia cardíaca",
    "Respiratory rate": "Frecuencia respiratoria",
    "Systolic blood pressure": "Presión arterial sistólica",
    "Diastolic blood pressure": "Presión arterial diastólica",
    "Blood pressure": "Presión arterial",
    "Body weight": "Peso corporal",
    "Body height": "Estatura",
    "Body mass index (BMI)": "Índice de masa corporal (IMC)",
    "Oxygen saturation (pulse oximetry)": "Saturación de oxígeno (oximetría de pulso)",
    "Oxygen saturation": "Saturación de oxígeno",
    "Head circumference": "Circunferencia de la cabeza",
    "Smoking status": "Consumo de tabaco (fumador)",
    "Tobacco use": "Consumo de tabaco",
    "Alcohol use": "Consumo de alcohol",
    "Alcoholic drinks per day": "Bebidas alcohólicas por día",
    "Sex assigned at birth": "Sexo asignado al nacer",
    "Pregnancy status": "Estado de embarazo",
    "Social history": "Antecedentes sociales",
    "Summary of care": "Resumen de la atención",
    "Patient summary": "Resumen del paciente",
    "Progress note": "Nota de evolución",
    "Discharge summary": "Resumen del alta",
    "History and physical note": "Nota de historia clínica y examen físico",
    "Consultation note": "Nota de consulta",
    "Procedure note": "Nota del procedimiento",
    "Laboratory report": "Informe de laboratorio",
    "Imaging report": "Informe de imágenes",
    "Allergies": "Alergias",
    "Problem list": "Lista de problemas",
    "Medication history": "Historial de medicamentos",
    # conditions
    "Essential hypertension": "Hipertensión esencial",
    "High blood pressure (hypertension)": "Presión arterial alta (hipertensión)",
    "Type 2 diabetes": "Diabetes tipo 2",
    "Type 1 diabetes": "Diabetes tipo 1",
    "Diabetes": "Diabetes",
    "Prediabetes": "Prediabetes",
    "High cholesterol (hyperlipidemia)": "Colesterol alto (hiperlipidemia)",
    "Chronic kidney disease stage 3a": "Enfermedad renal crónica, etapa 3a",
    "Chronic kidney disease": "Enfermedad renal crónica",
    "Obesity": "Obesidad",
    "Obesity (body mass index 30 or more)": "Obesidad (índice de masa corporal de 30 o más)",
    "Acid reflux (gastroesophageal reflux disease)": "Reflujo ácido (enfermedad por reflujo gastroesofágico)",
    "Asthma": "Asma",
    "Chronic obstructive lung disease (COPD)": "Enfermedad pulmonar obstructiva crónica (EPOC)",
    "Osteoarthritis of knee": "Artrosis de la rodilla",
    "Osteoarthritis": "Artrosis",
    "Rheumatoid arthritis": "Artritis reumatoide",
    "Osteoporosis": "Osteoporosis",
    "Depression": "Depresión",
    "Anxiety disorder": "Trastorno de ansiedad",
    "Migraine": "Migraña",
    "Vitamin D deficiency": "Falta de vitamina D",
    "Underactive thyroid (hypothyroidism)": "Tiroides poco activa (hipotiroidismo)",
    "Atrial fibrillation": "Fibrilación auricular",
    "Coronary artery disease": "Enfermedad de las arterias coronarias",
    "Heart failure": "Insuficiencia cardíaca",
    "Congestive heart failure": "Insuficiencia cardíaca congestiva",
    "Heart attack (myocardial infarction)": "Ataque al corazón (infarto de miocardio)",
    "Stroke": "Derrame cerebral",
    "Anemia": "Anemia",
    "Obstructive sleep apnea": "Apnea obstructiva del sueño",
    "Alzheimer's disease": "Enfermedad de Alzheimer",
    "Multiple sclerosis": "Esclerosis múltiple",
    "Acute bronchitis": "Bronquitis aguda",
    "Sprain of ankle": "Esguince de tobillo",
    "Viral sinusitis": "Sinusitis viral",
    "Sinusitis": "Sinusitis",
    "Pneumonia": "Neumonía",
    # vaccines
    "Flu vaccine (seasonal, preservative free)": "Vacuna contra la gripe (de temporada, sin conservantes)",
    "Flu vaccine (seasonal)": "Vacuna contra la gripe (de temporada)",
    "Flu vaccine (quadrivalent, preservative free)": "Vacuna contra la gripe (tetravalente, sin conservantes)",
    "Flu vaccine (quadrivalent)": "Vacuna contra la gripe (tetravalente)",
    "Flu vaccine": "Vacuna contra la gripe",
    "COVID-19 vaccine (Pfizer-BioNTech)": "Vacuna contra el COVID-19 (Pfizer-BioNTech)",
    "COVID-19 vaccine (Moderna)": "Vacuna contra el COVID-19 (Moderna)",
    "COVID-19 vaccine (Janssen)": "Vacuna contra el COVID-19 (Janssen)",
    "COVID-19 vaccine": "Vacuna contra el COVID-19",
    "Tetanus, diphtheria and whooping cough vaccine (Tdap)": (
        "Vacuna contra el tétanos, la difteria y la tos ferina (Tdap)"
    ),
    "Tetanus and diphtheria vaccine (Td)": "Vacuna contra el tétanos y la difteria (Td)",
    "Diphtheria, tetanus and whooping cough vaccine (DTaP)": (
        "Vacuna contra la difteria, el tétanos y la tos ferina (DTaP)"
    ),
    "Pneumococcal conjugate vaccine (PCV13)": "Vacuna antineumocócica conjugada (PCV13)",
    "Pneumococcal polysaccharide vaccine (PPSV23)": "Vacuna antineumocócica de polisacáridos (PPSV23)",
    "Pneumococcal conjugate vaccine": "Vacuna antineumocócica conjugada",
    "Shingles vaccine (recombinant)": "Vacuna contra la culebrilla (recombinante)",
    "Shingles vaccine (live)": "Vacuna contra la culebrilla (de virus vivos)",
    "Hepatitis B vaccine (adult)": "Vacuna contra la hepatitis B (adultos)",
    "Hepatitis B vaccine (child)": "Vacuna contra la hepatitis B (niños)",
    "Hepatitis A vaccine (adult)": "Vacuna contra la hepatitis A (adultos)",
    "Hepatitis A vaccine (child)": "Vacuna contra la hepatitis A (niños)",
    "Measles, mumps and rubella vaccine (MMR)": "Vacuna contra el sarampión, las paperas y la rubéola (MMR)",
    "Chickenpox vaccine (varicella)": "Vacuna contra la varicela",
    "HPV vaccine (quadrivalent)": "Vacuna contra el VPH (tetravalente)",
    "HPV vaccine (9-valent)": "Vacuna contra el VPH (9-valente)",
    "Polio vaccine (IPV)": "Vacuna contra la polio (IPV)",
    "Meningococcal vaccine (MCV4)": "Vacuna antimeningocócica (MCV4)",
    # family
    "Father": "Padre",
    "Mother": "Madre",
    "Parent": "Padre o madre",
    "Brother": "Hermano",
    "Sister": "Hermana",
    "Sibling": "Hermano o hermana",
    "Son": "Hijo",
    "Daughter": "Hija",
    "Child": "Hijo o hija",
    "Grandfather": "Abuelo",
    "Grandmother": "Abuela",
    "Maternal grandfather": "Abuelo materno",
    "Maternal grandmother": "Abuela materna",
    "Paternal grandfather": "Abuelo paterno",
    "Paternal grandmother": "Abuela paterna",
    "Uncle": "Tío",
    "Aunt": "Tía",
    "Cousin": "Primo o prima",
    "Spouse": "Cónyuge",
    "Husband": "Esposo",
    "Wife": "Esposa",
    "Domestic partner": "Pareja de hecho",
    "Friend": "Amigo o amiga",
    "Guardian": "Tutor legal",
    "Emergency contact": "Contacto de emergencia",
    "Next of kin": "Familiar más cercano",
}

# Spanish words a person may search lab results with, by LOINC code of the everyday name's test.
SPANISH_LAB_SEARCH_WORDS = {
    "Blood sugar (glucose)": ("azúcar", "glucosa", "diabetes"),
    "Fasting blood sugar": ("azúcar", "glucosa", "ayunas", "diabetes"),
    "Hemoglobin A1c": ("azúcar", "diabetes", "a1c"),
    "Creatinine": ("riñón", "riñones", "renal"),
    "Urea nitrogen (BUN)": ("riñón", "riñones", "renal", "urea"),
    "Kidney function (eGFR)": ("riñón", "riñones", "renal", "tfge", "tfg", "filtración"),
    "Urine albumin/creatinine ratio": ("riñón", "riñones", "renal", "orina", "microalbúmina"),
    "Sodium": ("sal", "electrolitos"),
    "Potassium": ("electrolitos",),
    "Chloride": ("electrolitos",),
    "Cholesterol (HDL)": ("colesterol", "lípidos", "grasa", "bueno"),
    "Cholesterol (LDL)": ("colesterol", "lípidos", "grasa", "malo"),
    "Cholesterol (total)": ("colesterol", "lípidos", "grasa"),
    "Cholesterol panel (lipids)": ("colesterol", "lípidos", "grasa"),
    "Triglycerides": ("colesterol", "lípidos", "grasa"),
    "Liver enzyme (ALT)": ("hígado",),
    "Liver enzyme (AST)": ("hígado",),
    "Liver enzyme (GGT)": ("hígado",),
    "Liver panel": ("hígado",),
    "Complete blood count (CBC)": ("sangre", "hemograma", "anemia"),
    "Hemoglobin": ("anemia", "sangre"),
    "Thyroid (TSH)": ("tiroides",),
    "Thyroid (free T4)": ("tiroides",),
    "Urinalysis": ("orina",),
}


def _in_spanish() -> bool:
    return page_language.in_spanish()


def name_in_language(name: str) -> str:
    """One of Homeport's own everyday names in the active language ("Función renal (TFGe)")."""
    if name and _in_spanish():
        return SPANISH_NAMES.get(name, name)
    return name


def own_name_in_language(system: str, code: str, name: str) -> str:
    """`name` in the active language when it is Homeport's own everyday name for (system, code);
    a name the source gave itself is returned as the source wrote it."""
    if not name or not _in_spanish() or name not in SPANISH_NAMES:
        return name
    system = canonical_system(system)
    ours = code_name(system, code) if system != ICD10CM else ""
    return SPANISH_NAMES[name] if ours == name else name


def _folded(words: str) -> str:
    """Lower case without accents, so "azucar" finds "azúcar" and "riñon" finds "riñón"."""
    decomposed = unicodedata.normalize("NFKD", (words or "").lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def canonical_system(system: str) -> str:
    """The canonical URI of a code system written as a URI, a variant or a bare/urn OID."""
    system = (system or "").strip()
    return SYSTEM_ALIASES.get(system, SYSTEM_ALIASES.get(system.lower(), system))


def code_sets_preload() -> None:
    """Make sure the ICD-10-CM index exists now (the Celery worker does, before its pool forks)."""
    icd10cm.index_ensure()


@functools.lru_cache(maxsize=4096)
def icd10cm_name(code: str) -> str:
    """The ICD-10-CM description of a code (with or without its dot), or "" when it is not a code."""
    code = (code or "").strip().upper()
    if not code or len(code) > 10:
        return ""
    try:
        return icd10cm.description(code)
    except (icd10cm.CodeSetUnavailable, sqlite3.Error):
        logger.warning("ICD-10-CM index unavailable; ICD-10-CM codes are shown without names", exc_info=True)
        return ""


def code_name(system: str, code: str) -> str:
    """A person's name for a coded concept, or "" when Homeport does not know the code."""
    system, code = canonical_system(system), (code or "").strip()
    if not code:
        return ""
    if system == ICD10CM:
        return icd10cm_name(code)
    if system == LOINC:
        return lab_everyday_name(code) or LOINC_NAMES.get(code, "")
    if system == ROLE_CODE:
        return relationship_name(code)
    table = _TABLES.get(system)
    return table.get(code, "") if table else ""


def lab_everyday_name(code: str) -> str:
    """The short everyday name of a common lab test by LOINC code ("Kidney function (eGFR)")."""
    entry = LAB_TESTS.get((code or "").strip())
    return entry[1] if entry else ""


def lab_official_name(code: str) -> str:
    """The official LOINC long name of a common lab test."""
    entry = LAB_TESTS.get((code or "").strip())
    return entry[0] if entry else ""


def lab_codes_matching(words: str) -> set[str]:
    """LOINC codes of the lab tests whose everyday name, official name or synonyms contain `words`.

    "sugar" finds glucose and A1c, "kidney" finds eGFR, creatinine and BUN, "egfr" finds every eGFR;
    Spanish words too, with or without accents ("azúcar", "riñón").
    """
    needle = _folded(" ".join((words or "").split()))
    if len(needle) < 2:
        return set()
    found = set()
    for code, (official, everyday, synonyms) in LAB_TESTS.items():
        spanish = (SPANISH_NAMES.get(everyday, ""), *SPANISH_LAB_SEARCH_WORDS.get(everyday, ()))
        haystacks = (everyday, official, *synonyms, *spanish)
        if any(needle in _folded(words) for words in haystacks if words):
            found.add(code)
    return found


def relationship_name(code: str) -> str:
    return RELATIONSHIP_NAMES.get((code or "").strip().upper(), "")
