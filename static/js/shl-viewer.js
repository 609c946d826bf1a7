// The clinician's viewer for SMART Health Links (HL7 SMART Health Cards and Links IG, STU1).
// The link is in the URL fragment, which browsers never send to a server: its key stays here.
// Flow: decode the payload, ask for the recipient (and passcode when flagged P), POST the manifest
// request, decrypt each file (compact JWE, dir + A256GCM) with WebCrypto, show the summary.
// Every string from the files is put on the page as text, never as HTML.
(function () {
  "use strict";

  var root = document.querySelector("[data-shl-viewer]");
  if (!root) { return; }

  var LOINC = "http://loinc.org";
  var PREFERRED = [LOINC, "http://snomed.info/sct", "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://hl7.org/fhir/sid/cvx", "http://hl7.org/fhir/sid/icd-10-cm"];

  function show(state) {
    root.querySelectorAll("[data-state]").forEach(function (el) {
      el.hidden = el.getAttribute("data-state") !== state;
    });
  }

  function setText(selector, text) {
    root.querySelectorAll(selector).forEach(function (el) { el.textContent = text; });
  }

  function invalid(reason) {
    if (reason) { setText("[data-invalid-reason]", reason); }
    show("invalid");
  }

  // ------------------------------------------------------------ encoding helpers

  function b64urlToBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var binary = atob(b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes;
  }

  function b64ToBytes(text) {
    var binary = atob(String(text).replace(/\s+/g, ""));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes;
  }

  function utf8(bytes) { return new TextDecoder("utf-8").decode(bytes); }

  function ascii(text) {
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i) & 0x7f; }
    return bytes;
  }

  // ------------------------------------------------------------ the link

  function readPayload() {
    var hash = decodeURIComponent(window.location.hash.replace(/^#/, ""));
    var at = hash.indexOf("shlink:/");
    if (at < 0) { return null; }
    try {
      var payload = JSON.parse(utf8(b64urlToBytes(hash.slice(at + "shlink:/".length))));
      if (!payload || typeof payload.url !== "string" || typeof payload.key !== "string") { return null; }
      return payload;
    } catch (e) {
      return null;
    }
  }

  // ------------------------------------------------------------ decryption

  function inflateRaw(bytes) {
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("This browser cannot read compressed files."));
    }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new Response(stream).arrayBuffer().then(function (buffer) { return new Uint8Array(buffer); });
  }

  function decryptJwe(compact, key) {
    var parts = String(compact).split(".");
    if (parts.length !== 5) { return Promise.reject(new Error("not a compact JWE")); }
    var header = JSON.parse(utf8(b64urlToBytes(parts[0])));
    if (header.alg !== "dir" || header.enc !== "A256GCM") {
      return Promise.reject(new Error("unsupported encryption"));
    }
    var ciphertext = b64urlToBytes(parts[3]);
    var tag = b64urlToBytes(parts[4]);
    var sealed = new Uint8Array(ciphertext.length + tag.length);
    sealed.set(ciphertext, 0);
    sealed.set(tag, ciphertext.length);
    return crypto.subtle.decrypt(
      { name: "AES-GCM", iv: b64urlToBytes(parts[2]), additionalData: ascii(parts[0]), tagLength: 128 },
      key,
      sealed
    ).then(function (plain) {
      var bytes = new Uint8Array(plain);
      return header.zip === "DEF" ? inflateRaw(bytes) : bytes;
    }).then(function (bytes) {
      return { header: header, text: utf8(bytes) };
    });
  }

  // ------------------------------------------------------------ FHIR words

  function str(value) { return typeof value === "string" ? value.trim() : ""; }
  function list(value) { return Array.isArray(value) ? value : []; }

  function conceptName(concept) {
    if (!concept || typeof concept !== "object") { return ""; }
    if (str(concept.text)) { return str(concept.text); }
    var codings = list(concept.coding);
    for (var p = 0; p < PREFERRED.length; p++) {
      for (var i = 0; i < codings.length; i++) {
        if (codings[i] && codings[i].system === PREFERRED[p] && str(codings[i].display)) { return str(codings[i].display); }
      }
    }
    for (var j = 0; j < codings.length; j++) {
      if (codings[j] && str(codings[j].display)) { return str(codings[j].display); }
    }
    for (var k = 0; k < codings.length; k++) {
      if (codings[k] && str(codings[k].code)) { return "Code " + str(codings[k].code); }
    }
    return "";
  }

  function dateText(value) {
    value = str(value);
    if (!value) { return ""; }
    var match = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(value);
    if (!match) { return value; }
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    if (!match[2]) { return match[1]; }
    var month = months[parseInt(match[2], 10) - 1] || match[2];
    if (!match[3]) { return month + " " + match[1]; }
    return month + " " + parseInt(match[3], 10) + ", " + match[1];
  }

  function periodStart(period) { return period && typeof period === "object" ? str(period.start) : ""; }

  function quantityText(q) {
    if (!q || typeof q !== "object" || q.value === undefined || q.value === null) { return ""; }
    return ((q.comparator || "") + q.value + " " + (str(q.unit) || str(q.code))).trim();
  }

  function valueText(resource) {
    if (resource.valueQuantity) { return quantityText(resource.valueQuantity); }
    if (resource.valueCodeableConcept) { return conceptName(resource.valueCodeableConcept); }
    if (typeof resource.valueString === "string") { return resource.valueString; }
    if (typeof resource.valueBoolean === "boolean") { return resource.valueBoolean ? "Yes" : "No"; }
    if (typeof resource.valueInteger === "number") { return String(resource.valueInteger); }
    var parts = list(resource.component).map(function (c) {
      var v = c && c.valueQuantity ? c.valueQuantity : null;
      return v && v.value !== undefined ? String(v.value) : "";
    }).filter(Boolean);
    if (parts.length) {
      var unit = list(resource.component)[0] && list(resource.component)[0].valueQuantity;
      return parts.join("/") + (unit && str(unit.unit) ? " " + str(unit.unit) : "");
    }
    return "";
  }

  var FLAGS = { H: "High", L: "Low", HH: "Critically high", LL: "Critically low", A: "Abnormal", AA: "Critically abnormal" };

  function statusWords(resource) {
    var concept = resource.clinicalStatus;
    var code = concept ? (list(concept.coding)[0] || {}).code : resource.status;
    code = str(code);
    return code ? code.charAt(0).toUpperCase() + code.slice(1).replace(/-/g, " ") : "";
  }

  function describe(resource, byUrl) {
    var type = resource.resourceType;
    var name = "";
    var date = "";
    var detail = [];
    var flagged = false;
    if (type === "AllergyIntolerance") {
      name = conceptName(resource.code);
      var reactions = [];
      list(resource.reaction).forEach(function (r) {
        if (!name && r && r.substance) { name = conceptName(r.substance); }
        list(r && r.manifestation).forEach(function (m) { var w = conceptName(m); if (w) { reactions.push(w); } });
      });
      if (reactions.length) { detail.push("Reaction: " + reactions.join(", ")); }
      if (str(resource.criticality) === "high") { detail.push("High risk"); flagged = true; }
      date = str(resource.onsetDateTime) || str(resource.recordedDate);
    } else if (type === "Condition") {
      name = conceptName(resource.code);
      date = str(resource.onsetDateTime) || periodStart(resource.onsetPeriod) || str(resource.recordedDate);
    } else if (type === "MedicationRequest" || type === "MedicationStatement") {
      name = conceptName(resource.medicationCodeableConcept);
      var ref = resource.medicationReference;
      if (!name && ref) {
        var med = ref.reference ? byUrl[ref.reference] : null;
        name = (med && conceptName(med.code)) || str(ref.display);
      }
      var dosage = list(resource.dosageInstruction).concat(list(resource.dosage))[0];
      if (dosage && str(dosage.text)) { detail.push(str(dosage.text)); }
      date = str(resource.authoredOn) || str(resource.effectiveDateTime) || periodStart(resource.effectivePeriod);
    } else if (type === "Immunization") {
      name = conceptName(resource.vaccineCode);
      date = str(resource.occurrenceDateTime) || str(resource.occurrenceString);
    } else if (type === "Observation") {
      name = conceptName(resource.code);
      var value = valueText(resource);
      var interpretation = list(resource.interpretation)[0];
      var code = interpretation ? str((list(interpretation.coding)[0] || {}).code) : "";
      if (value) { detail.push(value); }
      if (FLAGS[code]) { detail.push(FLAGS[code]); flagged = true; }
      var range = list(resource.referenceRange)[0];
      if (range) {
        var low = quantityText(range.low), high = quantityText(range.high);
        var words = str(range.text) || (low && high ? low + " – " + high : "");
        if (words) { detail.push("Usual range " + words); }
      }
      date = str(resource.effectiveDateTime) || periodStart(resource.effectivePeriod) || str(resource.issued);
    } else if (type === "Procedure") {
      name = conceptName(resource.code);
      date = str(resource.performedDateTime) || periodStart(resource.performedPeriod);
    } else if (type === "Encounter") {
      name = conceptName(list(resource.type)[0]) || (resource["class"] && str(resource["class"].display)) || "Visit";
      var reason = conceptName(list(resource.reasonCode)[0]);
      if (reason) { detail.push(reason); }
      date = periodStart(resource.period);
    } else {
      name = conceptName(resource.code) || type || "Item";
    }
    var status = statusWords(resource);
    if (status && type !== "Observation") { detail.push(status); }
    if (!name && resource.text && str(resource.text.div)) {
      name = str(resource.text.div.replace(/<[^>]*>/g, " ")).slice(0, 120);
    }
    return { name: name || "Unnamed item", date: dateText(date), detail: detail.join(" · "), flagged: flagged };
  }

  // ------------------------------------------------------------ rendering

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  var SECTION_CLASS = { "48765-2": "viewer-section--allergies" };

  function patientWords(patient) {
    var name = list(patient.name)[0] || {};
    var words = str(name.text) || [list(name.given).join(" "), str(name.family)].join(" ").trim();
    var facts = [];
    if (str(patient.birthDate)) { facts.push("Born " + dateText(patient.birthDate)); }
    if (str(patient.gender)) { facts.push(str(patient.gender).charAt(0).toUpperCase() + str(patient.gender).slice(1)); }
    return { name: words || "Patient", facts: facts.join(" · ") };
  }

  // The section's narrative names each entry, in order, as the sharing server worded it. It is parsed
  // in an inert document (nothing runs) and only its text is read.
  function narrativeNames(section) {
    var div = section.text && typeof section.text.div === "string" ? section.text.div : "";
    if (!div) { return []; }
    var doc = new DOMParser().parseFromString(div, "text/html");
    return Array.prototype.map.call(doc.querySelectorAll("li"), function (li) {
      return str(li.textContent.split(" \u2014 ")[0]);
    });
  }

  function renderBundle(bundle) {
    var byUrl = {};
    list(bundle.entry).forEach(function (entry) {
      if (entry && entry.fullUrl && entry.resource) { byUrl[entry.fullUrl] = entry.resource; }
    });
    var first = list(bundle.entry)[0];
    var composition = first && first.resource && first.resource.resourceType === "Composition" ? first.resource : null;
    if (!composition) { throw new Error("The shared file is not a patient summary."); }
    var patient = composition.subject && byUrl[composition.subject.reference];
    if (patient) {
      var who = patientWords(patient);
      setText("[data-patient-name]", who.name);
      setText("[data-patient-facts]", who.facts);
    }
    if (str(composition.date)) { setText("[data-made]", "Made " + dateText(composition.date) + "."); }
    var container = root.querySelector("[data-sections]");
    container.textContent = "";
    list(composition.section).forEach(function (section) {
      var code = str((list(section.code && section.code.coding)[0] || {}).code);
      var card = el("section", "card viewer-section " + (SECTION_CLASS[code] || ""));
      card.appendChild(el("h2", "", str(section.title) || conceptName(section.code) || "Section"));
      var entries = list(section.entry).map(function (ref) { return ref && byUrl[ref.reference]; }).filter(Boolean);
      var spoken = narrativeNames(section);
      if (!entries.length) {
        card.appendChild(el("p", "muted", "None on record."));
      } else {
        var ul = el("ul", "viewer-list");
        entries.forEach(function (resource) {
          var item = describe(resource, byUrl);
          var fallback = spoken[entries.indexOf(resource)];
          if (fallback && (item.name === "Unnamed item" || /^Code /.test(item.name))) { item.name = fallback; }
          var li = el("li", item.flagged ? "viewer-item--flagged" : "");
          li.appendChild(el("span", "viewer-item__name", item.name));
          li.appendChild(el("span", "viewer-item__date", item.date || "Date not given"));
          if (item.detail) { li.appendChild(el("span", "viewer-item__detail", item.detail)); }
          ul.appendChild(li);
        });
        card.appendChild(ul);
      }
      container.appendChild(card);
    });
  }

  function addDownload(label, blob, filename) {
    var link = el("a", "button button--secondary button--small", label);
    link.href = URL.createObjectURL(blob);
    link.download = filename;
    root.querySelector("[data-downloads]").appendChild(link);
    root.querySelector("[data-downloads]").appendChild(document.createTextNode(" "));
  }

  function showFiles(files) {
    var bundle = null;
    root.querySelector("[data-downloads]").textContent = "";
    files.forEach(function (file) {
      var resource;
      try { resource = JSON.parse(file.text); } catch (e) { return; }
      if (resource.resourceType === "Bundle" && !bundle) {
        bundle = resource;
        addDownload("Download FHIR file", new Blob([file.text], { type: "application/fhir+json" }), "patient-summary.fhir.json");
      } else if (resource.resourceType === "DocumentReference") {
        list(resource.content).forEach(function (content) {
          var attachment = content && content.attachment;
          if (attachment && attachment.contentType === "application/pdf" && typeof attachment.data === "string") {
            addDownload("Download PDF", new Blob([b64ToBytes(attachment.data)], { type: "application/pdf" }), "patient-summary.pdf");
          }
        });
      }
    });
    if (!bundle) { throw new Error("The share holds no patient summary."); }
    renderBundle(bundle);
    show("shown");
  }

  // ------------------------------------------------------------ the manifest request

  var payload = readPayload();
  if (!payload) { invalid(); return; }
  if (payload.v !== undefined && payload.v !== 1) {
    invalid("This link uses a newer version of SMART Health Links than this viewer reads.");
    return;
  }
  var manifestUrl;
  try { manifestUrl = new URL(payload.url); } catch (e) { invalid(); return; }
  if (manifestUrl.origin !== window.location.origin) {
    invalid("This viewer opens links made by this Homeport only. Open the link in an app that reads SMART Health Links.");
    return;
  }
  if (!window.crypto || !window.crypto.subtle) {
    invalid("This browser cannot decrypt the record here (it needs a secure https page). Try another browser.");
    return;
  }
  var flags = typeof payload.flag === "string" ? payload.flag : "";
  setText("[data-label]", typeof payload.label === "string" ? payload.label.slice(0, 80) : "Health record");
  if (typeof payload.exp === "number") {
    var expires = new Date(payload.exp * 1000);
    if (expires.getTime() < Date.now()) {
      setText("[data-gone-reason]", "It expired on " + expires.toLocaleString() + ".");
      show("gone");
      return;
    }
    setText("[data-expiry]", "Available until " + expires.toLocaleString() + ".");
  }
  var passcodeField = root.querySelector("[data-passcode-field]");
  passcodeField.hidden = flags.indexOf("P") < 0;
  var form = root.querySelector("form[data-state='ask']");
  var errorBox = root.querySelector("[data-error]");
  var keyPromise = crypto.subtle.importKey("raw", b64urlToBytes(payload.key), { name: "AES-GCM" }, false, ["decrypt"]);
  show("ask");

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    form.querySelector("button[type='submit']").disabled = false;
  }

  function fetchFile(file) {
    if (typeof file.embedded === "string") { return Promise.resolve(file.embedded); }
    if (typeof file.location === "string") {
      return fetch(file.location, { credentials: "omit" }).then(function (response) {
        if (!response.ok) { throw new Error("file " + response.status); }
        return response.text();
      });
    }
    return Promise.reject(new Error("file without content"));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    var recipient = form.elements.recipient.value.trim();
    if (!recipient) { fail("Enter your name, so the person who shared this knows who opened it."); return; }
    var body = { recipient: recipient };
    if (flags.indexOf("P") >= 0) {
      body.passcode = form.elements.passcode.value;
      if (!body.passcode) { fail("Enter the passcode the person gave you."); return; }
    }
    form.querySelector("button[type='submit']").disabled = true;
    fetch(payload.url, {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 404) { show("gone"); return null; }
      if (response.status === 401) {
        return response.json().then(function (data) {
          var left = data && typeof data.remainingAttempts === "number" ? data.remainingAttempts : 0;
          if (left <= 0) {
            setText("[data-gone-reason]", "Too many wrong passcodes were tried, so the link no longer works.");
            show("gone");
          } else {
            fail("That passcode is not right. " + left + (left === 1 ? " try is" : " tries are") + " left.");
          }
          return null;
        });
      }
      if (!response.ok) { throw new Error("manifest " + response.status); }
      return response.json();
    }).then(function (manifest) {
      if (!manifest) { return null; }
      return keyPromise.then(function (key) {
        return Promise.all(list(manifest.files).map(function (file) {
          return fetchFile(file).then(function (jwe) { return decryptJwe(jwe, key); });
        }));
      }).then(showFiles);
    }).catch(function () {
      fail("We could not open the record. Check your connection and try again; if it keeps failing, ask for a new link.");
    });
  });
})();
