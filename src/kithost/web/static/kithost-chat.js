// <kithost-chat>: a chat UI that speaks the ChatKit protocol to kithost (or any ChatKit server).
// Plain ES modules, no build step, no CDN. Embed it with
//
//   <script type="module" src="https://chat.example.com/static/kithost-chat.js"></script>
//   <kithost-chat id="chat"></kithost-chat>
//   chat.setOptions({ api: { url, getClientSecret } })
//
// Model text is rendered by a Markdown renderer that only ever creates text nodes and a fixed set
// of elements; nothing from the server is parsed as HTML.

import { ChatKitClient, ChatKitError } from "./chatkit-client.js";
import { h } from "./dom.js";
import { renderMarkdown, safeHref } from "./markdown.js";
import { icon } from "./icons.js";
import { renderWidget, updateWidget } from "./widgets.js";

const STYLESHEET = new URL("./kithost-chat.css", import.meta.url).href;
const THREAD_PAGE = 100;
const THREAD_LIST_PAGE = 30;
const MAX_THREAD_PAGES = 20;
// Where the element notes, per thread, the run it follows (shared by the origin's tabs).
const RUN_KEY = "kithost-chat.run.";
// After a Stop's cancel, how long the stream may take to deliver its last events and close.
const CANCEL_GRACE_MS = 2000;
// Pauses before following a run again after the connection dropped (the last one repeats).
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000];
const RECONNECT_ATTEMPTS = 12;

const DEFAULT_OPTIONS = {
  history: { enabled: true, showDelete: true, showRename: true },
  threadItemActions: { feedback: true, retry: true },
  composer: { placeholder: "Message…", attachments: { enabled: false } },
  startScreen: { greeting: "What can I help with?", prompts: [] },
  header: { enabled: true, title: null },
  initialThread: null,
};

function merge(defaults, given) {
  const out = { ...defaults };
  for (const [key, value] of Object.entries(given || {})) {
    const base = defaults[key];
    out[key] =
      base && typeof base === "object" && !Array.isArray(base) && value && typeof value === "object"
        ? merge(base, value)
        : value;
  }
  return out;
}

