// The example single-page app: a dependency-free ES module, no build step.
//
// It runs the operations published in schema/operations/ (fetched verbatim from the server, so
// the app and the contract cannot drift apart) against /graphql with the session cookie and
// Django's CSRF token. Message data only ever reaches the page through textContent and
// checked link URLs, never as HTML.

import { createClient } from "./vendor/graphql-ws/client.js";

const GRAPHQL_URL = document.body.dataset.graphqlUrl;
const OPERATIONS_URL = document.body.dataset.operationsUrl;

const operations = new Map();

/** The text of schema/operations/<name>.graphql, fetched once. */
function operation(name) {
  if (!operations.has(name)) {
    const text = fetch(`${OPERATIONS_URL}${name}.graphql`, { credentials: "same-origin" }).then(
      (response) => {
        if (!response.ok) throw new Error(`Cannot load the operation ${name}: HTTP ${response.status}`);
        return response.text();
      },
    );
    operations.set(name, text);
  }
  return operations.get(name);
}

/** Django's CSRF token, from the cookie that the page's view sets (ensure_csrf_cookie). */
function csrfToken() {
  const prefix = "csrftoken=";
  const cookie = document.cookie.split("; ").find((part) => part.startsWith(prefix));
  return cookie ? decodeURIComponent(cookie.slice(prefix.length)) : "";
}

/** Run a named operation and return its data; throw on HTTP or top-level GraphQL errors. */
export async function graphql(name, variables = {}) {
  const response = await fetch(GRAPHQL_URL, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      // /graphql keeps Django's CSRF protection: without this header every POST gets a 403.
      "X-CSRFToken": csrfToken(),
    },
    body: JSON.stringify({ query: await operation(name), operationName: name, variables }),
  });
  let payload;
  try {
    payload = await response.json();
  } catch {
    throw new Error(`${name} failed: HTTP ${response.status}`);
  }
  if (payload.errors?.length) {
    throw new Error(payload.errors.map((error) => error.message).join("; "));
  }
  if (!response.ok) throw new Error(`${name} failed: HTTP ${response.status}`);
  return payload.data;
}

/**
 * The link for `meta.url`, or null: the rule of user_messages/links.py. A path on this site
 * ("/inbox", never "//host/...", which the browser reads as another host) or an absolute
 * http(s) URL; nothing holding whitespace, control characters or backslashes.
 */
export function safeHref(value) {
  if (typeof value !== "string" || value === "") return null;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f\\]/.test(value)) return null;
  if (value.startsWith("/")) return value.startsWith("//") ? null : value;
  const scheme = /^(https?):\/\/[^/?#]/i.exec(value);
  if (!scheme) return null;
  try {
    return new URL(value).href;
  } catch {
    return null;
  }
}

