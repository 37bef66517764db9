// The reconnect settings docs/howto/live-updates.md recommends for graphql-ws's createClient():
// `createClient({ url, ...reconnect })`. The load test's clients (realtime_driver.mjs) use them,
// so what the docs recommend is what `manage.py loadtest --realtime --restart` measures.

/** Milliseconds the n-th retry in a row waits at most: 1 s, 2 s, 4 s, 8 s, then 10 s. */
function ceiling(retries) {
  return Math.min(10_000, 1_000 * 2 ** retries);
}

export const reconnect = {
  // Never give up: a deploy restarts every server, and a tab left open must come back.
  retryAttempts: Infinity,
  // Also when the server cannot be reached (it is restarting), which graphql-ws's default
  // treats as fatal; not when the session ended (4403): signing in again is the user's move.
  shouldRetry: (errorOrClose) => errorOrClose?.code !== 4403,
  // Exponential backoff with full jitter: each client waits a random time up to the ceiling, so
  // thousands of tabs that lost their sockets at once come back spread out, not in one burst.
  retryWait: (retries) =>
    new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling(retries))),
};