function formatBytes(size) {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(0)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

function imageSource(url) {
  if (typeof url !== "string") return null;
  if (/^data:image\/(png|jpeg|gif|webp);/i.test(url)) return url;
  return safeHref(url);
}

function sameItem(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A network failure (fetch's TypeError), as opposed to an answer, an abort or a bad body. */
function dropped(error) {
  return error instanceof TypeError;
}

function runStore() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage is off for this page (sandboxed frame, privacy settings)
  }
}

function plainText(item) {
  return (item.content || [])
    .map((part) => part.text || "")
    .join("\n\n")
    .trim();
}

export class KithostChat extends HTMLElement {
  #options = null;
  #client = null;
  #els = {};
  #threadId = null;
  #thread = null;
  #items = new Map(); // item id -> { item, el }
  #stream = null;
  #attachments = [];
  #cancelled = false;
  #renderQueued = new Set();
  #readyEmitted = false;
  #generation = 0;

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this.#build();
  }

  // ---------------------------------------------------------------- public API

  /** Replace all options (as chatkit-js's `setOptions` does) and start over. */
  setOptions(options) {
    this.#options = merge(DEFAULT_OPTIONS, options);
    const api = this.#options.api || {};
    this.#client = new ChatKitClient(api);
    this.#cancelled = false;
    this.#applyOptions();
    this.#start();
  }

  /** Open a thread by id, or a new chat with `null`. */
  async setThreadId(threadId) {
    if (threadId) await this.#openThread(threadId);
    else this.#newChat();
  }

  /** Send a message as if typed (`{text, newThread}`). */
  async sendUserMessage({ text = "", newThread = false } = {}) {
    if (newThread) this.#newChat();
    await this.#send(text, []);
  }

  focusComposer() {
    this.#els.input.focus();
  }

  /** Re-read the thread list and the open thread from the server. */
  async fetchUpdates() {
    await this.#loadThreads();
    if (this.#threadId) await this.#openThread(this.#threadId);
  }

  get threadId() {
    return this.#threadId;
  }

  // ---------------------------------------------------------------- skeleton

  #build() {
    const els = this.#els;
    els.threads = h("ul", { class: "kc-threads", "aria-label": "Conversations" });
    els.historyEmpty = h("p", { class: "kc-muted kc-history-empty", text: "No conversations yet." });
    els.moreThreads = h("button", {
      class: "kc-button kc-small kc-secondary kc-more",
      type: "button",
      text: "Show older",
      hidden: true,
    });
    els.sidebar = h(
      "aside",
      { class: "kc-sidebar", part: "sidebar", "aria-label": "History" },
      h(
        "button",
        { class: "kc-button kc-new", type: "button", on: { click: () => this.#newChat() } },
        icon("plus"),
        " New chat",
      ),
      h("h2", { class: "kc-sidebar-title", text: "History" }),
      els.threads,
      els.moreThreads,
      els.historyEmpty,
    );
    els.banner = h("div", { class: "kc-banner", role: "alert", hidden: true });
    els.title = h("h1", { class: "kc-title", text: "New chat" });
    els.header = h("header", { class: "kc-header", part: "header" }, els.title);
    els.start = h("div", { class: "kc-start" });
    els.messages = h(
      "div",
      { class: "kc-messages", role: "log", "aria-live": "polite", "aria-busy": "false" },
      els.start,
    );
    els.status = h("div", { class: "kc-status", "aria-live": "polite", hidden: true });
    els.chips = h("ul", { class: "kc-chips", "aria-label": "Attachments" });
    els.uploadError = h("p", { class: "kc-upload-error", role: "alert", hidden: true });
    els.file = h("input", {
      type: "file",
      multiple: true,
      hidden: true,
      on: { change: () => this.#attachFiles() },
    });
    els.attach = h(
      "button",
      {
        class: "kc-icon-button kc-attach",
        type: "button",
        title: "Attach files",
        "aria-label": "Attach files",
        on: { click: () => els.file.click() },
      },
      icon("attach"),
    );
    els.input = h("textarea", {
      class: "kc-input",
      rows: "1",
      "aria-label": "Message",
      on: {
        keydown: (event) => {
          if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            els.composer.requestSubmit();
          }
        },
        input: () => {
          this.#fitInput();
          this.#updateComposer();
        },
      },
    });
    els.send = h("button", { class: "kc-button kc-send", type: "submit", text: "Send" });
    els.stop = h(
      "button",
      { class: "kc-button kc-stop", type: "button", hidden: true, on: { click: () => this.#stopStream() } },
      icon("stop"),
      " Stop",
    );
    els.composerNote = h("p", { class: "kc-muted kc-composer-note", hidden: true });
    els.composer = h(
      "form",
      {
        class: "kc-composer",
        part: "composer",
        on: {
          submit: (event) => {
            event.preventDefault();
            this.#submit();
          },
        },
      },
      els.chips,
      els.uploadError,
      els.composerNote,
      h("div", { class: "kc-composer-row" }, els.attach, els.file, els.input, els.send, els.stop),
    );
    els.main = h(
      "section",
      { class: "kc-main" },
      els.banner,
      els.header,
      els.messages,
      els.status,
      els.composer,
    );
    els.root = h("div", { class: "kc-root", part: "root" }, els.sidebar, els.main);
    this.shadowRoot.append(h("link", { rel: "stylesheet", href: STYLESHEET }), els.root);
    this.#renderStart();
    this.#updateComposer();
  }

  #applyOptions() {
    const { history, composer, header } = this.#options;
    this.#els.sidebar.hidden = !history.enabled;
    this.#els.header.hidden = header.enabled === false;
    this.#els.input.placeholder = composer.placeholder || "";
    this.#renderStart();
    const attachments = composer.attachments || {};
    this.#els.attach.hidden = !attachments.enabled;
    const accept = attachments.accept;
    if (accept && typeof accept === "object" && !Array.isArray(accept)) {
      this.#els.file.accept = Object.entries(accept).flatMap(([m, e]) => [m, ...e]).join(",");
    } else if (Array.isArray(accept)) this.#els.file.accept = accept.join(",");
    else this.#els.file.removeAttribute("accept");
  }

  // ---------------------------------------------------------------- lifecycle

  async #start() {
    const generation = ++this.#generation;
    if (this.#stream) this.#detachStream();
    this.#hideBanner();
    this.#clearMessages();
    this.#threadId = null;
    this.#thread = null;
    this.#setTitle(null);
    this.#els.threads.replaceChildren();
    this.#els.moreThreads.hidden = true;
    try {
      // The first request proves the secret works (or tells why not).
      if (this.#options.history.enabled) await this.#loadThreads();
      else await this.#client.clientSecret();
      if (generation !== this.#generation) return;
      if (this.#options.initialThread) {
        await this.#openThread(this.#options.initialThread).catch((error) => {
          // A thread that is gone (deleted elsewhere) leaves a new chat, not an error.
          if (!(error instanceof ChatKitError && error.status === 404)) throw error;
        });
      }
    } catch (error) {
      this.#fail(error);
    }
    if (!this.#readyEmitted) {
      this.#readyEmitted = true;
      this.#emit("chatkit.ready");
    }
    this.#updateComposer();
  }

  async #restart() {
    this.#cancelled = false;
    this.#client.reset();
    const threadId = this.#threadId;
    await this.#start();
    if (threadId && !this.#cancelled) {
      try {
        await this.#openThread(threadId);
      } catch (error) {
        this.#fail(error);
      }
    }
  }

  #emit(name, detail = {}) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  // ---------------------------------------------------------------- banners and errors

  #showBanner(message, { action = null, level = "danger" } = {}) {
    const banner = this.#els.banner;
    banner.className = `kc-banner kc-banner-${level}`;
    banner.replaceChildren(h("span", { class: "kc-banner-text", text: message }));
    if (action) {
      banner.append(
        h("button", { class: "kc-button", type: "button", text: action.label, on: { click: action.run } }),
      );
    }
    banner.hidden = false;
  }

  #hideBanner() {
    this.#els.banner.hidden = true;
    this.#els.banner.replaceChildren();
  }

  /** Report a failed request: a cancelled session gets the banner, anything else an alert. */
  #fail(error, { inline = false } = {}) {
    const err = error instanceof ChatKitError ? error : new ChatKitError(error?.message || String(error));
    this.#emit("chatkit.error", { error: err });
    if (err.code === "session_cancelled") {
      this.#cancelled = true;
      this.#showBanner(
        "This chat session was cancelled. Messages can no longer be sent with it.",
        { action: { label: "Start a new session", run: () => this.#restart() } },
      );
      this.#updateComposer();
      return;
    }
    if (err.code === "client_secret_unavailable" || err.status === 401) {
      this.#showBanner(err.message, { action: { label: "Try again", run: () => this.#restart() } });
      this.#updateComposer();
      return;
    }
    if (inline) {
      this.#appendNotice({ level: "danger", message: err.message, plain: true });
    } else {
      this.#showBanner(err.message, {
        level: "warning",
        action: { label: "Dismiss", run: () => this.#hideBanner() },
      });
    }
  }

  // ---------------------------------------------------------------- history sidebar

  async #loadThreads({ after = null } = {}) {
    const params = { limit: THREAD_LIST_PAGE, order: "desc" };
    if (after) params.after = after;
    const page = await this.#client.request("threads.list", params);
    const rows = page.data.map((thread) => this.#threadRow(thread));
    if (after) this.#els.threads.append(...rows);
    else this.#els.threads.replaceChildren(...rows);
    const last = page.after || page.data.at(-1)?.id;
    this.#els.moreThreads.hidden = !page.has_more;
    this.#els.moreThreads.onclick = () =>
      this.#loadThreads({ after: last }).catch((error) => this.#fail(error));
    this.#markActiveThread();
    this.#updateHistoryEmpty();
  }

  #updateHistoryEmpty() {
    this.#els.historyEmpty.hidden = this.#els.threads.children.length > 0;
  }

  #threadRow(thread) {
    const { showRename, showDelete } = this.#options.history;
    const label = thread.title || "New conversation";
    const open = h("button", {
      class: "kc-thread-open",
      type: "button",
      title: label,
      text: label,
      on: { click: () => this.#openThread(thread.id).catch((e) => this.#fail(e)) },
    });
    const row = h("li", { class: "kc-thread", dataset: { threadId: thread.id } }, open);
    const actions = h("div", { class: "kc-thread-actions" });
    if (showRename !== false) {
      actions.append(
        h(
          "button",
          {
            class: "kc-icon-button",
            type: "button",
            title: "Rename",
            "aria-label": `Rename “${label}”`,
            on: { click: () => this.#renameThread(row, thread) },
          },
          icon("pencil"),
        ),
      );
    }
    if (showDelete !== false) {
      actions.append(
        h(
          "button",
          {
            class: "kc-icon-button",
            type: "button",
            title: "Delete",
            "aria-label": `Delete “${label}”`,
            on: { click: () => this.#confirmDelete(row, thread) },
          },
          icon("trash"),
        ),
      );
    }
    row.append(actions);
    return row;
  }

  #threadRowFor(threadId) {
    return [...this.#els.threads.children].find((row) => row.dataset.threadId === threadId) || null;
  }

  #upsertThreadRow(thread) {
    if (!this.#options.history.enabled) return;
    const fresh = this.#threadRow(thread);
    const existing = this.#threadRowFor(thread.id);
    if (existing) existing.replaceWith(fresh);
    else this.#els.threads.prepend(fresh);
    this.#markActiveThread();
    this.#updateHistoryEmpty();
  }

  #markActiveThread() {
    for (const row of this.#els.threads.children) {
      const active = row.dataset.threadId === this.#threadId;
      row.classList.toggle("kc-active", active);
      row.querySelector(".kc-thread-open")?.toggleAttribute("aria-current", active);
    }
  }

  #renameThread(row, thread) {
    const input = h("input", {
      class: "kc-rename-input",
      "aria-label": "Conversation title",
      value: thread.title || "",
      maxlength: "200",
    });
    const cancel = () => row.replaceWith(this.#threadRow(thread));
    const form = h(
      "form",
      {
        class: "kc-rename",
        on: {
          submit: async (event) => {
            event.preventDefault();
            const title = input.value.trim();
            if (!title) return cancel();
            try {
              const updated = await this.#client.request("threads.update", {
                thread_id: thread.id,
                title,
              });
              row.replaceWith(this.#threadRow(updated));
              this.#markActiveThread();
              if (updated.id === this.#threadId) this.#setTitle(updated.title);
            } catch (error) {
              cancel();
              this.#fail(error);
            }
          },
          keydown: (event) => {
            if (event.key === "Escape") cancel();
          },
        },
      },
      input,
      h("button", { class: "kc-button kc-small", type: "submit", text: "Save" }),
      h("button", { class: "kc-button kc-small kc-secondary", type: "button", text: "Cancel", on: { click: cancel } }),
    );
    row.replaceChildren(form);
    input.focus();
    input.select();
  }

  #confirmDelete(row, thread) {
    const label = thread.title || "New conversation";
    const restore = () => row.replaceWith(this.#threadRow(thread));
    row.replaceChildren(
      h(
        "div",
        { class: "kc-confirm", role: "group", "aria-label": `Delete “${label}”?` },
        h("span", { text: "Delete this conversation?" }),
        h("button", {
          class: "kc-button kc-small kc-danger",
          type: "button",
          text: "Delete",
          on: {
            click: async () => {
              try {
                await this.#client.request("threads.delete", { thread_id: thread.id });
                row.remove();
                this.#updateHistoryEmpty();
                if (thread.id === this.#threadId) this.#newChat();
              } catch (error) {
                restore();
                this.#fail(error);
              }
            },
          },
        }),
        h("button", { class: "kc-button kc-small kc-secondary", type: "button", text: "Cancel", on: { click: restore } }),
      ),
    );
  }

  // ---------------------------------------------------------------- threads

  #setTitle(title) {
    this.#els.title.textContent = title || (this.#threadId ? "New conversation" : this.#options?.header?.title || "New chat");
  }

  #newChat() {
    // An answer still being written goes on; opening its thread again follows it.
    if (this.#stream) this.#detachStream();
    this.#threadId = null;
    this.#thread = null;
    this.#clearMessages();
    this.#setTitle(null);
    this.#markActiveThread();
    this.#setLocked(null);
    this.#emit("chatkit.thread.change", { threadId: null });
    this.#updateComposer();
    this.#els.input.focus();
  }

  async #openThread(threadId) {
    if (this.#stream) this.#detachStream();
    this.#emit("chatkit.thread.load.start", { threadId });
    // Asked before the items: a run that ends in between is then in the items, not missed.
    const running = await this.#runningRun(threadId);
    const thread = await this.#client.request("threads.get_by_id", { thread_id: threadId });
    const items = [...thread.items.data];
    let { has_more: hasMore, after } = thread.items;
    for (let page = 0; hasMore && page < MAX_THREAD_PAGES; page++) {
      const next = await this.#client.request("items.list", {
        thread_id: threadId,
        order: "asc",
        limit: THREAD_PAGE,
        after: after ?? items.at(-1)?.id,
      });
      items.push(...next.data);
      ({ has_more: hasMore, after } = next);
    }
    this.#threadId = thread.id;
    this.#thread = thread;
    this.#clearMessages();
    this.#els.start.hidden = true;
    for (const item of items) this.#upsertItem(item);
    this.#setTitle(thread.title);
    this.#setLocked(thread.status);
    this.#markActiveThread();
    this.#scrollToEnd(true);
    this.#emit("chatkit.thread.load.end", { threadId });
    this.#emit("chatkit.thread.change", { threadId });
    this.#updateComposer();
    if (running && this.#threadId === thread.id && !this.#stream) {
      // An answer is being written (here before a reload, in another tab, …): follow it from
      // its first event, on top of the items just shown.
      this.#followRun(running.runId, thread.id, new Set(items.map((item) => item.id)));
    }
  }

  /** The run in progress on the thread, if any (kithost's runs; other servers have none). */
  async #runningRun(threadId) {
    if (!this.#resumable()) return null;
    try {
      const run = await this.#client.latestRun(threadId);
      if (run && run.status === "in_progress") return { runId: run.id };
      this.#forgetRun(threadId);
      return null;
    } catch {
      // Runs could not be asked about (rate limit, a proxy without them): the run this browser
      // last followed on the thread, if any; its events say whether it is still going.
      return this.#savedRun(threadId);
    }
  }

  #resumable() {
    return this.#options?.api?.resumable !== false;
  }

  #savedRun(threadId) {
    try {
      const saved = JSON.parse(runStore()?.getItem(RUN_KEY + threadId) || "null");
      return saved && typeof saved.runId === "string" ? saved : null;
    } catch {
      return null;
    }
  }

  #saveRun(stream) {
    if (!stream.runId || !stream.threadId) return;
    const value = JSON.stringify({ runId: stream.runId, lastEventId: stream.lastEventId });
    try {
      runStore()?.setItem(RUN_KEY + stream.threadId, value);
    } catch {
      // A full or refused storage only costs the fallback above.
    }
  }

  #forgetRun(threadId, runId = null) {
    if (!threadId) return;
    if (runId && this.#savedRun(threadId)?.runId !== runId) return;
    try {
      runStore()?.removeItem(RUN_KEY + threadId);
    } catch {
      // as above
    }
  }

  #setLocked(status) {
    const note = this.#els.composerNote;
    if (status && status.type && status.type !== "active") {
      note.textContent = status.reason || `This conversation is ${status.type}.`;
      note.hidden = false;
      this.#locked = true;
    } else {
      note.hidden = true;
      this.#locked = false;
    }
    this.#updateComposer();
  }

  #locked = false;

  // ---------------------------------------------------------------- messages

  #clearMessages() {
    this.#items.clear();
    this.#els.messages.replaceChildren(this.#els.start);
    this.#els.start.hidden = false;
    this.#els.status.hidden = true;
  }

  #renderStart() {
    const start = this.#options?.startScreen || DEFAULT_OPTIONS.startScreen;
    const prompts = (start.prompts || []).map((prompt) =>
      h("button", {
        class: "kc-prompt",
        type: "button",
        text: prompt.label || prompt.prompt,
        on: { click: () => this.#send(prompt.prompt || prompt.label, []) },
      }),
    );
    this.#els.start.replaceChildren(
      h("p", { class: "kc-greeting", text: start.greeting || "" }),
      prompts.length ? h("div", { class: "kc-prompts" }, prompts) : null,
    );
  }

  #nearBottom() {
    const el = this.#els.messages;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }

  #scrollToEnd(force = false) {
    const el = this.#els.messages;
    if (force || this.#nearBottom()) el.scrollTop = el.scrollHeight;
  }

  #upsertItem(item, { streaming = false } = {}) {
    if (item.type === "hidden_context_item" || item.type === "sdk_hidden_context" || item.type === "end_of_turn") {
      return;
    }
    const stick = this.#nearBottom();
    const existing = this.#items.get(item.id);
    const el = this.#renderItem(item);
    el.classList.toggle("kc-streaming", streaming);
    if (existing) {
      if (existing.el.classList.contains("kc-stopped")) el.classList.add("kc-stopped");
      // A re-render must not fold a workflow the reader opened (or open one they folded).
      const before = existing.el.querySelector("details.kc-workflow-box");
      const after = el.querySelector("details.kc-workflow-box");
      if (before && after) after.open = before.open;
      existing.el.replaceWith(el);
    } else {
      this.#els.start.hidden = true;
      this.#els.messages.append(el);
    }
    this.#items.set(item.id, { item, el });
    if (stick) this.#scrollToEnd(true);
  }

  #removeItem(itemId) {
    const entry = this.#items.get(itemId);
    if (entry) entry.el.remove();
    this.#items.delete(itemId);
  }

  /** Re-render an item after its data changed (once per frame while deltas stream in). */
  #rerender(itemId) {
    if (this.#renderQueued.has(itemId)) return;
    this.#renderQueued.add(itemId);
    requestAnimationFrame(() => this.#flushRender(itemId));
  }

  #flushRender(itemId) {
    if (!this.#renderQueued.delete(itemId)) return;
    const entry = this.#items.get(itemId);
    if (!entry) return;
    const streaming = entry.el.classList.contains("kc-streaming");
    this.#upsertItem(entry.item, { streaming });
  }

  #renderItem(item) {
    const wrap = (kind, ...children) =>
      h("article", { class: `kc-item kc-${kind}`, dataset: { itemId: item.id, itemType: item.type } }, ...children);
    switch (item.type) {
      case "user_message":
        return wrap("user", this.#renderUserMessage(item));
      case "assistant_message":
        return wrap("assistant", ...this.#renderAssistantMessage(item));
      case "workflow":
        return wrap("workflow", this.#renderWorkflow(item.workflow || {}));
      case "task":
        return wrap("task", h("div", { class: "kc-task-box" }, this.#renderTask(item.task || {})));
      case "widget":
        return wrap(
          "widget",
          renderWidget(item.widget, { onAction: (action, el) => this.#widgetAction(item, action, el) }) ||
            h("span"),
        );
      case "client_tool_call":
        return wrap(
          "tool",
          h(
            "p",
            { class: "kc-muted" },
            "Tool ",
            h("code", { text: item.name || "" }),
            item.status === "pending" ? " (waiting for the page)" : " ✓",
          ),
        );
      case "generated_image": {
        const src = imageSource(item.image?.url);
        return wrap(
          "image",
          src ? h("img", { class: "kc-generated", src, alt: "Generated image" }) : h("p", { class: "kc-muted", text: "Generating an image…" }),
        );
      }
      case "structured_input":
        return wrap("structured", this.#renderStructuredInput(item));
      default:
        return wrap("unknown", h("p", { class: "kc-muted", text: `[${item.type}]` }));
    }
  }

  #renderUserMessage(item) {
    const text = (item.content || [])
      .map((part) => (part.type === "input_tag" ? `@${part.text}` : part.text || ""))
      .join("");
    const box = h("div", { class: "kc-user-box" });
    if (item.quoted_text) box.append(h("blockquote", { class: "kc-quote", text: item.quoted_text }));
    const attachments = (item.attachments || []).map((attachment) => {
      const src = attachment.type === "image" ? imageSource(attachment.preview_url) : null;
      return h(
        "li",
        { class: "kc-attachment", title: attachment.name },
        src ? h("img", { src, alt: attachment.name || "image" }) : icon("file"),
        h("span", { class: "kc-attachment-name", text: attachment.name || attachment.id }),
      );
    });
    if (attachments.length) box.append(h("ul", { class: "kc-attachments" }, attachments));
    if (text) box.append(h("div", { class: "kc-bubble", text }));
    return box;
  }

  #renderAssistantMessage(item) {
    const body = h("div", { class: "kc-markdown md" });
    const sources = [];
    for (const part of item.content || []) {
      body.append(renderMarkdown(part.text || ""));
      for (const annotation of part.annotations || []) {
        const source = annotation.source || {};
        const href = source.type === "url" ? safeHref(source.url) : null;
        const label = source.title || source.filename || source.label || source.url || "source";
        if (source.type === "file" && source.description) {
          // A file search result: the file's name, and the passage quoted on hover or click.
          sources.push(
            h(
              "li",
              { class: "kc-source-file", title: source.description },
              h(
                "details",
                {},
                h("summary", { text: label }),
                h("blockquote", { class: "kc-source-quote", text: source.description }),
              ),
            ),
          );
          continue;
        }
        sources.push(
          h(
            "li",
            {},
            href ? h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", text: label }) : label,
          ),
        );
      }
    }
    const out = [body];
    if (sources.length) out.push(h("ol", { class: "kc-sources", "aria-label": "Sources" }, sources));
    out.push(h("p", { class: "kc-stopped-note kc-muted", text: "Stopped" }));
    out.push(this.#assistantActions(item));
    return out;
  }

  #assistantActions(item) {
    const { feedback, retry } = this.#options?.threadItemActions || {};
    const actions = h("div", { class: "kc-actions", role: "group", "aria-label": "Message actions" });
    actions.append(
      h(
        "button",
        {
          class: "kc-action",
          type: "button",
          title: "Copy",
          on: {
            click: async (event) => {
              const label = event.currentTarget.querySelector(".kc-action-label");
              try {
                await navigator.clipboard.writeText(plainText(item));
                label.textContent = "Copied";
              } catch {
                label.textContent = "Copy failed";
              }
            },
          },
        },
        icon("copy"),
        h("span", { class: "kc-action-label", text: "Copy" }),
      ),
    );
    if (feedback !== false) {
      const thanks = h("span", { class: "kc-muted kc-feedback-thanks", hidden: true, text: "Thanks for the feedback" });
      const send = (kind) => async () => {
        try {
          await this.#client.request("items.feedback", {
            thread_id: item.thread_id || this.#threadId,
            item_ids: [item.id],
            kind,
          });
          good.setAttribute("aria-pressed", String(kind === "positive"));
          bad.setAttribute("aria-pressed", String(kind === "negative"));
          good.disabled = bad.disabled = true;
          thanks.hidden = false;
        } catch (error) {
          this.#fail(error);
        }
      };
      const good = h(
        "button",
        {
          class: "kc-action",
          type: "button",
          title: "Good answer",
          "aria-label": "Good answer",
          "aria-pressed": "false",
          on: { click: send("positive") },
        },
        icon("thumbs-up"),
      );
      const bad = h(
        "button",
        {
          class: "kc-action",
          type: "button",
          title: "Bad answer",
          "aria-label": "Bad answer",
          "aria-pressed": "false",
          on: { click: send("negative") },
        },
        icon("thumbs-up", { rotate: true }),
      );
      actions.append(good, bad, thanks);
    }
    if (retry !== false) {
      actions.append(
        h(
          "button",
          {
            class: "kc-action",
            type: "button",
            title: "Answer again",
            on: { click: () => this.#retryBefore(item.id) },
          },
          icon("retry"),
          h("span", { class: "kc-action-label", text: "Retry" }),
        ),
      );
    }
    return actions;
  }

  #renderWorkflow(workflow) {
    const tasks = workflow.tasks || [];
    const summary = workflow.summary;
    let title;
    if (summary && summary.title) title = summary.title;
    else if (summary && typeof summary.duration === "number") {
      title = `${workflow.type === "reasoning" ? "Thought" : "Worked"} for ${summary.duration} s`;
    } else title = workflow.type === "reasoning" ? "Thinking" : `${tasks.length} step${tasks.length === 1 ? "" : "s"}`;
    return h(
      "details",
      { class: "kc-workflow-box", open: Boolean(workflow.expanded) },
      h("summary", { text: title }),
      h("ol", { class: "kc-tasks" }, tasks.map((task) => h("li", {}, this.#renderTask(task)))),
    );
  }

  #renderTask(task) {
    const status = task.status_indicator;
    const marker = h("span", {
      class: `kc-task-marker kc-task-${status || "none"}`,
      "aria-hidden": "true",
      text: status === "complete" ? "✓" : status === "loading" ? "◌" : "•",
    });
    const parts = [marker];
    const title = task.title || task.title_query;
    if (title) parts.push(h("strong", { class: "kc-task-title", text: title }));
    const detail = h("div", { class: "kc-task-detail" });
    if (task.content) {
      const content = h("div", { class: "md" });
      content.append(renderMarkdown(task.content));
      detail.append(content);
    }
    if (Array.isArray(task.queries) && task.queries.length) {
      detail.append(h("ul", { class: "kc-queries" }, task.queries.map((q) => h("li", { text: q }))));
    }
    if (Array.isArray(task.sources) && task.sources.length) {
      detail.append(
        h(
          "ul",
          { class: "kc-sources" },
          task.sources.map((source) => {
            const href = safeHref(source.url);
            const label = source.title || source.filename || source.url || "";
            return h(
              "li",
              {},
              href ? h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", text: label }) : label,
            );
          }),
        ),
      );
    }
    parts.push(detail);
    return h("div", { class: "kc-task", dataset: { taskType: task.type || "custom" } }, parts);
  }

  #renderStructuredInput(item) {
    const pending = item.status === "pending";
    const form = h("form", { class: "kc-structured" });
    for (const input of item.inputs || []) {
      const field = h("fieldset", { dataset: { inputId: input.id } }, h("legend", { text: input.question }));
      if (input.description) field.append(h("p", { class: "kc-muted", text: input.description }));
      if (input.type === "multiple_choice") {
        for (const option of input.options || []) {
          const box = h("input", {
            type: input.multiple ? "checkbox" : "radio",
            name: input.id,
            value: option.value,
            disabled: !pending,
            checked: Boolean(input.answer?.values?.includes(option.value)),
          });
          field.append(h("label", { class: "kc-choice" }, box, ` ${option.value}`));
        }
      } else {
        field.append(
          h("textarea", {
            name: input.id,
            class: "kc-input",
            disabled: !pending,
            text: input.answer?.values?.join("\n") || "",
          }),
        );
      }
      form.append(field);
    }
    if (pending) {
      const submit = (status) => {
        const answers = {};
        for (const input of item.inputs || []) {
          const fields = [...form.querySelectorAll(`[name="${CSS.escape(input.id)}"]`)];
          const values = fields
            .filter((f) => f.tagName === "TEXTAREA" ? f.value.trim() : f.checked)
            .map((f) => f.value.trim());
          answers[input.id] = { values, skipped: status === "skipped" || values.length === 0 };
        }
        this.#runStream("threads.add_structured_input", {
          thread_id: this.#threadId,
          item_id: item.id,
          input: { status, answers },
        });
      };
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        submit("answered");
      });
      form.append(
        h(
          "div",
          { class: "kc-row" },
          h("button", { class: "kc-button", type: "submit", text: "Submit" }),
          h("button", { class: "kc-button kc-secondary", type: "button", text: "Skip", on: { click: () => submit("skipped") } }),
        ),
      );
    }
    return form;
  }

  #appendNotice({ level = "info", title = null, message = "", plain = false, retry = null }) {
    const body = h("div", { class: "kc-notice-body" });
    if (plain) body.textContent = message;
    else body.append(renderMarkdown(message));
    const notice = h(
      "div",
      { class: `kc-notice kc-notice-${level}`, role: level === "danger" ? "alert" : "status" },
      title ? h("strong", { class: "kc-notice-title", text: title }) : null,
      body,
      retry ? h("button", { class: "kc-button kc-small", type: "button", text: "↻ Retry", on: { click: retry } }) : null,
    );
    this.#els.start.hidden = true;
    this.#els.messages.append(notice);
    this.#scrollToEnd(true);
    return notice;
  }

  // ---------------------------------------------------------------- composer and attachments

  #updateComposer() {
    const busy = Boolean(this.#stream);
    this.#els.stop.disabled = Boolean(this.#stream?.stopped);
    const uploading = this.#attachments.some((a) => a.status === "uploading");
    const ready = this.#attachments.some((a) => a.status === "ready");
    const blocked = this.#cancelled || this.#locked || !this.#client;
    this.#els.input.disabled = blocked;
    this.#els.attach.disabled = blocked;
    this.#els.send.disabled =
      blocked || busy || uploading || (!this.#els.input.value.trim() && !ready);
    this.#els.send.hidden = busy;
    this.#els.stop.hidden = !busy || this.#stream?.allowCancel === false;
    this.#els.messages.setAttribute("aria-busy", String(busy));
    this.toggleAttribute("streaming", busy);
  }

  /** Grow the message box with its text (up to the CSS max-height). */
  #fitInput() {
    const input = this.#els.input;
    input.style.height = "auto";
    input.style.height = `${input.scrollHeight + 2}px`;
  }

  #showUploadError(message) {
    this.#els.uploadError.textContent = message;
    this.#els.uploadError.hidden = !message;
  }

  async #attachFiles() {
    const files = [...this.#els.file.files];
    this.#els.file.value = "";
    if (!this.#client) return;
    const limits = this.#options.composer.attachments || {};
    this.#showUploadError("");
    for (const file of files) {
      const count = this.#attachments.length;
      if (typeof limits.maxCount === "number" && count >= limits.maxCount) {
        this.#showUploadError(`“${file.name}” was not attached: at most ${limits.maxCount} files per message.`);
        continue;
      }
      if (typeof limits.maxSize === "number" && file.size > limits.maxSize) {
        this.#showUploadError(
          `“${file.name}” was not attached: it is larger than ${formatBytes(limits.maxSize)}.`,
        );
        continue;
      }
      this.#upload(file);
    }
  }

  async #upload(file) {
    const entry = { file, status: "uploading", attachment: null, el: null, preview: null };
    if (file.type.startsWith("image/")) entry.preview = URL.createObjectURL(file);
    const remove = async () => {
      this.#attachments = this.#attachments.filter((a) => a !== entry);
      entry.el.remove();
      if (entry.preview) URL.revokeObjectURL(entry.preview);
      this.#updateComposer();
      if (entry.attachment) {
        this.#client
          .request("attachments.delete", { attachment_id: entry.attachment.id })
          .catch(() => {});
      }
    };
    entry.el = h(
      "li",
      { class: "kc-chip", dataset: { status: "uploading" } },
      entry.preview ? h("img", { src: entry.preview, alt: "" }) : icon("file"),
      h("span", { class: "kc-chip-name", text: file.name }),
      h("span", { class: "kc-chip-status kc-muted", text: "uploading…" }),
      h(
        "button",
        { class: "kc-icon-button", type: "button", "aria-label": `Remove ${file.name}`, on: { click: remove } },
        icon("close"),
      ),
    );
    this.#attachments.push(entry);
    this.#els.chips.append(entry.el);
    this.#updateComposer();
    try {
      entry.attachment = await this.#client.upload(file);
      entry.status = "ready";
      entry.el.dataset.status = "ready";
      entry.el.querySelector(".kc-chip-status").textContent = formatBytes(file.size);
    } catch (error) {
      this.#attachments = this.#attachments.filter((a) => a !== entry);
      entry.el.remove();
      if (entry.preview) URL.revokeObjectURL(entry.preview);
      if (error instanceof ChatKitError && (error.code === "session_cancelled" || error.status === 401)) {
        this.#fail(error);
      } else {
        this.#showUploadError(`“${file.name}” was not attached: ${error.message || error}`);
      }
    }
    this.#updateComposer();
  }

  #submit() {
    if (this.#els.send.disabled) return;
    const text = this.#els.input.value;
    const ready = this.#attachments.filter((a) => a.status === "ready");
    this.#els.input.value = "";
    this.#fitInput();
    for (const entry of ready) {
      entry.el.remove();
      if (entry.preview) URL.revokeObjectURL(entry.preview);
    }
    this.#attachments = this.#attachments.filter((a) => a.status !== "ready");
    this.#showUploadError("");
    this.#send(text, ready.map((a) => a.attachment));
  }

  async #send(text, attachments) {
    const trimmed = String(text || "").trim();
    if (!trimmed && !attachments.length) return;
    const input = {
      content: trimmed ? [{ type: "input_text", text: trimmed }] : [],
      quoted_text: "",
      attachments: attachments.map((a) => a.id),
      inference_options: {},
    };
    const pending = h(
      "article",
      { class: "kc-item kc-user kc-pending", dataset: { itemType: "user_message" } },
      this.#renderUserMessage({ content: input.content, attachments }),
    );
    this.#els.start.hidden = true;
    this.#els.messages.append(pending);
    this.#scrollToEnd(true);
    const ok = await (this.#threadId
      ? this.#runStream("threads.add_user_message", { thread_id: this.#threadId, input }, { pending })
      : this.#runStream("threads.create", { input }, { pending }));
    if (!ok && pending.isConnected) {
      // Nothing reached the server: give the text back rather than lose it.
      pending.remove();
      if (!this.#els.input.value) this.#els.input.value = trimmed;
      this.#updateComposer();
    }
  }

  // ---------------------------------------------------------------- streaming

  #newStream({ pending = null, runId = null, threadId = null, known = null }) {
    const stream = {
      controller: new AbortController(),
      detach: this.#resumable(), // closing the connection leaves the run going
      runId, // kithost's run: what Stop cancels and a dropped connection follows again
      threadId,
      lastEventId: 0,
      known: known || new Set(), // items already shown whose replayed events are stale
      opened: false,
      ended: false,
      stopped: false,
      detached: false,
      reload: false,
      allowCancel: true,
      open: new Set(),
      pending,
      wake: null,
    };
    this.#stream = stream;
    this.#updateComposer();
    this.#emit("chatkit.response.start");
    return stream;
  }

  /** Run a streaming request; resolves true when the server accepted it. */
  async #runStream(type, params, { pending = null } = {}) {
    if (this.#stream) return false;
    const stream = this.#newStream({ pending, threadId: this.#threadId });
    let accepted = false;
    try {
      const { runId, messages } = await this.#client.openStream(type, params, {
        signal: stream.controller.signal,
        detach: stream.detach,
      });
      accepted = true;
      this.#opened(stream, runId);
      await this.#consume(stream, messages);
    } catch (error) {
      await this.#streamFailed(stream, error, accepted);
    } finally {
      this.#endStream(stream, accepted);
    }
    if (accepted && !stream.detached) await this.#maybeRunClientTool();
    return accepted;
  }

  /** Follow a run that this view did not start, from its first event. */
  async #followRun(runId, threadId, known) {
    const stream = this.#newStream({ runId, threadId, known });
    try {
      const { messages } = await this.#client.followRun(runId, 0, { signal: stream.controller.signal });
      this.#opened(stream, runId);
      await this.#consume(stream, messages);
    } catch (error) {
      await this.#streamFailed(stream, error, true);
    } finally {
      this.#endStream(stream, true);
    }
  }

  #opened(stream, runId) {
    stream.opened = true;
    stream.runId = runId || null;
    this.#saveRun(stream);
    // Stop was pressed before the server answered: now there is a run to cancel.
    if (stream.stopped && stream.runId) this.#cancel(stream);
    else if (stream.stopped) stream.controller.abort();
  }

  async #consume(stream, messages) {
    for await (const { id, event } of messages) {
      if (stream.detached) return;
      this.#handleEvent(event, stream);
      if (id !== null) {
        stream.lastEventId = id;
        this.#saveRun(stream);
      }
    }
    stream.ended = true;
  }

  async #streamFailed(stream, error, accepted) {
    if (stream.stopped || stream.detached) return;
    if (accepted && stream.runId && stream.detach && dropped(error)) {
      if (await this.#reconnect(stream)) return;
    }
    if (accepted) this.#fail(error, { inline: true });
    else this.#fail(error, { inline: !(error instanceof ChatKitError && error.status === 401) });
  }

  /**
   * The connection dropped while the run goes on: follow it again after the last event seen,
   * with growing pauses. True once the run was followed to its end (or the user moved on).
   */
  async #reconnect(stream) {
    for (let attempt = 0; attempt < RECONNECT_ATTEMPTS; attempt++) {
      this.#els.status.textContent = "Connection lost. Reconnecting…";
      this.#els.status.hidden = false;
      const delay = RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)];
      await new Promise((resolve) => {
        stream.wake = resolve;
        setTimeout(resolve, delay);
      });
      stream.wake = null;
      if (stream.stopped || stream.detached) return true;
      const seen = stream.lastEventId;
      try {
        const { messages } = await this.#client.followRun(stream.runId, seen, {
          signal: stream.controller.signal,
        });
        this.#els.status.hidden = true;
        await this.#consume(stream, messages);
        return true;
      } catch (error) {
        if (stream.stopped || stream.detached) return true;
        if (error instanceof ChatKitError && (error.status === 404 || error.status === 410)) {
          // The run's events are gone: the thread's items are the record; show them.
          stream.reload = true;
          return true;
        }
        if (!dropped(error)) return false;
        if (stream.lastEventId > seen) attempt = -1; // it got further: start the pauses over
      }
    }
    return false;
  }

  #endStream(stream, accepted) {
    const current = this.#stream === stream;
    if (current) {
      for (const itemId of stream.open) {
        this.#flushRender(itemId); // first: it replaces the item's element
        const entry = this.#items.get(itemId);
        if (!entry) continue;
        entry.el.classList.remove("kc-streaming");
        if (stream.stopped) entry.el.classList.add("kc-stopped");
      }
      if (stream.pending?.isConnected && accepted) stream.pending.remove();
      this.#els.status.hidden = true;
      this.#stream = null;
      this.#updateComposer();
    }
    if (stream.ended || stream.stopped) this.#forgetRun(stream.threadId, stream.runId);
    if (!stream.detached) this.#emit("chatkit.response.end");
    if (current && stream.reload && this.#threadId) {
      this.#openThread(this.#threadId).catch((error) => this.#fail(error));
    } else if (current && stream.ended && stream.runId && !stream.stopped && stream.open.size) {
      // The run ended without finishing these items: stopped elsewhere, or cut short by a
      // server that died (its partial answer is saved with a note). Show what was saved.
      this.#showSaved(stream.threadId, stream.open).catch(() => {});
    }
  }

  /** Replace items on screen with the thread's saved versions (the newest items). */
  async #showSaved(threadId, ids) {
    const page = await this.#client.request("items.list", { thread_id: threadId, order: "desc", limit: 20 });
    if (this.#threadId !== threadId || this.#stream) return;
    for (const item of page.data) {
      if (ids.has(item.id)) this.#upsertItem(item);
    }
  }

  /** Stop: kithost's run is cancelled (its partial answer kept); elsewhere the request aborts. */
  #stopStream() {
    const stream = this.#stream;
    if (!stream || stream.stopped) return;
    stream.stopped = true;
    stream.wake?.();
    this.#updateComposer();
    if (stream.runId) this.#cancel(stream);
    else if (stream.opened || !stream.detach) stream.controller.abort();
    // else the request is on its way: the run is cancelled as soon as its id is known
  }

  async #cancel(stream) {
    try {
      await this.#client.cancelRun(stream.runId);
    } catch {
      stream.controller.abort(); // the connection is all there is to stop
      return;
    }
    // The run has ended, so its stream closes by itself once its last events are here.
    setTimeout(() => stream.controller.abort(), CANCEL_GRACE_MS);
  }

  /** Leave the answer being written: the view moves on, the run goes on (kithost). */
  #detachStream() {
    const stream = this.#stream;
    if (!stream) return;
    stream.detached = true;
    stream.wake?.();
    stream.controller.abort();
    this.#stream = null;
    this.#els.status.hidden = true;
    this.#updateComposer();
    this.#emit("chatkit.response.end");
  }

  #handleEvent(event, stream) {
    switch (event.type) {
      case "thread.created":
        stream.threadId = event.thread.id;
        if (this.#threadId === event.thread.id) break; // a replay: the thread is open already
        this.#threadId = event.thread.id;
        this.#thread = event.thread;
        this.#setTitle(event.thread.title);
        this.#upsertThreadRow(event.thread);
        this.#emit("chatkit.thread.change", { threadId: event.thread.id });
        break;
      case "thread.updated":
        if (event.thread.id === this.#threadId) {
          this.#thread = event.thread;
          this.#setTitle(event.thread.title);
          this.#setLocked(event.thread.status);
        }
        this.#upsertThreadRow(event.thread);
        break;
      case "thread.item.added":
        if (stream.known.has(event.item.id)) break; // shown complete: its replay is stale
        if (event.item.type === "user_message" && stream.pending) {
          stream.pending.remove();
          stream.pending = null;
        }
        stream.open.add(event.item.id);
        this.#upsertItem(event.item, { streaming: true });
        this.#els.status.hidden = true;
        break;
      case "thread.item.updated":
        if (stream.known.has(event.item_id)) break;
        this.#applyUpdate(event.item_id, event.update);
        break;
      case "thread.item.done":
      case "thread.item.replaced":
        if (event.item.type === "user_message" && stream.pending) {
          stream.pending.remove();
          stream.pending = null;
        }
        stream.known.delete(event.item.id);
        stream.open.delete(event.item.id);
        this.#renderQueued.delete(event.item.id);
        if (!this.#shownAs(event.item)) this.#upsertItem(event.item);
        this.#els.status.hidden = true;
        break;
      case "thread.item.removed":
        stream.known.delete(event.item_id);
        stream.open.delete(event.item_id);
        this.#removeItem(event.item_id);
        break;
      case "stream_options":
        stream.allowCancel = event.stream_options?.allow_cancel !== false;
        this.#updateComposer();
        break;
      case "progress_update":
        this.#els.status.textContent = event.text || "";
        this.#els.status.hidden = !event.text;
        break;
      case "client_effect":
        this.#emit("chatkit.effect", { name: event.name, data: event.data || {} });
        break;
      case "notice":
        this.#appendNotice({ level: event.level || "info", title: event.title, message: event.message || "" });
        break;
      case "error": {
        const lastUser = [...this.#items.values()].reverse().find((e) => e.item.type === "user_message");
        this.#appendNotice({
          level: "danger",
          message: event.message || "Something went wrong while answering.",
          plain: true,
          retry: event.allow_retry && lastUser ? () => this.#retryFrom(lastUser.item.id) : null,
        });
        this.#emit("chatkit.error", { error: new ChatKitError(event.message || "stream error", { code: event.code }) });
        break;
      }
      default:
        this.#emit("chatkit.log", { name: "unknown_event", data: event });
    }
  }

  /** The item is on screen, complete, exactly so (a replayed `done`): nothing to redraw. */
  #shownAs(item) {
    const entry = this.#items.get(item.id);
    return Boolean(entry) && !entry.el.classList.contains("kc-streaming") && sameItem(entry.item, item);
  }

  #applyUpdate(itemId, update) {
    const entry = this.#items.get(itemId);
    if (!entry) return;
    const item = entry.item;
    switch (update.type) {
      case "assistant_message.content_part.added":
      case "assistant_message.content_part.done":
        item.content = item.content || [];
        item.content[update.content_index] = update.content;
        break;
      case "assistant_message.content_part.text_delta": {
        item.content = item.content || [];
        const part = item.content[update.content_index] || { type: "output_text", text: "", annotations: [] };
        part.text = `${part.text || ""}${update.delta}`;
        item.content[update.content_index] = part;
        break;
      }
      case "assistant_message.content_part.annotation_added": {
        const part = item.content?.[update.content_index];
        if (part) {
          part.annotations = part.annotations || [];
          part.annotations[update.annotation_index] = update.annotation;
        }
        break;
      }
      case "widget.streaming_text.value_delta":
      case "widget.component.updated":
      case "widget.root.updated":
        item.widget = updateWidget(item.widget, update);
        break;
      case "workflow.task.added":
        item.workflow.tasks.splice(update.task_index, 0, update.task);
        break;
      case "workflow.task.updated":
        item.workflow.tasks[update.task_index] = update.task;
        break;
      case "generated_image.updated":
        item.image = update.image;
        break;
      default:
        return;
    }
    this.#rerender(itemId);
  }

  #itemsAfter(itemId) {
    const ids = [...this.#items.keys()];
    const index = ids.indexOf(itemId);
    return index < 0 ? [] : ids.slice(index + 1);
  }

  /** Retry an assistant answer: answer the user message before it again. */
  #retryBefore(assistantItemId) {
    const ids = [...this.#items.keys()];
    const index = ids.indexOf(assistantItemId);
    const userId = ids
      .slice(0, index)
      .reverse()
      .find((id) => this.#items.get(id).item.type === "user_message");
    if (userId) this.#retryFrom(userId);
  }

  #retryFrom(userItemId) {
    if (this.#stream || !this.#threadId) return;
    // The server deletes every item after this message and answers it again.
    for (const id of this.#itemsAfter(userItemId)) this.#removeItem(id);
    for (const notice of this.#els.messages.querySelectorAll(".kc-notice")) notice.remove();
    this.#runStream("threads.retry_after_item", { thread_id: this.#threadId, item_id: userItemId });
  }

  async #widgetAction(item, action, el) {
    if (!action || !action.type) return;
    if (action.handler === "client") {
      this.#emit("chatkit.widget.action", { action, itemId: item.id });
      const handler = this.#options.widgets?.onAction;
      if (handler) await handler(action, { id: item.id, widget: item.widget });
      return;
    }
    if (el && "disabled" in el) el.disabled = true;
    await this.#runStream("threads.custom_action", {
      thread_id: this.#threadId,
      item_id: item.id,
      action: { type: action.type, payload: action.payload ?? {} },
    });
  }

  async #maybeRunClientTool() {
    const last = [...this.#items.values()].at(-1)?.item;
    if (!last || last.type !== "client_tool_call" || last.status !== "pending") return;
    const handler = this.#options.onClientTool;
    let result;
    if (!handler) {
      result = { error: `No client tool handler for '${last.name}' on this page.` };
    } else {
      try {
        result = await handler({ name: last.name, params: last.arguments || {} });
      } catch (error) {
        result = { error: String(error?.message || error) };
      }
    }
    await this.#runStream("threads.add_client_tool_output", { thread_id: this.#threadId, result });
  }
}

if (!customElements.get("kithost-chat")) customElements.define("kithost-chat", KithostChat);