function metaOf(message) {
  // A JSON scalar may arrive parsed or as a JSON string, depending on the schema's type.
  if (typeof message.meta !== "string") return message.meta ?? {};
  try {
    return JSON.parse(message.meta) ?? {};
  } catch {
    return {};
  }
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const list = document.getElementById("messages");
const status = document.getElementById("status");
const count = document.getElementById("count");

function showStatus(text, { error = false } = {}) {
  status.textContent = text;
  status.classList.toggle("error", error);
  status.hidden = text === "";
}

/**
 * The message's action buttons: links styled as buttons, each URL through safeHref (the server
 * checked them when the message was sent; the page checks again, as for meta.url).
 */
function actionLinks(message) {
  const links = (message.actions ?? []).flatMap((action) => {
    const href = safeHref(action.url);
    if (!href) return [];
    const link = element("a", "button small action", action.label);
    link.href = href;
    return [link];
  });
  if (!links.length) return null;
  const actions = element("span", "message-actions");
  actions.append(...links);
  return actions;
}

/** A list item with the message's level badge and its text (a link if meta has a safe url). */
function messageItem(message) {
  const item = element("li", "message");
  const tag = String(message.levelTag ?? "");
  // The level tag becomes a CSS class; anything but a plain word is left unstyled.
  if (/^[a-z]+$/.test(tag)) item.classList.add(`level-${tag}`);
  if (message.id !== null) item.dataset.id = message.id;

  item.append(element("span", "badge", tag || String(message.level)));
  const text = element("span", "text");
  const href = safeHref(metaOf(message).url);
  if (href) {
    const link = element("a", "", message.message);
    link.href = href;
    text.append(link);
  } else {
    text.textContent = message.message;
  }
  item.append(text);
  const actions = actionLinks(message);
  if (actions) item.append(actions);
  return item;
}

function renderMessage(message) {
  const item = messageItem(message);
  if (message.createdAt) item.title = `Sent ${new Date(message.createdAt).toLocaleString()}`;

  let kind = "session";
  if (message.id !== null) kind = message.deliverOnce ? "stored · once" : "stored · sticky";
  item.append(element("span", "kind", kind));

  if (message.id !== null && !message.deliverOnce) {
    item.dataset.sticky = "";
    const button = element("button", "small", "Acknowledge");
    button.type = "button";
    button.addEventListener("click", () => acknowledge(message.id, item, button));
    item.append(button);
  }
  return item;
}

async function acknowledge(id, item, button) {
  button.disabled = true;
  try {
    const { acknowledgeMessages: result } = await graphql("AcknowledgeMessages", { ids: [id] });
    if (result.errors.length) {
      showStatus(result.errors.map((error) => error.message).join("; "), { error: true });
      button.disabled = false;
      return;
    }
    item.remove();
    if (!list.children.length) {
      list.hidden = true;
      showStatus("No messages.");
    }
    await Promise.all([loadCount(), refreshHistory(), loadTabs()]);
  } catch (error) {
    showStatus(error.message, { error: true });
    button.disabled = false;
  }
}

function showCount(value) {
  count.textContent = `${value} pending`;
}

async function loadCount() {
  const { myMessageCount } = await graphql("MyMessageCount");
  showCount(myMessageCount);
}

/**
 * Live updates: subscribe to MyMessageCountChanged over WebSocket (same path as /graphql, the
 * session cookie authenticates it). The subscription never consumes anything, so when the count
 * goes up the app reads the new messages with a POST, and exactly-once stays in one place.
 */
async function subscribeToCount() {
  const url = new URL(GRAPHQL_URL, document.baseURI);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  // The reconnect settings docs/howto/live-updates.md recommends (tests/clients/reconnect.mjs):
  // retry forever, also when a restarting server cannot be reached, never after the session
  // ended (4403); waits up to 1, 2, 4, 8, then 10 s, at random, so tabs come back spread out.
  const client = createClient({
    url: url.href,
    retryAttempts: Infinity,
    shouldRetry: (errorOrClose) => errorOrClose?.code !== 4403,
    retryWait: (retries) =>
      new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(10_000, 1_000 * 2 ** retries))),
  });
  let liveCount = null;
  client.subscribe(
    { query: await operation("MyMessageCountChanged"), operationName: "MyMessageCountChanged" },
    {
      next: ({ data }) => {
        if (!data) return;
        // Compare with the subscription's own previous value, not with the badge: a POST's
        // answer and a live event may arrive in either order, the live events never reorder.
        const previous = liveCount;
        liveCount = data.myMessageCount;
        showCount(liveCount);
        document.body.dataset.live = "on";
        if (previous !== null && liveCount > previous) load();
        // Fewer pending: another tab acknowledged. The inbox reads without consuming.
        else if (previous !== null && liveCount < previous) refreshHistory();
        if (previous !== null && liveCount !== previous) loadTabs();
      },
      error: () => {
        document.body.dataset.live = "off";
      },
      complete: () => {
        document.body.dataset.live = "off";
      },
    },
  );
}

/** Fetch myMessages (delivering the deliver-once ones) and show them, then the count. */
async function load() {
  showStatus("Loading…");
  try {
    const { myMessages } = await graphql("MyMessages", { peek: false });
    list.replaceChildren(...myMessages.map(renderMessage));
    list.hidden = myMessages.length === 0;
    showStatus(myMessages.length ? "" : "No messages.");
    // After the read: what is still pending is what a next read would show, and the inbox
    // shows the new messages at its top, with the states the read left them in.
    await Promise.all([loadCount(), refreshHistory(), loadTabs()]);
  } catch (error) {
    showStatus(error.message, { error: true });
  }
}

// The inbox: every stored message, newest first, a page at a time (myMessageHistory never
// consumes). "Load more" passes the last page's endCursor; a refresh reloads as many messages
// as are shown, so acknowledging does not fold the pages a reader opened.

