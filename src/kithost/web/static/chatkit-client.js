// The ChatKit protocol over fetch: one endpoint, JSON requests, SSE answers, short-lived client
// secrets. No dependencies, no build step.

/** An error answered by kithost (the OpenAI error envelope) or met on the way. */
export class ChatKitError extends Error {
  constructor(message, { status = 0, code = null, param = null, type = null } = {}) {
    super(message);
    this.name = "ChatKitError";
    this.status = status;
    this.code = code;
    this.param = param;
    this.type = type;
  }
}

/** The expiry (Unix seconds) written into a kithost client secret: base64 JSON after `_00`. */
export function secretExpiry(secret) {
  if (typeof secret !== "string") return null;
  const marker = secret.indexOf("_00");
  if (marker < 0) return null;
  try {
    const payload = JSON.parse(atob(secret.slice(marker + 3)));
    return typeof payload.expires_at === "number" ? payload.expires_at : null;
  } catch {
    return null;
  }
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && typeof body === "object" ? body.error : null;
  if (error && typeof error.message === "string") {
    let message = error.message;
    const retryAfter = response.headers.get("retry-after");
    // kithost's own 429 already says when; another server's may only send the header.
    if (response.status === 429 && retryAfter && !/try again/i.test(message)) {
      message += ` Try again in ${retryAfter} s.`;
    }
    return new ChatKitError(message, {
      status: response.status,
      code: error.code ?? null,
      param: error.param ?? null,
      type: error.type ?? null,
    });
  }
  return new ChatKitError(`The server answered ${response.status} ${response.statusText}.`, {
    status: response.status,
  });
}

/**
 * Split a `text/event-stream` body into its messages: `{ id, event }`, where `event` is the JSON
 * of the `data:` lines and `id` the number of the `id:` line (a kithost run's sequence number,
 * sent to clients that detach), or `null`.
 */
export async function* sseMessages(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const parse = (block) => {
    let id = null;
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      else if (line.startsWith("id:")) {
        const value = Number(line.slice(3).trim());
        id = Number.isInteger(value) && value >= 0 ? value : null;
      }
    }
    return data.length ? { id, event: JSON.parse(data.join("\n")) } : null;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let match;
      while ((match = /\r?\n\r?\n/.exec(buffer))) {
        const message = parse(buffer.slice(0, match.index));
        buffer = buffer.slice(match.index + match[0].length);
        if (message) yield message;
      }
    }
    const last = parse(buffer);
    if (last) yield last;
  } finally {
    reader.releaseLock();
  }
}

/** Split a `text/event-stream` body into its JSON events (`data:` lines). */
export async function* sseEvents(body) {
  for await (const message of sseMessages(body)) yield message.event;
}

/**
 * Talks to `/v1/chatkit/conversation`.
 *
 * `getClientSecret(current)` is called for the first secret, shortly before the current one
 * expires, and after a 401 for an expired or unknown secret; it returns the secret (or an object
 * with `client_secret` and `expires_at`). A cancelled session is not renewed behind the user's
 * back: its 401 surfaces as a `ChatKitError` with code `session_cancelled`. Instead of
 * `getClientSecret`, a `fetch` that adds its own credentials may be given (chatkit-js's
 * `CustomApiConfig`).
 */
export class ChatKitClient {
  constructor({ url, getClientSecret = null, fetch: customFetch = null, uploadStrategy = null }) {
    if (!url) throw new Error("kithost-chat: `api.url` is required");
    if (!getClientSecret && !customFetch) {
      throw new Error("kithost-chat: give `api.getClientSecret` (or a `fetch` that authenticates)");
    }
    this.url = new URL(url, document.baseURI).href;
    this.getClientSecret = getClientSecret;
    this.customFetch = customFetch;
    this.uploadStrategy = uploadStrategy || { type: "two_phase" };
    this.secret = null;
    this.expiresAt = null;
    this.obtainedAt = 0;
    this.pendingSecret = null;
  }

  /**
   * The current secret, renewed when it is about to expire, or when `rejected` (a secret the
   * server refused) is still the current one. Requests that meet an expiry or a 401 together
   * share one call to `getClientSecret`, and one refused secret is replaced only once.
   */
  async clientSecret(rejected = null) {
    const now = Date.now() / 1000;
    const force = rejected !== null && rejected === this.secret;
    if (rejected !== null && !force && this.secret) return this.secret; // already replaced
    if (!force && this.secret) {
      const lifetime = this.expiresAt ? this.expiresAt - this.obtainedAt : Infinity;
      const margin = Math.min(30, lifetime / 5);
      if (!this.expiresAt || now < this.expiresAt - margin) return this.secret;
    }
    if (!this.pendingSecret) {
      this.pendingSecret = (async () => {
        let answer;
        try {
          answer = await this.getClientSecret(this.secret);
        } catch (error) {
          throw new ChatKitError(`Could not get a client secret: ${error.message || error}`, {
            code: "client_secret_unavailable",
          });
        }
        const secret = typeof answer === "string" ? answer : answer && answer.client_secret;
        if (!secret) {
          throw new ChatKitError("getClientSecret returned no client secret.", {
            code: "client_secret_unavailable",
          });
        }
        this.secret = secret;
        this.obtainedAt = Date.now() / 1000;
        this.expiresAt =
          (answer && typeof answer === "object" && answer.expires_at) || secretExpiry(secret);
        return secret;
      })().finally(() => {
        this.pendingSecret = null;
      });
    }
    return this.pendingSecret;
  }

