// Run a page's scripts as a browser would, against the real server: fetch the page with the
// browser's cookies, run each <script> in order in one global scope (a `src` script fetched
// from the server), and print one JSON line each time a script sets an element's text:
// {"id": "live-count", "text": "2"}.
//
//   node page_script.mjs PAGE_URL COOKIE
//
// The page's WebSocket is the `ws` package's, with the Origin and Cookie a browser would send
// (Node 20 has no global WebSocket).
import vm from "node:vm";

import WebSocket from "ws";

const [pageURL, cookie] = process.argv.slice(2);
const page = new URL(pageURL);

async function get(url) {
  const response = await fetch(new URL(url, page), { headers: { Cookie: cookie } });
  if (!response.ok) throw new Error(`${response.status} for ${url}`);
  return response.text();
}

class BrowserWebSocket extends WebSocket {
  constructor(address, protocols) {
    super(address, protocols, { headers: { Origin: page.origin, Cookie: cookie } });
  }
}

const elements = new Map();
function element(id) {
  if (!elements.has(id)) {
    elements.set(id, {
      set textContent(text) {
        process.stdout.write(`${JSON.stringify({ id, text: String(text) })}\n`);
      },
    });
  }
  return elements.get(id);
}

const context = vm.createContext({
  console,
  setTimeout,
  clearTimeout,
  location: page,
  WebSocket: BrowserWebSocket,
  document: { getElementById: element },
});

const html = await get(page.href);
for (const [, attributes, body] of html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)) {
  const src = attributes.match(/src="([^"]+)"/);
  vm.runInContext(src ? await get(src[1]) : body, context, { filename: src ? src[1] : "inline" });
}
