// The admin console at `/admin`. It calls only kithost's public admin API (the same endpoints the
// official OpenAI SDKs call), with the admin key the user typed, kept in sessionStorage.

import { overviewView } from "./admin-overview.js";
import { webhooksView } from "./admin-webhooks.js";
import { h } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { renderWidget } from "./widgets.js";

const KEY_STORAGE = "kithost.adminKey";
const PAGE_SIZE = 25;

const $ = (id) => document.getElementById(id);

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "—";
}

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Call the admin API: `Authorization: Bearer <key>` and the ChatKit beta header. */
async function api(path, { method = "GET", query = {}, body = {} } = {}) {
  const url = new URL(`/v1/chatkit${path}`, location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const response = await fetch(url, {
    method,
    headers: {
      Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE) || ""}`,
      "OpenAI-Beta": "chatkit_beta=v1",
      ...(method === "POST" ? { "Content-Type": "application/json" } : {}),
    },
    body: method === "POST" ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const error = answer?.error;
    throw new ApiError(error?.message || `kithost answered ${response.status}.`, response.status, error?.code);
  }
  return answer;
}

/** Plain text with its `code` spans as <code> elements (messages and findings use them). */
function withCode(text) {
  return String(text ?? "")
    .split(/(`[^`]+`)/)
    .filter(Boolean)
    .map((part) => (part.length > 2 && part.startsWith("`") && part.endsWith("`") ? h("code", { text: part.slice(1, -1) }) : part));
}

function showError(error) {
  if (error instanceof ApiError && error.status === 401) {
    sessionStorage.removeItem(KEY_STORAGE);
    showLogin(error.message);
    return;
  }
  const banner = $("admin-error");
  banner.replaceChildren(...withCode(error.message || String(error)));
  banner.hidden = false;
}

function clearError() {
  $("admin-error").hidden = true;
}

// ------------------------------------------------------------------ login

function showLogin(message = "") {
  $("console").hidden = true;
  $("forget-key").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("login-error").hidden = !message;
  $("login-form").elements.key.focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = event.target.elements.key.value.trim();
  sessionStorage.setItem(KEY_STORAGE, key);
  try {
    await loadWorkflows();
    event.target.reset();
    openConsole();
  } catch (error) {
    sessionStorage.removeItem(KEY_STORAGE);
    showLogin(error.message);
  }
});

$("forget-key").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORAGE);
  showLogin();
});

function openConsole() {
  $("login").hidden = true;
  $("console").hidden = false;
  $("forget-key").hidden = false;
  route();
}

// ------------------------------------------------------------------ routing

function route() {
  if (!sessionStorage.getItem(KEY_STORAGE)) return showLogin();
  clearError();
  const [tab, id] = (location.hash.slice(1) || "overview").split("/");
  for (const view of document.querySelectorAll(".view")) view.hidden = true;
  for (const link of document.querySelectorAll(".tabs a")) {
    link.toggleAttribute("aria-current", link.dataset.tab === tab);
    if (link.dataset.tab === tab) link.setAttribute("aria-current", "page");
  }
  if (tab === "threads" && id) {
    $("view-thread").hidden = false;
    openThread(decodeURIComponent(id)).catch(showError);
  } else if (tab === "threads") {
    $("view-threads").hidden = false;
    listThreads().catch(showError);
  } else if (tab === "workflows") {
    $("view-workflows").hidden = false;
    loadWorkflows().catch(showError);
  } else if (tab === "vector-stores" && id) {
    $("view-vector-store").hidden = false;
    openVectorStore(decodeURIComponent(id)).catch(showError);
  } else if (tab === "vector-stores") {
    $("view-vector-stores").hidden = false;
    listVectorStores().catch(showError);
  } else if (tab === "webhooks" && id) {
    $("view-webhook").hidden = false;
    webhooks.showEndpoint(decodeURIComponent(id)).catch(showError);
  } else if (tab === "webhooks") {
    $("view-webhooks").hidden = false;
    webhooks.showList().catch(showError);
  } else if (tab === "overview") {
    $("view-overview").hidden = false;
    overview.show().catch(showError);
  } else {
    $("view-sessions").hidden = false;
    listSessions().catch(showError);
  }
}

