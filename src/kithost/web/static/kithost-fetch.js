// kithost-fetch.js: the `fetch` a chatkit-js page gives its custom backend configuration
// (`CustomApiConfig.fetch`) to talk to kithost. Served by kithost at /static/kithost-fetch.js;
// no dependencies, nothing inline, so it may also be copied next to the page's scripts.
//
//   import { createKithostFetch } from "https://chat.example.com/static/kithost-fetch.js";
//   const kithostFetch = createKithostFetch({ session: "/api/chatkit/session" });
//
// - Attaches the session's client secret to every request; gets a new one from the app's
//   backend shortly before it expires and after a 401. Requests that meet an expiry or a 401
//   together share one new secret.
// - Sends `X-Kithost-Detach: true` with ChatKit requests, so a closed connection (a reload, a
//   closed tab, a dropped network) leaves the answer going: kithost finishes and saves it.
// - Turns an abort that is not the page going away (chatkit-js's Stop button aborts its request)
//   into `POST /v1/chatkit/runs/{id}/cancel`, so Stop still stops.

const RUN_ID_HEADER = "X-Kithost-Run-Id";

// Whether the page is being left (reload, navigation, closed tab): an abort then is not a Stop.
let leaving = false;
if (typeof window !== "undefined") {
  const leave = () => {
    leaving = true;
  };
  const stay = () => {
    leaving = false;
  };
  window.addEventListener("beforeunload", leave, { capture: true });
  window.addEventListener("pagehide", leave, { capture: true });
  // Back from the back/forward cache, or still here after "Leave this page?": someone acts.
  window.addEventListener("pageshow", stay);
  window.addEventListener("pointerdown", stay, { capture: true });
  window.addEventListener("keydown", stay, { capture: true });
}

/** The expiry (Unix seconds) written into a kithost client secret: base64 JSON after `_00`. */
function secretExpiry(secret) {
  const marker = secret.indexOf("_00");
  if (marker < 0) return null;
  try {
    const payload = JSON.parse(atob(secret.slice(marker + 3)));
    return typeof payload.expires_at === "number" ? payload.expires_at : null;
  } catch {
    return null;
  }
}

function abortError(signal) {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/**
 * A `fetch` for chatkit-js against kithost.
 *
 * `session`: the app backend's URL that answers `{client_secret, expires_at}` to a POST (default
 * `/api/chatkit/session`), or a function `(currentSecret) => {client_secret, expires_at}` (or
 * the secret alone). `kithost`: kithost's base URL, for the cancel request; by default it is
 * found next to the conversation URL the widget calls (`…/v1/chatkit/runs/{id}/cancel`).
 * `detach: false` leaves out the detach header (a closed connection is then a Stop again).
 */
export function createKithostFetch({
  session = "/api/chatkit/session",
  kithost = null,
  detach = true,
} = {}) {
  let current = null; // { secret, renewAt }
  let pending = null; // the one request for a new secret in flight, shared by every caller

  async function askSession(previous) {
    if (typeof session === "function") return session(previous);
    const response = await fetch(new URL(session, document.baseURI), {
      method: "POST",
      credentials: "include",
    });
    if (!response.ok) throw new Error(`The session endpoint answered ${response.status}.`);
    return response.json();
  }

  function newSecret() {
    pending ??= (async () => {
      const answer = await askSession(current ? current.secret : null);
      const secret = typeof answer === "string" ? answer : answer && answer.client_secret;
      if (!secret) throw new Error("The session endpoint gave no client_secret.");
      const now = Date.now() / 1000;
      const expiresAt = (answer && answer.expires_at) || secretExpiry(secret);
      // Renew 30 s before expiry (or at 4/5 of a shorter lifetime); never, if it is not known.
      const margin = expiresAt ? Math.max(0, Math.min(30, (expiresAt - now) / 5)) : 0;
      current = { secret, renewAt: expiresAt ? expiresAt - margin : Infinity };
      return secret;
    })().finally(() => {
      pending = null;
    });
    return pending;
  }

  function clientSecret() {
    const fresh = current && Date.now() / 1000 < current.renewAt;
    return fresh ? Promise.resolve(current.secret) : newSecret();
  }

  // A 401 means the secret expired or the session was cancelled: one new secret for every
  // request refused with the old one, and each is sent once more (ChatKit bodies are strings).
  async function send(input, init) {
    const attempt = (secret) => {
      const headers = new Headers(init.headers);
      headers.set("Authorization", `Bearer ${secret}`);
      return fetch(input, { ...init, headers });
    };
    const secret = await clientSecret();
    const response = await attempt(secret);
    if (response.status !== 401) return response;
    const renewed = current && current.secret !== secret ? current.secret : await newSecret();
    return attempt(renewed);
  }

  function cancelRun(runId, conversationUrl) {
    const path = `runs/${encodeURIComponent(runId)}/cancel`;
    const url = kithost
      ? new URL(`v1/chatkit/${path}`, kithost.endsWith("/") ? kithost : `${kithost}/`)
      : new URL(path, conversationUrl);
    // keepalive: the cancel is delivered even if the page goes away right after the Stop.
    send(url.href, { method: "POST", keepalive: true }).catch(() => {});
  }

  return async function kithostFetch(input, init = {}) {
    const method = String(init.method || "GET").toUpperCase();
    const outer = init.signal || null;
    // ChatKit requests are POSTs of a JSON string; uploads (FormData) and the rest pass as they are.
    if (!detach || method !== "POST" || typeof init.body !== "string" || outer?.aborted) {
      return send(input, init);
    }
    const url = new URL(input instanceof Request ? input.url : String(input), document.baseURI);
    const headers = new Headers(init.headers);
    headers.set("X-Kithost-Detach", "true");
    const inner = new AbortController();
    const run = { id: null, answered: false, ended: false, cancelWhenNamed: false };

    const onAbort = () => {
      if (!leaving && !run.ended) {
        if (run.id) cancelRun(run.id, url);
        else if (!run.answered) {
          // Stop before the answer began: let the request land, its answer names the run.
          run.cancelWhenNamed = true;
          return;
        }
      }
      inner.abort(outer.reason);
    };
    outer?.addEventListener("abort", onAbort);
    const settle = () => outer?.removeEventListener("abort", onAbort);

    const answer = send(url.href, { ...init, headers, signal: inner.signal }).then(
      (response) => {
        run.answered = true;
        run.id = response.headers.get(RUN_ID_HEADER);
        if (run.cancelWhenNamed) {
          if (run.id) cancelRun(run.id, url);
          inner.abort(abortError(outer));
          settle();
          return response;
        }
        if (!run.id || !response.body) {
          settle();
          return response;
        }
        // Note when the answer has been read to its end: an abort after that stops nothing.
        const body = response.body.pipeThrough(
          new TransformStream({
            flush() {
              run.ended = true;
              settle();
            },
          }),
        );
        return new Response(body, {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        });
      },
      (error) => {
        settle();
        throw error;
      },
    );
    if (!outer) return answer;
    // An abort rejects at once, as fetch's own does, even while the run's id is on its way.
    return new Promise((resolve, reject) => {
      const rejectNow = () => reject(abortError(outer));
      outer.addEventListener("abort", rejectNow, { once: true });
      answer.then(resolve, reject).finally(() => outer.removeEventListener("abort", rejectNow));
    });
  };
}

/** The `fetch` with the defaults: the app's backend answers at `/api/chatkit/session`. */
export const kithostFetch = createKithostFetch();
