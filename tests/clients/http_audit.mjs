// Runs the GraphQL over HTTP conformance audit (graphql-http's auditServer) against a live
// GraphQL endpoint, as a browser on the same site would send its requests:
//   node http_audit.mjs URL
// The endpoint keeps Django's CSRF protection, so every request carries the csrftoken cookie
// (fetched once with a GET), the token in X-CSRFToken and the page's Origin. It prints one JSON
// report: how many audits ended in each status, and every audit that did not pass.
import { auditServer } from "graphql-http";

const [endpoint] = process.argv.slice(2);
const origin = new URL(endpoint).origin;

const first = await fetch(endpoint, { headers: { accept: "application/json" } });
const cookie = first.headers
  .getSetCookie()
  .map((line) => line.split(";", 1)[0])
  .find((pair) => pair.startsWith("csrftoken="));
if (!cookie) throw new Error(`no csrftoken cookie from ${endpoint} (HTTP ${first.status})`);
const token = cookie.slice("csrftoken=".length);

function browserFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("cookie", cookie);
  headers.set("x-csrftoken", token);
  headers.set("origin", origin);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url: endpoint, fetchFn: browserFetch });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
const unpassed = [];
for (const result of results) {
  counts[result.status] += 1;
  if (result.status !== "ok") {
    unpassed.push({ id: result.id, status: result.status, name: result.name, reason: result.reason });
  }
}
process.stdout.write(JSON.stringify({ total: results.length, counts, unpassed }));
