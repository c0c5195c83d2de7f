// The admin console at `/admin`. It calls only kithost's public admin API (the same endpoints the
// official OpenAI SDKs call), with the admin key the user typed, kept in sessionStorage.

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
async function api(path, { method = "GET", query = {} } = {}) {
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
    body: method === "POST" ? "{}" : undefined,
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body?.error;
    throw new ApiError(error?.message || `kithost answered ${response.status}.`, response.status, error?.code);
  }
  return body;
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
  const [tab, id] = (location.hash.slice(1) || "sessions").split("/");
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
  } else {
    $("view-sessions").hidden = false;
    listSessions().catch(showError);
  }
}

window.addEventListener("hashchange", route);

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

function traceTree(trace) {
  const children = new Map();
  for (const span of trace.spans) {
    const parent = span.parent_id || null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(span);
  }
  const ids = new Set(trace.spans.map((s) => s.id));
  const roots = trace.spans.filter((s) => !s.parent_id || !ids.has(s.parent_id));
  const render = (span) => {
    const kids = children.get(span.id) || [];
    const usage = span.data && span.data.usage;
    return h(
      "li",
      { class: span.error ? "span span-error" : "span" },
      h("span", { class: "badge", text: span.type }),
      " ",
      h("strong", { text: span.name || "" }),
      h("span", { class: "hint", text: ` ${span.duration_ms ?? "?"} ms` }),
      usage ? h("span", { class: "hint", text: ` · tokens ${JSON.stringify(usage)}` }) : null,
      span.error ? h("div", { class: "error", text: typeof span.error === "string" ? span.error : JSON.stringify(span.error) }) : null,
      kids.length ? h("ul", {}, kids.map(render)) : null,
    );
  };
  return h(
    "details",
    { class: "trace", open: true },
    h("summary", {}, h("code", { text: trace.id }), h("span", { class: "hint", text: ` · ${trace.workflow_id} · ${trace.spans.length} spans` })),
    h("ul", { class: "span-tree" }, roots.map(render)),
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

// ------------------------------------------------------------------ start

if (sessionStorage.getItem(KEY_STORAGE)) {
  loadWorkflows().then(openConsole, (error) => {
    sessionStorage.removeItem(KEY_STORAGE);
    showLogin(error.message);
  });
} else {
  showLogin();
}
