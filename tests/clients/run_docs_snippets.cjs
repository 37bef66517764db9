// Runs the docs' Apollo or urql snippet (docs/howto/spa.md) (compiled by tests/test_clients.py) in Node against
// a live example project:
//   node run_docs_snippets.cjs BUILD_DIR apollo|urql|apollo-inbox|apollo-tabs BASE_URL USER PASSWORD [ID]
// The snippets are written for a browser; this gives them what a browser would: relative URLs
// resolved against the page, a cookie jar, and document.cookie. It prints one JSON report.
// apollo-inbox also listens to myMessageCount over WebSocket (graphql-ws, ws) and has the demo's
// staff user send a message to the user ID through the same server, as an admin would.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const [buildDir, which, base, username, password, recipientId] = process.argv.slice(2);
const jar = new Map();
const requests = [];
const warnings = [];

const cookieHeader = (cookies = jar) =>
  [...cookies].map(([name, value]) => `${name}=${value}`).join("; ");
const nodeFetch = globalThis.fetch;

/** fetch with a cookie jar of its own, as one browser profile has. */
async function fetchWith(cookies, input, init = {}) {
  const url = new URL(String(input), base);
  const headers = new Headers(init.headers);
  headers.set("Cookie", cookieHeader(cookies));
  const response = await nodeFetch(url, { ...init, headers, redirect: "manual" });
  for (const cookie of response.headers.getSetCookie()) {
    const pair = cookie.split(";", 1)[0];
    const at = pair.indexOf("=");
    cookies.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return response;
}

globalThis.fetch = async (input, init = {}) => {
  requests.push({ method: init.method ?? "GET", path: new URL(String(input), base).pathname });
  return fetchWith(jar, input, init);
};
globalThis.document = { get cookie() { return cookieHeader(); } };
for (const level of ["warn", "error"]) {
  console[level] = (...args) => warnings.push(args.map(String).join(" "));
}

async function logInAs(cookies, name, secret) {
  await fetchWith(cookies, "/accounts/login/");
  const body = new URLSearchParams({
    csrfmiddlewaretoken: cookies.get("csrftoken"),
    username: name,
    password: secret,
  });
  const response = await fetchWith(cookies, "/accounts/login/", { method: "POST", body });
  if (response.status !== 302) throw new Error(`login answered ${response.status}`);
}

async function logIn() {
  await logInAs(jar, username, password);
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

/** The live count as the user's browser would hear it: resolves waitFor(n) when it is n. */
async function liveCount() {
  const { createClient } = require("graphql-ws");
  const WebSocket = require("ws");
  const headers = { Cookie: cookieHeader(), Origin: base };
  class BrowserLikeWebSocket extends WebSocket {
    constructor(address, protocols) {
      super(address, protocols, { headers });
    }
  }
  const url = new URL("/graphql", base);
  url.protocol = "ws:";
  const client = createClient({ url: url.href, webSocketImpl: BrowserLikeWebSocket, retryAttempts: 0 });
  const counts = [];
  const waiting = [];
  const query = fs.readFileSync(
    path.join(__dirname, "..", "..", "schema", "operations", "MyMessageCountChanged.graphql"),
    "utf8",
  );
  client.subscribe(
    { query, operationName: "MyMessageCountChanged" },
    {
      next: ({ data }) => {
        counts.push(data.myMessageCount);
        for (const wait of waiting.splice(0)) wait();
      },
      error: (error) => warnings.push(`subscription: ${JSON.stringify(error)}`),
      complete: () => {},
    },
  );
  const waitFor = (count) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no count ${count}: ${counts}`)), 20_000);
      const check = () => {
        if (counts.includes(count)) {
          clearTimeout(timer);
          resolve();
        } else waiting.push(check);
      };
      check();
    });
  return { counts, waitFor, close: () => client.dispose() };
}

/** The demo's staff user sends one message through the server (its own session, CSRF token). */
async function staffSends(recipient, message) {
  const staff = new Map();
  await logInAs(staff, "staff", "staff");
  const query = fs.readFileSync(
    path.join(__dirname, "..", "..", "schema", "operations", "SendMessage.graphql"),
    "utf8",
  );
  const response = await fetchWith(staff, "/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": staff.get("csrftoken") },
    body: JSON.stringify({
      query,
      variables: { input: { recipients: [recipient], level: "INFO", message } },
    }),
  });
  const { data } = await response.json();
  if (data?.sendMessage.count !== 1) throw new Error(`sendMessage: ${JSON.stringify(data)}`);
}

const inboxOf = (snippet) => {
  const { myMessageHistory } = snippet.inbox.getCurrentResult().data;
  return {
    messages: myMessageHistory.edges.map((edge) => `${edge.node.message} (${edge.node.state})`),
    hasNextPage: myMessageHistory.pageInfo.hasNextPage,
    pendingCount: myMessageHistory.pendingCount,
  };
};

async function apolloInbox() {
  const snippet = require(path.join(buildDir, "apollo.js"));
  // What a component rendering the inbox does: keep watching it.
  const rendered = new Promise((resolve) => snippet.inbox.subscribe(resolve));
  await rendered;
  const firstPage = inboxOf(snippet);
  await snippet.loadMore();
  const merged = inboxOf(snippet);
  const live = await liveCount();
  await live.waitFor(firstPage.pendingCount);
  const before = requests.length;
  await staffSends(recipientId, "Breaking news.");
  await live.waitFor(firstPage.pendingCount + 1);
  const delivered = texts(await snippet.onCountRise());
  const afterRise = inboxOf(snippet);
  const riseRequests = requests.slice(before);
  // Reading delivered every pending message: the socket hears the count fall to 0.
  await live.waitFor(0);
  live.close();
  return { firstPage, merged, delivered, afterRise, riseRequests, counts: live.counts };
}

// docs/howto/categories.md's tab bar: counts per tab, one tab read, preferences changed.
async function apolloTabs() {
  const snippet = require(path.join(buildDir, "apollo-tabs.js"));
  const bar = (tabs) => tabs.map((tab) => [tab.category, tab.label, tab.pendingCount]);
  const before = bar(await snippet.tabs());
  const opened = texts(await snippet.openTab("billing"));
  const after = bar(await snippet.tabs());
  const refused = await snippet.choose("security", false);
  const accepted = await snippet.choose("product", false);
  return { before, opened, after, refused, accepted };
}

(async () => {
  await logIn();
  const drivers = { apollo, urql, "apollo-inbox": apolloInbox, "apollo-tabs": apolloTabs };
  const result = await drivers[which]();
  process.stdout.write(JSON.stringify({ ...result, requests, warnings }));
})().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
