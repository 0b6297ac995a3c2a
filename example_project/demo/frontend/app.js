"use strict";

// The demo front end: runs the everyday CORS cases against the demo API on another origin.
// Query parameters: ?api=http://localhost:8000 (API base URL), ?autorun=0 (wait for a click).

const params = new URLSearchParams(location.search);
const ORIGIN = location.origin;
let API = "";

const DEMO_POLICY_FIX = "In the admin, open policy demo-api";

const CASES = [
  {
    id: "simple-get",
    title: "1. A simple GET",
    about:
      "A GET without custom headers is a \"simple\" request: no preflight. The browser sends " +
      "it with an Origin header, and lets the page read the answer only if the response " +
      "carries Access-Control-Allow-Origin with this page's origin (or *).",
    code: 'fetch(API + "/api/demo/hello/")',
    expected: "allowed (policy demo-api lists this origin)",
    path: "/api/demo/hello/",
    explain: { method: "GET" },
    fix: `${DEMO_POLICY_FIX} and add this page's origin to its allowlist.`,
    async run() {
      const response = await fetch(API + this.path, { cache: "no-store" });
      return { response, body: await response.text() };
    },
  },
  {
    id: "preflight-post",
    title: "2. A JSON POST (needs a preflight)",
    about:
      "Content-Type: application/json is not one of the three \"simple\" content types, so " +
      "the browser first sends OPTIONS with Access-Control-Request-Method: POST and " +
      "Access-Control-Request-Headers: content-type. cors_admin answers that preflight " +
      "itself (204 when allowed, 403 when not); only after an allowed preflight is the POST sent.",
    code:
      'fetch(API + "/api/demo/echo/", {\n  method: "POST",\n' +
      '  headers: {"Content-Type": "application/json"},\n  body: JSON.stringify({...}),\n})',
    expected: "allowed (content-type is in demo-api's allowed request headers)",
    path: "/api/demo/echo/",
    explain: { method: "POST", headers: "content-type" },
    fix: `${DEMO_POLICY_FIX}: its allowlist must list this origin, its methods POST, and its allowed request headers content-type.`,
    async run() {
      const response = await fetch(API + this.path, {
        method: "POST",
        cache: "no-store",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ hello: "from " + ORIGIN }),
      });
      return { response, body: await response.text() };
    },
  },
  {
    id: "credentials",
    title: "3. A request with credentials (a cookie)",
    about:
      "credentials: \"include\" makes the browser send cookies. First /api/demo/login/ sets " +
      "the cookie demo_session, then /api/demo/whoami/ reports whether it arrived. With " +
      "credentials the server must answer the exact origin (never *) and " +
      "Access-Control-Allow-Credentials: true, or the browser hides the response.",
    code:
      'await fetch(API + "/api/demo/login/", {credentials: "include"})\n' +
      'fetch(API + "/api/demo/whoami/", {credentials: "include"})',
    expected: "allowed, and the cookie arrives (demo-api allows credentials)",
    path: "/api/demo/login/",
    credentials: true,
    explain: { method: "GET" },
    fix: `${DEMO_POLICY_FIX}: it must list this origin and have "allow credentials" ticked.`,
    async run() {
      await fetch(API + this.path, { credentials: "include", cache: "no-store" });
      const response = await fetch(API + "/api/demo/whoami/", {
        credentials: "include",
        cache: "no-store",
      });
      const body = await response.text();
      let cookie = null;
      try {
        cookie = JSON.parse(body).cookie;
      } catch (error) {
        cookie = null;
      }
      const check =
        cookie === "demo-user"
          ? { ok: true, message: "The cookie demo_session=demo-user reached the API." }
          : {
              ok: false,
              message:
                "The response was readable, but the cookie did not arrive: the page and the API " +
                "are not the same site (open the page via localhost, like the API).",
            };
      return { response, body, check };
    },
  },
  {
    id: "exposed-header",
    title: "4. Reading an exposed response header",
    about:
      "Scripts can read only the CORS-safelisted response headers (Cache-Control, " +
      "Content-Language, Content-Length, Content-Type, Expires, Last-Modified, Pragma) plus " +
      "the names listed in Access-Control-Expose-Headers. The API sets X-Request-Id; " +
      "demo-api exposes it.",
    code: 'const r = await fetch(API + "/api/demo/hello/")\nr.headers.get("X-Request-Id")',
    expected: "allowed, and X-Request-Id is readable",
    path: "/api/demo/hello/",
    explain: { method: "GET" },
    fix: `${DEMO_POLICY_FIX} and add X-Request-Id to its exposed response headers.`,
    async run() {
      const response = await fetch(API + this.path, { cache: "no-store" });
      const value = response.headers.get("X-Request-Id");
      const check =
        value !== null
          ? { ok: true, message: `X-Request-Id is readable: ${value}` }
          : {
              ok: false,
              message:
                "The response was readable, but X-Request-Id was hidden from the page: it is " +
                "not listed in Access-Control-Expose-Headers.",
            };
      return { response, body: await response.text(), check };
    },
  },
  {
    id: "custom-header",
    title: "5. A custom request header (expected to fail)",
    about:
      "Any header outside the safelisted few triggers a preflight that names it in " +
      "Access-Control-Request-Headers. demo-api does not allow x-demo-token, so cors_admin " +
      "refuses the preflight with 403 and the GET is never sent.",
    code: 'fetch(API + "/api/demo/hello/", {headers: {"X-Demo-Token": "secret"}})',
    expected: "blocked (x-demo-token is not in demo-api's allowed request headers)",
    path: "/api/demo/hello/",
    explain: { method: "GET", headers: "x-demo-token" },
    fix: `To allow it: ${DEMO_POLICY_FIX}, add x-demo-token to "allowed request headers", save, press Retry.`,
    async run() {
      const response = await fetch(API + this.path, {
        cache: "no-store",
        headers: { "X-Demo-Token": "secret" },
      });
      return { response, body: await response.text() };
    },
  },
  {
    id: "other-policy",
    title: "6. A path covered by another policy (expected to fail)",
    about:
      "The first matching policy decides, and the longest prefix wins: /api/demo/partner/ " +
      "belongs to demo-partner, whose allowlist holds only https://partner.example.com. " +
      "The view still runs (curl would see its answer) but the response carries no " +
      "Access-Control-Allow-Origin, so the browser hides it from the page.",
    code: 'fetch(API + "/api/demo/partner/")',
    expected: "blocked (demo-partner does not list this origin)",
    path: "/api/demo/partner/",
    explain: { method: "GET" },
    fix: "To allow it: in the admin, open policy demo-partner, add this page's origin to its allowlist, save, press Retry.",
    async run() {
      const response = await fetch(API + this.path, { cache: "no-store" });
      return { response, body: await response.text() };
    },
  },
];

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function fillTable(table, rows, emptyText) {
  const tbody = table.querySelector("tbody");
  tbody.replaceChildren();
  if (!rows.length) {
    const tr = el("tr");
    const td = el("td", emptyText, "empty");
    td.colSpan = 2;
    tr.append(td);
    tbody.append(tr);
    return;
  }
  for (const [name, value] of rows) {
    const tr = el("tr");
    tr.append(el("td", name), el("td", value));
    tbody.append(tr);
  }
}