window.addEventListener("hashchange", route);

const webhooks = webhooksView({ api, showError, clearError, when });
const overview = overviewView({ api, clearError });

// ------------------------------------------------------------------ workflows

// How each finding's status reads, as `kithost workflows check` words it.
const FINDING_WORDS = {
  runs_on_openai: "runs on OpenAI",
  local: "local equivalent",
  needs_setting: "needs setup",
  unavailable: "not available on this provider",
};

function findingItem(finding) {
  return h(
    "li",
    { class: `finding finding-${finding.status}`, dataset: { status: finding.status } },
    h("strong", { text: finding.subject }),
    " ",
    h("span", { class: `badge verdict verdict-${finding.status}`, text: FINDING_WORDS[finding.status] || finding.status }),
    finding.detail ? h("span", { class: "finding-detail" }, " ", ...withCode(finding.detail)) : null,
  );
}

function workflowStatus(wf) {
  const status = wf.status || "available";
  return h(
    "td",
    {},
    // The reason is the blocking findings' own words, shown below with the others.
    h("span", { class: `badge status-${status}`, text: status, title: wf.unavailable_reason || undefined }),
    wf.requirements?.length ? h("ul", { class: "findings", "aria-label": "Requirements" }, wf.requirements.map(findingItem)) : null,
  );
}

async function loadWorkflows() {
  const page = await api("/workflows");
  $("workflows-rows").replaceChildren(
    ...page.data.map((wf) =>
      h(
        "tr",
        { dataset: { workflowId: wf.id, version: wf.version, status: wf.status || "available" } },
        h("td", {}, h("code", { text: wf.id })),
        h("td", {}, wf.version, wf.default ? h("span", { class: "badge", text: "default" }) : null),
        h("td", { text: wf.name }),
        h("td", {}, h("span", { class: `badge source-${wf.source}`, text: wf.source })),
        workflowStatus(wf),
        h("td", { class: "hint" }, ...withCode(wf.description || "")),
      ),
    ),
  );
  const ids = [...new Set(page.data.map((wf) => wf.id))];
  for (const select of document.querySelectorAll(".workflow-select")) {
    const current = select.value;
    select.replaceChildren(new Option("any", ""), ...ids.map((id) => new Option(id, id)));
    select.value = ids.includes(current) ? current : "";
  }
  return page;
}

// ------------------------------------------------------------------ sessions

let sessionsAfter = null;

function sessionRow(session) {
  const status = h("span", { class: `badge status-${session.status}`, text: session.status });
  const config = session.chatkit_configuration;
  const limits = [
    `${session.max_requests_per_1_minute}/min`,
    config.file_upload.enabled ? `uploads ≤ ${config.file_upload.max_file_size} MB × ${config.file_upload.max_files}` : "no uploads",
    config.history.enabled ? "history" : "no history",
  ].join(" · ");
  const actions = h("td");
  if (session.status === "active") {
    actions.append(
      h("button", {
        class: "button danger small",
        type: "button",
        text: "Cancel",
        "aria-label": `Cancel session ${session.id}`,
        on: {
          click: async (event) => {
            event.target.disabled = true;
            try {
              const cancelled = await api(`/sessions/${encodeURIComponent(session.id)}/cancel`, { method: "POST" });
              row.replaceWith(sessionRow(cancelled));
            } catch (error) {
              event.target.disabled = false;
              showError(error);
            }
          },
        },
      }),
    );
  }
  const row = h(
    "tr",
    { dataset: { sessionId: session.id, user: session.user } },
    h("td", {}, h("code", { class: "id", text: session.id, title: session.id })),
    h("td", {}, h("a", { href: "#threads", text: session.user, on: { click: () => presetThreads(session.user) } })),
    h("td", {}, h("code", { text: session.workflow.id }), session.workflow.version ? ` v${session.workflow.version}` : ""),
    h("td", {}, status),
    h("td", { text: when(session.expires_at) }),
    h("td", { class: "hint", text: limits }),
    actions,
  );
  return row;
}