  /** Forget the current secret (after a cancelled session, to start over). */
  reset() {
    this.secret = null;
    this.expiresAt = null;
  }

  async #send(url, init, rejected = null) {
    if (this.customFetch) return this.customFetch(url, init);
    const secret = await this.clientSecret(rejected);
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${secret}`);
    const response = await fetch(url, { ...init, headers });
    if (response.status !== 401 || rejected !== null) return response;
    const error = await errorFrom(response.clone());
    if (error.code === "session_cancelled") return response;
    // Expired or unknown: a fresh secret (one for every request this one failed), and the
    // same request once more.
    return this.#send(url, init, secret);
  }

  async #post(body, { signal, accept = "application/json", headers = {} } = {}) {
    const response = await this.#send(this.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: accept, ...headers },
      body: JSON.stringify(body),
      signal,
    });
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  /** A kithost runs path (an extension), next to the conversation endpoint. */
  #runsUrl(path) {
    return new URL(path, this.url).href;
  }

  async #call(path, { method = "GET", headers = {}, signal } = {}) {
    const response = await this.#send(this.#runsUrl(path), { method, headers, signal });
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  /** A request answered with JSON (`threads.list`, `threads.update`, `items.feedback`, …). */
  async request(type, params = {}, options = {}) {
    const response = await this.#post({ type, params }, options);
    return response.json();
  }

  /** A streaming request: yields its events until the server closes the stream. */
  async *stream(type, params, { signal } = {}) {
    const { messages } = await this.openStream(type, params, { signal });
    for await (const message of messages) yield message.event;
  }

  /**
   * A streaming request, resolved once the server accepted it: `{ runId, messages }`.
   * `runId` is kithost's `X-Kithost-Run-Id` (null from a server without runs); `messages`
   * yields `{ id, event }`. With `detach`, closing the connection leaves the run going
   * (`X-Kithost-Detach: true`): the run is stopped only by `cancelRun`.
   */
  async openStream(type, params, { signal, detach = false } = {}) {
    const response = await this.#post(
      { type, params },
      { signal, accept: "text/event-stream", headers: detach ? { "X-Kithost-Detach": "true" } : {} },
    );
    return { runId: response.headers.get("X-Kithost-Run-Id"), messages: sseMessages(response.body) };
  }

  /** Follow a run (kithost): its events after `after`, then live until it ends. */
  async followRun(runId, after = 0, { signal } = {}) {
    const response = await this.#call(`runs/${encodeURIComponent(runId)}/events`, {
      headers: { Accept: "text/event-stream", "Last-Event-ID": String(after) },
      signal,
    });
    return { runId, messages: sseMessages(response.body) };
  }

  /** Stop a run (kithost), wherever it executes; resolves to the run once it ended. */
  async cancelRun(runId) {
    const response = await this.#call(`runs/${encodeURIComponent(runId)}/cancel`, { method: "POST" });
    return response.json();
  }

  /** The thread's newest run (kithost), or null when it has none. */
  async latestRun(threadId, { signal } = {}) {
    const response = await this.#call(`threads/${encodeURIComponent(threadId)}/runs?limit=1`, { signal });
    const page = await response.json();
    return page.data?.[0] ?? null;
  }

  /** Upload a file; resolves to the attachment to name in `input.attachments`. */
  async upload(file, { signal } = {}) {
    const mimeType = file.type || "application/octet-stream";
    if (this.uploadStrategy.type === "direct") {
      const form = new FormData();
      form.append("file", file, file.name);
      const response = await this.#send(new URL(this.uploadStrategy.uploadUrl, this.url).href, {
        method: "POST",
        body: form,
        signal,
      });
      if (!response.ok) throw await errorFrom(response);
      return response.json();
    }
    const attachment = await this.request(
      "attachments.create",
      { name: file.name, size: file.size, mime_type: mimeType },
      { signal },
    );
    const descriptor = attachment.upload_descriptor;
    if (!descriptor || !descriptor.url) return attachment;
    const form = new FormData();
    form.append("file", file, file.name);
    // The upload link is signed: it needs no credentials.
    const response = await fetch(descriptor.url, {
      method: descriptor.method || "POST",
      headers: descriptor.headers || {},
      body: form,
      signal,
    });
    if (!response.ok) throw await errorFrom(response);
    return response.json();
  }
}