const HISTORY_PAGE = 10;
const MAX_HISTORY_PAGE = 100; // USER_MESSAGES["MAX_HISTORY_PAGE"]'s default
const inbox = document.getElementById("history");
const historyStatus = document.getElementById("history-status");
const more = document.getElementById("more");
const acknowledgeAllButton = document.getElementById("acknowledge-all");
const showArchived = document.getElementById("show-archived");
let endCursor = null;
// Each refresh starts a new generation: an older answer that arrives late is dropped.
let historyGeneration = 0;

function showHistoryStatus(text, { error = false } = {}) {
  historyStatus.textContent = text;
  historyStatus.classList.toggle("error", error);
  historyStatus.hidden = text === "";
}

function renderHistoryItem(message) {
  const item = messageItem(message);
  const state = String(message.state ?? "").toLowerCase();
  const badge = element("span", "state", state);
  if (/^[a-z]+$/.test(state)) badge.classList.add(`state-${state}`);
  item.append(badge);
  if (message.createdAt) {
    const when = new Date(message.createdAt);
    const time = element("time", "when", when.toLocaleString());
    time.dateTime = when.toISOString();
    item.append(time);
  }
  if (message.id !== null) {
    // The inbox offers Archive; the archived list (the checkbox) offers Unarchive.
    const archived = message.archivedAt !== null;
    const button = element("button", "small secondary", archived ? "Unarchive" : "Archive");
    button.type = "button";
    button.addEventListener("click", () => setArchived(message.id, !archived, item, button));
    item.append(button);
  }
  return item;
}

/** archiveMessages or unarchiveMessages for one message; the item leaves the list it was in. */
async function setArchived(id, archive, item, button) {
  button.disabled = true;
  const name = archive ? "ArchiveMessages" : "UnarchiveMessages";
  try {
    const data = await graphql(name, { ids: [id] });
    const result = archive ? data.archiveMessages : data.unarchiveMessages;
    if (result.errors.length) {
      showHistoryStatus(result.errors.map((error) => error.message).join("; "), { error: true });
      button.disabled = false;
      return;
    }
    item.remove();
    showCount(result.pendingCount);
    // Archiving a pending message acknowledges it: a sticky one leaves the live list too.
    if (archive) {
      list.querySelector(`li[data-id="${CSS.escape(String(id))}"]`)?.remove();
      list.hidden = list.children.length === 0;
      if (list.hidden) showStatus("No messages.");
    }
    loadTabs();
    await refreshHistory();
  } catch (error) {
    showHistoryStatus(error.message, { error: true });
    button.disabled = false;
  }
}

/** Fetch one page: the first (after = null) or the one after a cursor; append or replace. */
async function loadHistory({ after = null, first = HISTORY_PAGE, replace = false } = {}) {
  const generation = replace ? ++historyGeneration : historyGeneration;
  more.disabled = true;
  try {
    const { myMessageHistory: page } = await graphql("MyMessageHistory", {
      first,
      after,
      archived: showArchived.checked,
    });
    if (generation !== historyGeneration) return;
    const items = page.edges.map((edge) => renderHistoryItem(edge.node));
    if (replace) inbox.replaceChildren(...items);
    else inbox.append(...items);
    if (replace || page.pageInfo.endCursor) endCursor = page.pageInfo.endCursor;
    more.hidden = !page.pageInfo.hasNextPage;
    inbox.hidden = inbox.children.length === 0;
    const empty = showArchived.checked ? "Nothing archived." : "Nothing yet.";
    showHistoryStatus(inbox.children.length ? "" : empty);
  } catch (error) {
    if (generation === historyGeneration) showHistoryStatus(error.message, { error: true });
  } finally {
    more.disabled = false;
  }
}

/** Reload the inbox from the newest message, as many as it shows now (at least a page). */
function refreshHistory() {
  const first = Math.min(Math.max(inbox.children.length, HISTORY_PAGE), MAX_HISTORY_PAGE);
  return loadHistory({ first, replace: true });
}

async function acknowledgeAll() {
  acknowledgeAllButton.disabled = true;
  try {
    const { acknowledgeAllMessages: result } = await graphql("AcknowledgeAllMessages");
    if (result.errors.length) {
      showHistoryStatus(result.errors.map((error) => error.message).join("; "), { error: true });
      return;
    }
    showCount(result.pendingCount);
    loadTabs();
    // Sticky messages stay in the live list until acknowledged: they are now.
    list.replaceChildren(...[...list.children].filter((item) => !("sticky" in item.dataset)));
    list.hidden = list.children.length === 0;
    if (list.hidden) showStatus("No messages.");
    await refreshHistory();
  } catch (error) {
    showHistoryStatus(error.message, { error: true });
  } finally {
    acknowledgeAllButton.disabled = false;
  }
}

