// Drives the sandbox with Metriport's own published SDK, whose zod schemas parse every response.
// Prints one JSON line: [[step, "ok" | "<status> <body>" | "<error>"], ...].
const { MetriportMedicalApi } = require("@metriport/api-sdk");

const api = new MetriportMedicalApi(process.env.API_KEY, { baseAddress: process.env.BASE_URL });
const facility = process.env.FACILITY_ID;
const results = [];

async function step(name, fn) {
  try {
    const value = await fn();
    results.push([name, "ok"]);
    return value;
  } catch (error) {
    const detail = error.response ? `${error.response.status} ${JSON.stringify(error.response.data)}` : String(error);
    results.push([name, detail.slice(0, 500)]);
    return undefined;
  }
}

(async () => {
  await step("updateSettings", () => api.updateSettings(process.env.WEBHOOK_URL));
  await step("getSettings", () => api.getSettings());
  await step("getWebhookStatus", () => api.getWebhookStatus());
  await step("retryWebhookRequests", () => api.retryWebhookRequests());
  const patient = await step("createPatient", () =>
    api.createPatient(
      {
        firstName: "Sdk",
        lastName: "Check",
        dob: "1970-01-02",
        genderAtBirth: "F",
        address: [{ addressLine1: "1 Main St", city: "Springfield", state: "IL", zip: "62704", country: "USA" }],
        contact: [{ phone: "2175550123", email: "sdk@example.com" }],
        externalId: "sdk-1",
      },
      facility,
    ),
  );
  if (patient) {
    await step("getPatient", () => api.getPatient(patient.id));
    await step("updatePatient", () => api.updatePatient({ ...patient, firstName: "Sdk2" }, facility));
    const query = await step("startNetworkQuery", () =>
      api.startNetworkQuery({ patientId: patient.id, sources: ["hie", "pharmacy", "lab"] }),
    );
    if (query) await step("getNetworkQueryStatus", () => api.getNetworkQueryStatus({ requestId: query.requestId }));
    const consolidated = await step("startConsolidatedQuery", () =>
      api.startConsolidatedQuery(patient.id, undefined, undefined, undefined, "json"),
    );
    await step("getConsolidatedQueryStatus", () => api.getConsolidatedQueryStatus(patient.id));
    if (consolidated)
      await step("getSingleConsolidatedQueryStatus", () =>
        api.getSingleConsolidatedQueryStatus(patient.id, consolidated.requestId),
      );
    await step("listDocuments", () => api.listDocuments(patient.id));
    await step("listDocumentsAsDTO", () => api.listDocumentsAsDTO(patient.id));
    await step("startBulkGetDocumentUrl", () => api.startBulkGetDocumentUrl(patient.id));
    await step("deletePatient", () => api.deletePatient(patient.id, facility));
    await step("getPatient after delete", () => api.getPatient(patient.id));
  }
  console.log(JSON.stringify(results));
})();
