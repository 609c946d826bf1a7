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

  // The search page keeps updating until every source's records are saved (not merely until the
  // network says it has finished); then it reloads once, so the outcome and its next step appear.
  var progress = document.querySelector("[data-ias-progress]");
  if (progress && progress.getAttribute("data-ias-settled") !== "true") {
    var overall = progress.querySelector("[data-ias-overall-label]");
    var note = progress.querySelector("[data-ias-overall-note]");
    poll(progress.getAttribute("data-ias-progress"), function (data) {
      if (data.settled) {
        window.location.reload();
        return false;
      }
      // One table per network the search asked, each updated from its own rows.
      data.networks.forEach(function (part) {
        var rows = progress.querySelector('[data-ias-rows="' + part.network + '"]');
        if (!rows) { return; }
        rows.replaceChildren.apply(rows, part.sources.map(function (row) {
          var tr = document.createElement("tr");
          tr.setAttribute("data-source", row.type);
          tr.setAttribute("data-status", row.status);
          tr.setAttribute("data-records", row.records);
          var th = text("th", row.label);
          th.setAttribute("scope", "row");
          var status = document.createElement("td");
          status.appendChild(text("span", row.status_label, "badge badge--" + row.badge));
          tr.append(th, status, text("td", row.detail));
          return tr;
        }));
        var badge = progress.querySelector('[data-network="' + part.network + '"] [data-ias-network-label]');
        if (badge) {
          badge.textContent = part.status_label;
          badge.className = "badge badge--" + part.badge;
        }
      });
      overall.textContent = data.status_label;
      overall.className = "badge badge--" + data.badge;
      if (note) {
        // The words come from the page, in its language.
        note.textContent = data.terminal
          ? progress.getAttribute("data-ias-note-adding")
          : progress.getAttribute("data-ias-note-searching");
      }
      return true;
    }, 2000);
  }
}());
