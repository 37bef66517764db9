// Subscribe to MyMessageCountChanged with the real graphql-ws client and print one JSON line per
// event: {"count": n}, {"closed": code}, {"socketError": message}, {"error": ...}.
//
//   node live_count.mjs ws://127.0.0.1:PORT/graphql ORIGIN|- COOKIE|- [RETRY_ATTEMPTS]
//
// RETRY_ATTEMPTS (default 0) is graphql-ws's retryAttempts: a client that reconnects by itself
// after a close it does not treat as fatal, and subscribes again. "recommended": the settings
// of reconnect.mjs, which the docs recommend (retry forever, backoff with full jitter).
//
// Node 20 has no global WebSocket: the `ws` package's, with the Origin and Cookie headers a
// browser would send (or none, "-").
import { readFileSync } from "node:fs";

import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { reconnect } from "./reconnect.mjs";

const [url, origin, cookie, retries = "0"] = process.argv.slice(2);
const query = readFileSync(
  new URL("../../schema/operations/MyMessageCountChanged.graphql", import.meta.url),
  "utf8",
);
const headers = {};
if (origin !== "-") headers.Origin = origin;
if (cookie !== "-") headers.Cookie = cookie;

class BrowserLikeWebSocket extends WebSocket {
  constructor(address, protocols) {
    super(address, protocols, { headers });
  }
}

function print(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const client = createClient({
  url,
  webSocketImpl: BrowserLikeWebSocket,
  ...(retries === "recommended" ? reconnect : { retryAttempts: Number(retries) }),
  on: {
    closed: (event) => print({ closed: event.code }),
    error: (error) => print({ socketError: error?.message ?? String(error) }),
  },
});

client.subscribe(
  { query, operationName: "MyMessageCountChanged" },
  {
    next: ({ data, errors }) => print(errors ? { errors } : { count: data.myMessageCount }),
    error: (error) => {
      print({ error: Array.isArray(error) ? error.map((e) => e.message) : "closed" });
      process.exit(0);
    },
    complete: () => print({ complete: true }),
  },
);
