"""Particle's published example payloads, as its documentation and SDK docs print them.

Sources: docs.particlehealth.com ("Query & Query Status APIs", "Monitoring Notifications",
"Testing Signal in Sandbox") and ParticleHealth/particle-connect agent-documentation
(02-api-reference.md, 12-notification-data-contract.md). The sandbox and the portal are tested
against these shapes.
"""

# "Testing Signal in Sandbox": a sandbox test patient (the documentation writes gender "Female").
REGISTER_KAM = {
    "address_city": "Brooklyn",
    "address_lines": ["999 Dev Drive"],
    "address_state": "NY",
    "date_of_birth": "1954-12-01",
    "email": "kam@example.com",
    "family_name": "Quark-Nucleus",
    "gender": "Female",
    "given_name": "Kam",
    "postal_code": "11111",
    "patient_id": "kam-quark-1",
}

# The SDK's hello_particle demo patient (02-api-reference.md: required fields and formats).
REGISTER_ELVIRA = {
    "given_name": "Elvira",
    "family_name": "Valadez-Nucleus",
    "date_of_birth": "1970-12-26",
    "gender": "FEMALE",
    "postal_code": "02215",
    "address_city": "Boston",
    "address_state": "MA",
    "patient_id": "elvira-1",
    "address_lines": [],
    "telephone": "234-567-8910",
}

# "Query & Query Status APIs": the request and the response keys.
QUERY_REQUEST = {"purpose_of_use": "TREATMENT", "specialties": ["CARDIOLOGY"], "hints": {"zip": "10001"}}
QUERY_RESPONSE = {
    "external_patient_id": "123456",
    "hints": ["11111"],
    "particle_patient_id": "ac82d365-97f9-4111-92fa-3a2b92744b12",
    "purpose_of_use": "TREATMENT",
    "query_id": "5f3ddefa-30b1-412d-a011-9386b48608cc",
    "specialties": ["ONCOLOGY"],
}

# The SDK's status answer (the field is `state`, not `status`).
QUERY_STATUS = {"state": "COMPLETE", "files_available": 3, "files_downloaded": 0, "error_message": None}

# "Monitoring Notifications": the v1 query status notification.
EVENT_V1 = {
    "specversion": "1.0",
    "id": "f834539f-a839-490b-80f9-b441cb9e435d",
    "source": "api/notifications",
    "type": "com.particlehealth.api.v1.query",
    "datacontenttype": "application/json",
    "time": "2023-05-15T12:00:14.694292853Z",
    "data": {
        "file_count": "2",
        "patient_id": "9557a65e-55b7-4a3b-b0a1-f4dd2df5a2f8",
        "person_id": "75c771c5-600e-4c4b-a4e9-f932fa2827aa",
        "purpose": "TREATMENT",
        "query_id": "50ee4bd4-bd87-4e66-bab1-7e0309a9a656",
        "status": "COMPLETE",
    },
}

# 12-notification-data-contract.md: the v2 query notification (FHIR format).
EVENT_V2 = {
    "specversion": "1.0",
    "type": "com.particlehealth.api.v2.query",
    "subject": "FHIR_R4 Query Complete",
    "source": "api/notifications",
    "id": "55e82870-2ca1-4a63-b467-cd4e3ea30d14",
    "time": "2026-02-05T10:15:30Z",
    "datacontenttype": "application/json",
    "data": {
        "query_id": "55e82870-2ca1-4a63-b467-cd4e3ea30d14",
        "person_id": "2628ff9a-282f-4336-8c2f-8e08cc76141f",
        "patient_id": "2628ff9a-282f-4336-8c2f-8e08cc76141f",
        "file_count": "3",
        "status": "COMPLETE",
        "purpose": "TREATMENT",
        "particle_patient_id": "",
        "external_patient_id": "ar63uc14",
    },
}

# The same contract: another notification type the portal acknowledges but does not process.
EVENT_TRANSITION = {
    "specversion": "1.0",
    "type": "com.particlehealth.api.v2.transitionalerts",
    "subject": "Admit Alert",
    "source": "api/notifications",
    "id": "1bf79910-543b-4a17-9faa-a7b9d94c5789",
    "time": "2026-02-05T14:30:00Z",
    "datacontenttype": "application/json",
    "data": {
        "particle_patient_id": "1bf79910-543b-4a17-9faa-a7b9d94c5789",
        "external_patient_id": "aet200000010175300390098",
        "event_type": "admission",
        "event_sequence": -1,
        "is_final_event": "Unknown",
        "resources": [{"file_id": "", "resource_ids": ["transitions/5943578432644100728"]}],
    },
}
