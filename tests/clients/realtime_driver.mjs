// The sockets of `manage.py loadtest --realtime`: one graphql-ws client per session cookie,
// each subscribed to MyMessageCountChanged. Prints JSON lines: {"event": "progress", ...} after
// each batch of sockets opened, {"event": "ready", ...} once every socket has its first count,
// then {"user": i, "count": n, "t": epoch ms} for each later event (a socket that reconnected
// sends its current count again), and {"event": "closed", ...} for
// each socket the server closes after "ready".
//
//   node realtime_driver.mjs ws://127.0.0.1:PORT/graphql[,ws://...] ORIGIN SESSIONS.json [RETRY]
//
// RETRY "default" (the default): graphql-ws's own retry settings. "recommended": those of
// reconnect.mjs, the docs' (retry forever, backoff with full jitter); after "ready" each socket
// then also prints {"event": "connecting", "user": i, "t": ...} for each attempt to connect and
// {"event": "connected", ...} once the server acknowledged it, for `loadtest --restart`.
//
// Several URLs (one per server process): socket i goes to URL i modulo their number, as a load
// balancer spreading connections would send it; ORIGIN "-" means each URL's own http origin.
import { readFileSync } from "node:fs";

import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { reconnect } from "./reconnect.mjs";

const [urls, originArgument, sessionsFile, retry = "default"] = process.argv.slice(2);
const servers = urls.split(",");
const cookies = JSON.parse(readFileSync(sessionsFile, "utf8"));
const query = "subscription MyMessageCountChanged { myMessageCount }";
const BATCH = 100; // sockets opened at once: a burst of thousands of handshakes is not the test

let ready = 0;
const failed = [];
let reconnects = 0;
let allReady = false;

function print(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function open(index) {
  const url = servers[index % servers.length];
  const origin = originArgument === "-" ? url.replace(/^ws/, "http").replace(/\/graphql$/, "") : originArgument;
  return new Promise((resolve) => {
    let first = true;
    class CookieWebSocket extends WebSocket {
      constructor(address, protocols) {
        super(address, protocols, { headers: { Origin: origin, Cookie: cookies[index] } });
      }
    }
    // graphql-ws's default retries, as a browser has them, or the recommended ones: a socket
    // the server closes with a retryable code (4503: the channel layer failed) reconnects; how
    // often is reported.
    const now = () => performance.timeOrigin + performance.now();
    const client = createClient({
      url,
      webSocketImpl: CookieWebSocket,
      ...(retry === "recommended" ? reconnect : {}),
      on: {
        connecting: () => {
          if (allReady && retry === "recommended") print({ event: "connecting", user: index, t: now() });
        },
        connected: () => {
          if (allReady && retry === "recommended") print({ event: "connected", user: index, t: now() });
        },
        closed: (event) => {
          if (event.code !== 1000) reconnects += 1;
          if (allReady) print({ event: "closed", user: index, code: event.code, t: now() });
        },
      },
    });
    client.subscribe(
      { query },
      {
        next: ({ data }) => {
          const t = now();
          if (first) {
            first = false;
            ready += 1;
            resolve();
          } else {
            print({ user: index, count: data.myMessageCount, t });
          }
        },
        error: (error) => {
          failed.push(index);
          const reason = error?.code ?? error?.message ?? String(error);
          print({ event: "socket-error", user: index, error: String(reason) });
          resolve();
        },
        complete: () => {},
      },
    );
  });
}

for (let start = 0; start < cookies.length; start += BATCH) {
  const batch = [];
  for (let index = start; index < Math.min(start + BATCH, cookies.length); index += 1) {
    batch.push(open(index));
  }
  await Promise.all(batch);
  print({ event: "progress", sockets: ready });
}
allReady = true;
print({ event: "ready", sockets: ready - failed.length, failed, reconnects });
