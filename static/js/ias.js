// The journey's live pages: the identity waiting page and the search progress page poll a small
// JSON endpoint and update themselves. Without JavaScript both pages offer a plain refresh link.
(function () {
  "use strict";

  function poll(url, onData, intervalMs) {
    var stopped = false;
    var delay = intervalMs;
    function tick() {
      if (stopped) { return; }
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.redirected || !response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (data) {
          delay = intervalMs;
          if (onData(data) === false) { stopped = true; return; }
          window.setTimeout(tick, delay);
        })
        .catch(function () {
          delay = Math.min(delay * 2, 30000);
          window.setTimeout(tick, delay);
        });
    }
    window.setTimeout(tick, intervalMs);
  }

  var identity = document.querySelector("[data-ias-identity-status]");
  if (identity) {
    poll(identity.getAttribute("data-ias-identity-status"), function (data) {
      if (data.status === "pending") { return true; }
      window.location.assign(data.status === "verified" ? data.next : window.location.href);
      return false;
    }, 2000);
  }

  function text(tag, value, className) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    el.textContent = value;
    return el;
  }

  var progress = document.querySelector("[data-ias-progress]");
  if (progress) {
    var rows = progress.querySelector("[data-ias-rows]");
    var overall = progress.querySelector("[data-ias-overall-label]");
    var actions = progress.querySelector("[data-ias-actions]");
    poll(progress.getAttribute("data-ias-progress"), function (data) {
      rows.replaceChildren.apply(rows, data.sources.map(function (row) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-source", row.type);
        tr.setAttribute("data-status", row.status);
        var th = text("th", row.label);
        th.setAttribute("scope", "row");
        var status = document.createElement("td");
        status.appendChild(text("span", row.status_label, "badge badge--" + row.badge));
        var details = document.createElement("td");
        if (row.reason) { details.appendChild(document.createTextNode(row.reason + " ")); }
        if (row.records_label) {
          details.appendChild(text("span", row.records_label.charAt(0).toUpperCase() + row.records_label.slice(1) + ".", "muted"));
        }
        tr.append(th, status, details);
        return tr;
      }));
      overall.textContent = data.status_label;
      if (data.terminal) {
        overall.className = "badge badge--" + (data.status === "completed" ? "ok" : data.status === "partial" ? "warn" : "bad");
        var read = text("a", progress.getAttribute("data-ias-read-label"), "button");
        read.href = data.records_url;
        var again = text("a", progress.getAttribute("data-ias-again-label"), "button button--secondary");
        again.href = progress.getAttribute("data-ias-again");
        actions.replaceChildren(read, document.createTextNode(" "), again);
        return false;
      }
      return true;
    }, 2000);
  }
}());