async function listSessions({ more = false } = {}) {
  const filters = Object.fromEntries(new FormData($("sessions-filter")));
  const page = await api("/sessions", {
    query: { ...filters, limit: PAGE_SIZE, after: more ? sessionsAfter : null },
  });
  const rows = page.data.map(sessionRow);
  if (more) $("sessions-rows").append(...rows);
  else $("sessions-rows").replaceChildren(...rows);
  sessionsAfter = page.last_id;
  $("sessions-more").hidden = !page.has_more;
  $("sessions-empty").hidden = $("sessions-rows").children.length > 0;
}

$("sessions-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  clearError();
  listSessions().catch(showError);
});
$("sessions-more").addEventListener("click", () => listSessions({ more: true }).catch(showError));

// ------------------------------------------------------------------ threads

let threadsAfter = null;

function presetThreads(user) {
  $("threads-filter").elements.user.value = user;
}

function statusText(status) {
  return status.type === "active" ? "active" : `${status.type}${status.reason ? `: ${status.reason}` : ""}`;
}

async function listThreads({ more = false } = {}) {
  const filters = Object.fromEntries(new FormData($("threads-filter")));
  const page = await api("/threads", {
    query: { ...filters, limit: PAGE_SIZE, after: more ? threadsAfter : null },
  });
  const rows = page.data.map((thread) =>
    h(
      "tr",
      { dataset: { threadId: thread.id } },
      h("td", {}, h("a", { href: `#threads/${encodeURIComponent(thread.id)}`, text: thread.title || "(untitled)" })),
      h("td", { text: thread.user }),
      h("td", { text: when(thread.created_at) }),
      h("td", {}, h("span", { class: `badge status-${thread.status.type}`, text: statusText(thread.status) })),
      h("td", {}, h("code", { class: "id", text: thread.id, title: thread.id })),
    ),
  );
  if (more) $("threads-rows").append(...rows);
  else $("threads-rows").replaceChildren(...rows);
  threadsAfter = page.last_id;
  $("threads-more").hidden = !page.has_more;
  $("threads-empty").hidden = $("threads-rows").children.length > 0;
}

$("threads-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  clearError();
  listThreads().catch(showError);
});
$("threads-more").addEventListener("click", () => listThreads({ more: true }).catch(showError));

function transcriptItem(item) {
  const kind = item.type.replace("chatkit.", "");
  const body = h("div", { class: "transcript-body" });
  switch (item.type) {
    case "chatkit.user_message": {
      for (const part of item.content) {
        body.append(
          part.type === "quoted_text"
            ? h("blockquote", { class: "kc-quote", text: part.text })
            : h("p", { class: "plain", text: part.text }),
        );
      }
      if (item.attachments.length) {
        body.append(
          h("ul", { class: "hint" }, item.attachments.map((a) => h("li", { text: `📎 ${a.name} (${a.mime_type})` }))),
        );
      }
      break;
    }
    case "chatkit.assistant_message": {
      const md = h("div", { class: "md" });
      for (const part of item.content) md.append(renderMarkdown(part.text));
      body.append(md);
      break;
    }
    case "chatkit.widget": {
      try {
        body.append(renderWidget(JSON.parse(item.widget)) || "");
      } catch {
        body.append(h("pre", { text: item.widget }));
      }
      break;
    }
    case "chatkit.client_tool_call":
      body.append(
        h("p", {}, h("code", { text: `${item.name}(${item.arguments})` }), ` — ${item.status}`),
        item.output ? h("pre", { text: item.output }) : null,
      );
      break;
    case "chatkit.task":
      body.append(h("p", {}, h("strong", { text: item.heading || item.task_type }), item.summary ? ` — ${item.summary}` : ""));
      break;
    case "chatkit.task_group":
      body.append(
        h(
          "ol",
          { class: "tasks" },
          item.tasks.map((task) =>
            h("li", {}, h("strong", { text: task.heading || task.type }), task.summary ? ` — ${task.summary}` : ""),
          ),
        ),
      );
      break;
    default:
      body.append(h("pre", { text: JSON.stringify(item, null, 2) }));
  }
  const role = { user_message: "User", assistant_message: "Assistant", task_group: "Tasks" }[kind] || kind;
  return h(
    "article",
    { class: `transcript-item transcript-${kind}`, dataset: { itemId: item.id } },
    h("header", {}, h("strong", { text: role }), h("span", { class: "hint", text: when(item.created_at) })),
    body,
  );
}

