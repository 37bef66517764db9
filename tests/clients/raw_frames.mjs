// Send frames a hostile or broken client might send, with the `ws` package and no protocol
// client, and print what the server answered: one JSON line per socket,
// {"index": i, "messages": [...], "closed": code}.
//
//   node raw_frames.mjs ws://127.0.0.1:PORT/graphql ORIGIN COOKIE FRAMES.json
//
// FRAMES.json is a list with one entry per socket: the text frames to send, the first once the
// server acknowledged connection_init, each next one once the server answered the one before.
// The client closes a socket itself (1000) after an `error` message to its last frame, or when
// the server has said nothing for a second after it.
import { readFileSync } from "node:fs";

import WebSocket from "ws";

const [url, origin, cookie, framesFile] = process.argv.slice(2);
const sockets = JSON.parse(readFileSync(framesFile, "utf8"));
const BATCH = 50; // sockets opened at once

function print(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function probe(index) {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, "graphql-transport-ws", {
      headers: { Origin: origin, Cookie: cookie },
    });
    const frames = sockets[index];
    const messages = [];
    let sent = 0;
    let acknowledged = false;
    let quiet;
    const closeWhenQuiet = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => socket.close(1000), 1000);
    };
    socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init" })));
    socket.on("message", (data) => {
      const message = JSON.parse(data.toString());
      if (!acknowledged && message.type === "connection_ack") {
        acknowledged = true;
        socket.send(frames[sent++]);
        closeWhenQuiet();
        return;
      }
      messages.push(message);
      if (sent < frames.length) {
        socket.send(frames[sent++]);
        closeWhenQuiet();
      } else if (message.type === "error") socket.close(1000);
      else closeWhenQuiet();
    });
    socket.on("error", (error) => messages.push({ socketError: error.message }));
    socket.on("close", (code) => {
      clearTimeout(quiet);
      print({ index, messages, closed: code });
      resolve();
    });
  });
}

for (let start = 0; start < sockets.length; start += BATCH) {
  const batch = [];
  for (let index = start; index < Math.min(start + BATCH, sockets.length); index += 1) {
    batch.push(probe(index));
  }
  await Promise.all(batch);
}