async function explainCase(c) {
  const query = new URLSearchParams({ origin: ORIGIN, path: c.path, method: c.explain.method });
  if (c.explain.headers) query.set("headers", c.explain.headers);
  try {
    const response = await fetch("explain?" + query, { cache: "no-store" });
    return response.ok ? await response.json() : null;
  } catch (error) {
    return null;
  }
}

function consoleMessage(c, ex) {
  const prefix = `Access to fetch at '${API}${c.path}' from origin '${ORIGIN}' has been blocked by CORS policy: `;
  if (!ex) return prefix + "…";
  if (ex.preflight && !ex.allowed) {
    return (
      prefix +
      "Response to preflight request doesn't pass access control check: " +
      "No 'Access-Control-Allow-Origin' header is present on the requested resource."
    );
  }
  if (!ex.allowed) {
    return prefix + "No 'Access-Control-Allow-Origin' header is present on the requested resource.";
  }
  if (c.credentials && !("Access-Control-Allow-Credentials" in ex.headers)) {
    return (
      prefix +
      "The value of the 'Access-Control-Allow-Credentials' header in the response is '' " +
      "which must be 'true' when the request's credentials mode is 'include'."
    );
  }
  return (
    "(cors_admin allows this request now. If the browser still blocked it, the API had not " +
    "picked up the change yet, or it is not running: press Retry.)"
  );
}

function adminUrl(policyId) {
  return policyId ? `${API}/admin/cors_admin/corspolicy/${policyId}/change/` : `${API}/admin/cors_admin/corspolicy/`;
}

