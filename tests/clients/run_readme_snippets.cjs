// Runs the README's Apollo or urql snippet (compiled by tests/test_clients.py) in Node against
// a live example project: node run_readme_snippets.cjs BUILD_DIR apollo|urql BASE_URL USER PASSWORD
// The snippets are written for a browser; this gives them what a browser would: relative URLs
// resolved against the page, a cookie jar, and document.cookie. It prints one JSON report.
"use strict";

const path = require("node:path");

const [buildDir, which, base, username, password] = process.argv.slice(2);
const jar = new Map();
const requests = [];
const warnings = [];

const cookieHeader = () => [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
const nodeFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = new URL(String(input), base);
  const headers = new Headers(init.headers);
  headers.set("Cookie", cookieHeader());
  requests.push({ method: init.method ?? "GET", path: url.pathname });
  const response = await nodeFetch(url, { ...init, headers, redirect: "manual" });
  for (const cookie of response.headers.getSetCookie()) {
    const pair = cookie.split(";", 1)[0];
    const at = pair.indexOf("=");
    jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return response;
};
globalThis.document = { get cookie() { return cookieHeader(); } };
for (const level of ["warn", "error"]) {
  console[level] = (...args) => warnings.push(args.map(String).join(" "));
}

async function logIn() {
  await fetch("/accounts/login/");
  const body = new URLSearchParams({
    csrfmiddlewaretoken: jar.get("csrftoken"),
    username,
    password,
  });
  const response = await fetch("/accounts/login/", { method: "POST", body });
  if (response.status !== 302) throw new Error(`login answered ${response.status}`);
  requests.length = 0;
}

const texts = (messages) => messages.map((message) => message.message);

async function apollo() {
  const snippet = require(path.join(buildDir, "apollo.js"));
  const { MyMessagesDocument, MyMessageCountDocument } = require(path.join(buildDir, "gql", "graphql.js"));
  const first = await snippet.showMessages();
  const second = await snippet.showMessages();
  const sticky = second.find((message) => !message.deliverOnce);
  const pendingCount = await snippet.acknowledge([sticky.id]);
  const cachedList = snippet.client.readQuery({ query: MyMessagesDocument, variables: { peek: false } });
  const cachedCount = snippet.client.readQuery({ query: MyMessageCountDocument });
  return {
    first: texts(first),
    second: texts(second),
    levels: first.map((message) => [message.levelName, snippet.cssClass(message.levelName)]),
    pendingCount,
    cachedListAfterAcknowledge: texts(cachedList.myMessages),
    cachedCount: cachedCount.myMessageCount,
  };
}

async function urql() {
  const snippet = require(path.join(buildDir, "urql.js"));
  return { first: texts(await snippet.showMessages()), second: texts(await snippet.showMessages()) };
}

(async () => {
  await logIn();
  const result = which === "apollo" ? await apollo() : await urql();
  process.stdout.write(JSON.stringify({ ...result, requests, warnings }));
})().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