// Categories: a tab per category with its pending count (myMessageCounts, one request), the
// selected tab's pending messages (peek: reading a tab consumes nothing), and the user's
// preferences (setMessagePreferences; a critical category cannot be turned off).

const tabs = document.getElementById("tabs");
const tabStatus = document.getElementById("tab-status");
const tabMessages = document.getElementById("tab-messages");
const preferenceList = document.getElementById("preference-list");
const preferencesStatus = document.getElementById("preferences-status");
let selectedCategory = null;
let tabsGeneration = 0;

function categoryLabel(entry) {
  return entry.label || "Other"; // "" is no category
}

async function loadTabs() {
  const generation = ++tabsGeneration;
  try {
    const { myMessageCounts } = await graphql("MyMessageCounts");
    if (generation !== tabsGeneration) return;
    tabs.replaceChildren(
      ...myMessageCounts.map((entry) => {
        const tab = element("button", "tab");
        tab.type = "button";
        tab.setAttribute("role", "tab");
        tab.dataset.category = entry.category;
        tab.setAttribute("aria-selected", String(entry.category === selectedCategory));
        tab.append(element("span", "tab-label", categoryLabel(entry)));
        tab.append(element("span", "tab-count", String(entry.pendingCount)));
        tab.addEventListener("click", () => showTab(entry.category));
        return tab;
      }),
    );
    if (selectedCategory !== null) await showTab(selectedCategory);
  } catch (error) {
    tabStatus.textContent = error.message;
    tabStatus.classList.add("error");
  }
}

async function showTab(category) {
  selectedCategory = category;
  for (const tab of tabs.children) {
    tab.setAttribute("aria-selected", String(tab.dataset.category === category));
  }
  const { myMessages } = await graphql("MyMessages", { peek: true, categories: [category] });
  if (selectedCategory !== category) return;
  const stored = myMessages.filter((message) => message.id !== null);
  tabMessages.replaceChildren(...stored.map(messageItem));
  tabMessages.hidden = stored.length === 0;
  tabStatus.classList.remove("error");
  tabStatus.textContent = stored.length ? "" : "Nothing pending in this category.";
  tabStatus.hidden = stored.length !== 0;
}

function renderPreferences(preferences) {
  preferenceList.replaceChildren(
    ...preferences.map((preference) => {
      const label = element("label", "preference");
      const box = element("input");
      box.type = "checkbox";
      box.name = "category";
      box.value = preference.category;
      box.checked = preference.enabled;
      // A critical category cannot be turned off: the server refuses it too.
      box.disabled = preference.critical;
      box.addEventListener("change", () => choose(preference.category, box));
      label.append(box, ` ${preference.label}`);
      const note = preference.critical ? "always on" : preference.description;
      if (note) label.append(element("small", "description", note));
      return label;
    }),
  );
}

async function loadPreferences() {
  try {
    const { myMessagePreferences } = await graphql("MyMessagePreferences");
    renderPreferences(myMessagePreferences);
  } catch (error) {
    showPreferencesStatus(error.message, { error: true });
  }
}

function showPreferencesStatus(text, { error = false } = {}) {
  preferencesStatus.textContent = text;
  preferencesStatus.classList.toggle("error", error);
  preferencesStatus.hidden = text === "";
}

async function choose(category, box) {
  box.disabled = true;
  try {
    const { setMessagePreferences: result } = await graphql("SetMessagePreferences", {
      input: [{ category, enabled: box.checked }],
    });
    if (result.errors.length) {
      box.checked = !box.checked;
      showPreferencesStatus(result.errors.map((error) => error.message).join("; "), {
        error: true,
      });
      return;
    }
    renderPreferences(result.preferences);
    showPreferencesStatus("Saved.");
  } catch (error) {
    box.checked = !box.checked;
    showPreferencesStatus(error.message, { error: true });
  } finally {
    box.disabled = false;
  }
}

document.getElementById("reload").addEventListener("click", load);
more.addEventListener("click", () => loadHistory({ after: endCursor }));
acknowledgeAllButton.addEventListener("click", acknowledgeAll);
showArchived.addEventListener("change", () => loadHistory({ replace: true }));
load();
loadPreferences();
subscribeToCount();