async function runCase(c) {
  const node = document.querySelector(`.case[data-case="${c.id}"]`);
  node.dataset.outcome = "pending";
  node.querySelector(".badge").textContent = "running…";
  const [attempt, ex] = await Promise.all([
    c.run().then(
      (value) => ({ ok: true, ...value }),
      (error) => ({ ok: false, error: String(error) }),
    ),
    explainCase(c),
  ]);

  let outcome;
  let summary;
  if (!attempt.ok) {
    outcome = "blocked";
    summary =
      `Blocked by the browser: fetch() rejected with "${attempt.error}". ` +
      "The page sees neither the status nor any header; the Console says why.";
    fillTable(node.querySelector(".readable"), [], "nothing: the browser withheld the response");
    node.querySelector(".body").textContent = "(no body available to the page)";
  } else {
    const { response, body, check } = attempt;
    outcome = check && !check.ok ? "partial" : "allowed";
    summary =
      `Allowed: HTTP ${response.status}, the page can read the response.` +
      (check ? " " + check.message : "");
    fillTable(node.querySelector(".readable"), [...response.headers], "no readable headers");
    node.querySelector(".body").textContent = body.length > 400 ? body.slice(0, 400) + "…" : body;
  }
  const label = { allowed: "allowed", blocked: "blocked", partial: "partly" }[outcome];
  node.dataset.outcome = outcome;
  node.querySelector(".badge").textContent = label;
  const item = document.querySelector(`#overview li[data-case="${c.id}"]`);
  item.dataset.outcome = outcome;
  item.querySelector(".badge").textContent = label;
  node.querySelector(".summary").textContent = summary;

  const reason = node.querySelector(".reason");
  reason.replaceChildren();
  if (ex) {
    const what = ex.preflight ? "For the preflight (OPTIONS)" : "For this request";
    reason.append(`${what}: ${ex.reason}. `);
    if (ex.policy) {
      const link = el("a", `Edit policy ${ex.policy} in the admin`);
      link.href = adminUrl(ex.policy_id);
      link.target = "_blank";
      link.rel = "noopener";
      reason.append(link);
    }
    const test = new URLSearchParams({ origin: ORIGIN, path: c.path, method: c.explain.method });
    if (c.explain.headers) test.set("request_headers", c.explain.headers);
    const testLink = el("a", "try it on the admin's test page");
    testLink.href = `${API}/admin/cors_admin/corspolicy/test/?${test}`;
    testLink.target = "_blank";
    testLink.rel = "noopener";
    reason.append(" · ", testLink);
    const status = ex.status ? [["(status)", String(ex.status)]] : [];
    fillTable(
      node.querySelector(".sent"),
      [...status, ...Object.entries(ex.headers)],
      "no CORS headers: the API sends none for this request",
    );
  } else {
    reason.textContent = "The front-end server's /explain endpoint did not answer.";
    fillTable(node.querySelector(".sent"), [], "unknown");
  }
  node.querySelector(".console").textContent = consoleMessage(c, ex);
  node.querySelector(".fix").textContent = outcome === "allowed" ? "" : c.fix;
  if (outcome === "partial") {
    // Not a CORS error, so nothing in the console; show the fix right under the summary.
    node.querySelector(".summary").textContent = summary + " " + c.fix;
  }
  return outcome;
}

let runs = 0;

async function runAll() {
  const button = document.getElementById("run-all");
  const status = document.getElementById("run-status");
  button.disabled = true;
  document.body.dataset.state = "running";
  status.textContent = "running…";
  const outcomes = {};
  for (const c of CASES) {
    outcomes[c.id] = await runCase(c);
  }
  runs += 1;
  document.body.dataset.runs = String(runs);
  document.body.dataset.state = "done";
  const allowed = Object.values(outcomes).filter((o) => o === "allowed").length;
  status.textContent = `Run ${runs} at ${new Date().toLocaleTimeString()}: ${allowed} of ${CASES.length} allowed.`;
  button.textContent = "Retry";
  button.disabled = false;
}

function render() {
  const template = document.getElementById("case-template");
  const main = document.getElementById("cases");
  for (const c of CASES) {
    const node = template.content.firstElementChild.cloneNode(true);
    node.dataset.case = c.id;
    node.id = "case-" + c.id;
    node.querySelector(".title").textContent = c.title;
    node.querySelector(".about").textContent = c.about;
    node.querySelector(".code").textContent = c.code;
    node.querySelector(".expected").textContent = "With the demo policies as loaded: " + c.expected + ".";
    main.append(node);
    const item = el("li");
    item.dataset.case = c.id;
    const link = el("a");
    link.href = "#case-" + c.id;
    link.append(el("span", "not run", "badge"), el("span", c.title));
    item.append(link);
    document.getElementById("overview").append(item);
  }
}

async function apiBase() {
  if (params.get("api")) return params.get("api");
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (response.ok) return (await response.json()).api;
  } catch (error) {
    // fall through to the default
  }
  return `${location.protocol}//${location.hostname}:8000`;
}

async function main() {
  API = (await apiBase()).replace(/\/+$/, "");
  document.getElementById("page-origin").textContent = ORIGIN;
  document.getElementById("api-base").textContent = API;
  document.getElementById("admin-link").href = adminUrl(null);
  const apiHost = new URL(API).hostname;
  if (apiHost !== location.hostname) {
    const warn = document.getElementById("mismatch");
    warn.hidden = false;
    warn.textContent =
      `This page is on ${location.hostname} and the API on ${apiHost}: that is cross-site, ` +
      "so the browser will not send the SameSite=Lax demo cookie (case 3). Use the same host name for both.";
  }
  render();
  document.getElementById("run-all").addEventListener("click", runAll);
  if (params.get("autorun") !== "0") await runAll();
}

main();