// ------------------------------------------------------------------ traces

function duration(ms) {
  if (typeof ms !== "number") return null;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Token usage as figures (Responses says input/output, Chat Completions prompt/completion). */
function tokenCounts(usage) {
  if (!usage || typeof usage !== "object") return null;
  const input = usage.input_tokens ?? usage.prompt_tokens;
  const output = usage.output_tokens ?? usage.completion_tokens;
  if (typeof input !== "number" && typeof output !== "number") return null;
  return { input: input || 0, output: output || 0 };
}

function tokenText({ input, output }) {
  return `${input.toLocaleString("en")} in · ${output.toLocaleString("en")} out tokens`;
}

const MODEL_CALLS = new Set(["generation", "response"]);

/**
 * The text a model call answered. Chat Completions records messages (`content` a string), or,
 * streamed, whole responses; Responses records output items (`content` parts with `text`).
 */
function answerText(span) {
  const texts = [];
  const collect = (items) => {
    for (const item of Array.isArray(items) ? items : []) {
      if (typeof item?.content === "string") texts.push(item.content);
      else if (Array.isArray(item?.content)) {
        for (const part of item.content) if (typeof part?.text === "string") texts.push(part.text);
      }
      if (Array.isArray(item?.output)) collect(item.output);
    }
  };
  collect(span.data && span.data.output);
  return texts.length ? texts.join("\n") : null;
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A structured agent (a classifier…) answers the workflow, not the chat: show its decision. */
function structuredOutput(span, children) {
  const type = span.data && span.data.output_type;
  if (span.type !== "agent" || !type || type === "str") return null;
  const calls = [];
  const walk = (id) => {
    for (const child of children.get(id) || []) {
      if (MODEL_CALLS.has(child.type)) calls.push(child);
      walk(child.id);
    }
  };
  walk(span.id);
  const answer = calls.map(answerText).filter(Boolean).pop();
  return answer ? { type, text: pretty(answer) } : null;
}

function spanItem(span, children) {
  const kids = children.get(span.id) || [];
  const tokens = tokenCounts(span.data && span.data.usage);
  const decided = structuredOutput(span, children);
  const answer = MODEL_CALLS.has(span.type) ? answerText(span) : null;
  const took = duration(span.duration_ms);
  return h(
    "li",
    { class: span.error ? "span span-error" : "span", dataset: { spanId: span.id, type: span.type } },
    h("span", { class: "badge", text: span.type }),
    " ",
    h("strong", { text: span.name || "" }),
    took ? h("span", { class: "hint span-duration", text: ` ${took}` }) : null,
    tokens ? h("span", { class: "hint span-tokens", text: ` · ${tokenText(tokens)}` }) : null,
    decided
      ? h("div", { class: "span-output" }, h("span", { class: "hint", text: `output (${decided.type})` }), h("pre", { text: decided.text }))
      : null,
    answer && !decided
      ? h("details", { class: "span-answer" }, h("summary", { class: "hint", text: "answer" }), h("pre", { text: pretty(answer) }))
      : null,
    span.error ? h("div", { class: "error", text: typeof span.error === "string" ? span.error : span.error.message || JSON.stringify(span.error) }) : null,
    kids.length ? h("ul", {}, kids.map((kid) => spanItem(kid, children))) : null,
  );
}

/**
 * One run as a tree. The SDK's trace is the root: its top-level spans carry no parent, and
 * older records of it carry no times, so its duration then spans its children's.
 */
function traceTree(trace) {
  const root = trace.spans.find((span) => span.type === "trace") || null;
  const spans = trace.spans.filter((span) => span !== root);
  const ids = new Set(spans.map((span) => span.id));
  const children = new Map();
  const top = [];
  for (const span of spans) {
    const parent = span.parent_id && ids.has(span.parent_id) ? span.parent_id : null;
    if (!parent) top.push(span);
    else {
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(span);
    }
  }
  const byStart = (a, b) => (a.started_at ?? Infinity) - (b.started_at ?? Infinity);
  top.sort(byStart);
  for (const list of children.values()) list.sort(byStart);

  const starts = spans.map((span) => span.started_at).filter((t) => typeof t === "number");
  const ends = spans.map((span) => span.ended_at).filter((t) => typeof t === "number");
  const took =
    root?.duration_ms ?? (starts.length && ends.length ? (Math.max(...ends) - Math.min(...starts)) * 1000 : null);
  const total = { input: 0, output: 0 };
  let calls = 0;
  for (const span of spans) {
    if (!MODEL_CALLS.has(span.type)) continue; // agent and turn spans repeat their calls' usage
    calls += 1;
    const tokens = tokenCounts(span.data && span.data.usage);
    if (tokens) {
      total.input += tokens.input;
      total.output += tokens.output;
    }
  }
  const facts = [
    duration(took),
    `${calls} model call${calls === 1 ? "" : "s"}`,
    calls ? tokenText(total) : null,
    trace.workflow_id,
  ].filter(Boolean);
  return h(
    "details",
    { class: "trace", open: true, dataset: { traceId: trace.id } },
    h(
      "summary",
      {},
      h("strong", { class: "trace-name", text: root?.name || "Run" }),
      h("span", { class: "hint trace-facts", text: ` · ${facts.join(" · ")} · ` }),
      h("code", { class: "id", text: trace.id, title: trace.id }),
    ),
    h("ul", { class: "span-tree" }, top.map((span) => spanItem(span, children))),
  );
}

async function openThread(threadId) {
  $("thread-title").textContent = "Thread";
  $("thread-meta").textContent = "";
  $("transcript").replaceChildren(h("p", { class: "hint", text: "Loading…" }));
  $("traces").replaceChildren();
  const thread = await api(`/threads/${encodeURIComponent(threadId)}`);
  $("thread-title").textContent = thread.title || "(untitled)";
  $("thread-meta").textContent = `${thread.id} · user ${thread.user} · ${when(thread.created_at)} · ${statusText(thread.status)}`;
  const items = [];
  let after = null;
  for (let page = 0; page < 50; page++) {
    const result = await api(`/threads/${encodeURIComponent(threadId)}/items`, {
      query: { order: "asc", limit: 100, after },
    });
    items.push(...result.data);
    if (!result.has_more) break;
    after = result.last_id;
  }
  $("transcript").replaceChildren(
    ...(items.length ? items.map(transcriptItem) : [h("p", { class: "hint", text: "No items." })]),
  );
  const traces = await api(`/threads/${encodeURIComponent(threadId)}/traces`);
  $("traces").replaceChildren(
    ...(traces.data.length
      ? traces.data.map(traceTree)
      : [h("p", { class: "hint", text: "No traces recorded for this thread. Agents SDK workflows record one per run when the session has tracing on; the built-in workflows record none." })]),
  );
}

// ------------------------------------------------------------------ vector stores

/** Call OpenAI's files and vector stores API on kithost (`/v1/…`, admin key, no beta header). */
async function restApi(path, { method = "GET", query = {}, body } = {}) {
  const url = new URL(`/v1${path}`, location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const response = await fetch(url, {
    method,
    headers: {
      Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE) || ""}`,
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const error = answer?.error;
    throw new ApiError(error?.message || `kithost answered ${response.status}.`, response.status, error?.code);
  }
  return answer;
}

function size(bytes) {
  if (!bytes) return "—";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit && value < 10 ? 1 : 0)} ${units[unit]}`;
}

function fileCounts(counts) {
  const parts = [`${counts.completed} completed`];
  if (counts.in_progress) parts.push(`${counts.in_progress} in progress`);
  if (counts.failed) parts.push(`${counts.failed} failed`);
  return parts.join(", ");
}

let vectorStoresAfter = null;

async function listVectorStores(more = false) {
  if (!more) {
    vectorStoresAfter = null;
    $("vector-stores-rows").replaceChildren();
  }
  const page = await restApi("/vector_stores", { query: { limit: PAGE_SIZE, after: vectorStoresAfter } });
  for (const store of page.data) {
    const link = `#vector-stores/${encodeURIComponent(store.id)}`;
    $("vector-stores-rows").append(
      h(
        "tr",
        { dataset: { storeId: store.id } },
        h("td", {}, h("a", { href: link, text: store.name || "(no name)" })),
        h("td", {}, h("code", { class: "id", text: store.id })),
        h("td", { text: fileCounts(store.file_counts) }),
        h("td", { text: size(store.usage_bytes) }),
        h("td", { text: when(store.created_at) }),
      ),
    );
  }
  vectorStoresAfter = page.last_id;
  $("vector-stores-more").hidden = !page.has_more;
  $("vector-stores-empty").hidden = $("vector-stores-rows").children.length > 0;
}

$("vector-stores-more").addEventListener("click", () => listVectorStores(true).catch(showError));

let openStoreId = null;

async function openVectorStore(storeId) {
  openStoreId = storeId;
  $("vector-store-title").textContent = "Vector store";
  $("vector-store-meta").textContent = "";
  $("vector-store-results").replaceChildren();
  $("vector-store-mode").hidden = true;
  $("vector-store-files").replaceChildren();
  const store = await restApi(`/vector_stores/${encodeURIComponent(storeId)}`);
  $("vector-store-title").textContent = store.name || "(no name)";
  $("vector-store-meta").textContent = `${store.id} · ${fileCounts(store.file_counts)} · ${size(store.usage_bytes)} · created ${when(store.created_at)}`;
  const entries = [];
  let after = null;
  for (let page = 0; page < 20; page++) {
    const result = await restApi(`/vector_stores/${encodeURIComponent(storeId)}/files`, {
      query: { limit: 100, after, order: "asc" },
    });
    entries.push(...result.data);
    if (!result.has_more) break;
    after = result.last_id;
  }
  // A store's file list has no names (as on OpenAI): each file says its own.
  const names = await Promise.all(
    entries.map((entry) =>
      restApi(`/files/${encodeURIComponent(entry.id)}`).then((file) => file.filename, () => entry.id),
    ),
  );
  $("vector-store-files").replaceChildren(
    ...entries.map((entry, index) =>
      h(
        "tr",
        { dataset: { fileId: entry.id } },
        h("td", {}, h("span", { class: "file-name", text: names[index] }), h("br"), h("code", { class: "id", text: entry.id })),
        h(
          "td",
          {},
          h("span", { class: `badge status-${entry.status}`, text: entry.status.replace("_", " ") }),
          entry.last_error ? h("p", { class: "error small", text: entry.last_error.message }) : null,
        ),
        h("td", {}, Object.keys(entry.attributes || {}).length ? h("code", { text: JSON.stringify(entry.attributes) }) : "—"),
        h("td", { text: size(entry.usage_bytes) }),
        h("td", { text: when(entry.created_at) }),
      ),
    ),
  );
  $("vector-store-files-empty").hidden = entries.length > 0;
}

$("vector-store-search").addEventListener("submit", async (event) => {
  event.preventDefault();
  const query = event.target.elements.query.value.trim();
  if (!query || !openStoreId) return;
  clearError();
  try {
    const page = await restApi(`/vector_stores/${encodeURIComponent(openStoreId)}/search`, {
      method: "POST",
      body: { query, max_num_results: 10 },
    });
    const mode = page.search_mode === "hybrid" ? "hybrid search (keywords and meaning)" : "keyword search";
    $("vector-store-mode").textContent = `${page.data.length} results · ${mode}`;
    $("vector-store-mode").hidden = false;
    $("vector-store-results").replaceChildren(
      ...page.data.map((hit) =>
        h(
          "li",
          { class: "search-result" },
          h("p", {}, h("strong", { text: hit.filename }), h("span", { class: "hint", text: ` · score ${hit.score.toFixed(3)}` })),
          ...hit.content.map((part) => h("blockquote", { class: "chunk", text: part.text })),
        ),
      ),
    );
  } catch (error) {
    showError(error);
  }
});

// ------------------------------------------------------------------ start

if (sessionStorage.getItem(KEY_STORAGE)) {
  loadWorkflows().then(openConsole, (error) => {
    sessionStorage.removeItem(KEY_STORAGE);
    showLogin(error.message);
  });
} else {
  showLogin();
}
