// The admin console's Webhooks tab: endpoints (add, enable or disable, delete, reveal or rotate
// the signing secret) and each endpoint's recent deliveries, with Resend. It calls only the
// public `/v1/chatkit/webhooks` API (docs/api.md), through the console's own `api()`.

import { h } from "./dom.js";

const PAGE_SIZE = 20;
const MAX_PAGE = 100; // the API's largest `limit`
// While a shown delivery is pending, its endpoint's page re-reads them this often.
const REFRESH_MS = 2000;

const $ = (id) => document.getElementById(id);
const path = (...parts) => `/webhooks/${parts.map(encodeURIComponent).join("/")}`;

/**
 * The Webhooks views, given the console's helpers: `api(path, {method, query, body})`,
 * `showError(error)`, `clearError()` and `when(seconds)`. Returns what the router calls.
 */
export function webhooksView({ api, showError, clearError, when }) {
  let endpointsAfter = null;
  let openId = null; // the endpoint whose page is open
  let deliveriesAfter = null;
  let deliveriesReads = 0; // only the latest read of the deliveries is shown
  let refreshTimer = null;

  /** Run a button's action: disabled meanwhile, its error shown in the banner. */
  async function busy(button, action) {
    button.disabled = true;
    clearError();
    try {
      await action();
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  }

  function enabledBadge(endpoint) {
    const state = endpoint.enabled ? "enabled" : "disabled";
    return h("span", { class: `badge status-${state}`, text: state });
  }

  function eventBadges(events) {
    return events.map((type) => h("span", { class: "badge event-type", text: type }));
  }

  async function setEnabled(endpoint, enabled) {
    return api(path(endpoint.id), { method: "POST", body: { enabled } });
  }

  /** Delete after the person confirms; false when they did not. */
  async function deleteEndpoint(endpoint) {
    const sure = confirm(
      `Delete the webhook endpoint ${endpoint.url}?\n\nIts deliveries go with it: pending ones are never sent.`,
    );
    if (!sure) return false;
    await api(path(endpoint.id), { method: "DELETE" });
    return true;
  }

  // ---------------------------------------------------------------- the signing secret

  async function copy(input, status) {
    try {
      await navigator.clipboard.writeText(input.value);
      status.textContent = "Copied.";
    } catch {
      // No clipboard permission (an http:// page on another host): select it for Ctrl+C.
      input.select();
      status.textContent = document.execCommand("copy") ? "Copied." : "Selected: copy it with Ctrl+C.";
    }
  }

  function secretBox(secret) {
    const input = h("input", {
      class: "secret-value",
      readonly: true,
      value: secret,
      "aria-label": "Signing secret",
      spellcheck: "false",
    });
    const status = h("span", { class: "hint", role: "status" });
    return h(
      "div",
      { class: "secret-box" },
      input,
      h("button", {
        class: "button secondary small",
        type: "button",
        text: "Copy",
        on: { click: () => copy(input, status) },
      }),
      status,
    );
  }

  /** How a receiver uses the secret (the docs are on disk, not served: named, not linked). */
  function verifyNote() {
    return h(
      "p",
      { class: "hint" },
      "Your receiver checks each delivery's ",
      h("code", { text: "webhook-signature" }),
      " header with it, as the Standard Webhooks libraries (",
      h("code", { text: "standardwebhooks" }),
      " for Python and Node) do in one call: see ",
      h("code", { text: "docs/server-runs.md" }),
      " (Webhooks).",
    );
  }

  function showNewSecret(endpoint) {
    $("webhook-new-secret").replaceChildren(
      h("h2", { text: "Signing secret" }),
      h(
        "p",
        {},
        "The new endpoint ",
        h("strong", { class: "endpoint-url", text: endpoint.url }),
        " signs its deliveries with this secret. Copy it into the receiver's configuration now " +
          "(the endpoint's page can reveal it again).",
      ),
      secretBox(endpoint.secret),
      verifyNote(),
    );
    $("webhook-new-secret").hidden = false;
  }

  // ---------------------------------------------------------------- endpoints

  function endpointRow(endpoint) {
    const toggle = h("button", {
      class: "button secondary small",
      type: "button",
      text: endpoint.enabled ? "Disable" : "Enable",
      "aria-label": `${endpoint.enabled ? "Disable" : "Enable"} endpoint ${endpoint.id}`,
      on: {
        click: () =>
          busy(toggle, async () => row.replaceWith(endpointRow(await setEnabled(endpoint, !endpoint.enabled)))),
      },
    });
    const remove = h("button", {
      class: "button danger small",
      type: "button",
      text: "Delete",
      "aria-label": `Delete endpoint ${endpoint.id}`,
      on: {
        click: () =>
          busy(remove, async () => {
            if (!(await deleteEndpoint(endpoint))) return;
            row.remove();
            $("webhooks-empty").hidden = $("webhooks-rows").children.length > 0;
          }),
      },
    });
    const row = h(
      "tr",
      { dataset: { endpointId: endpoint.id, enabled: String(endpoint.enabled) } },
      h(
        "td",
        {},
        h("a", { class: "endpoint-url", href: `#webhooks/${encodeURIComponent(endpoint.id)}`, text: endpoint.url }),
        endpoint.description ? h("div", { class: "hint", text: endpoint.description }) : null,
        h("code", { class: "id", text: endpoint.id, title: endpoint.id }),
      ),
      h("td", {}, eventBadges(endpoint.events)),
      h("td", {}, enabledBadge(endpoint)),
      h("td", { text: when(endpoint.created_at) }),
      h("td", { class: "actions" }, toggle, remove),
    );
    return row;
  }

  async function listEndpoints({ more = false } = {}) {
    const page = await api("/webhooks", { query: { limit: PAGE_SIZE, after: more ? endpointsAfter : null } });
    const rows = page.data.map(endpointRow);
    if (more) $("webhooks-rows").append(...rows);
    else $("webhooks-rows").replaceChildren(...rows);
    endpointsAfter = page.last_id;
    $("webhooks-more").hidden = !page.has_more;
    $("webhooks-empty").hidden = $("webhooks-rows").children.length > 0;
  }

  function formError(message) {
    $("webhook-create-error").textContent = message;
    $("webhook-create-error").hidden = !message;
  }

  $("webhooks-more").addEventListener("click", () => listEndpoints({ more: true }).catch(showError));

  $("webhook-create").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const button = form.querySelector("button[type=submit]");
    const events = [...form.querySelectorAll("input[name=events]:checked")].map((box) => box.value);
    formError("");
    $("webhook-new-secret").hidden = true;
    if (!events.length) {
      formError("Choose at least one event.");
      return;
    }
    const description = form.elements.description.value.trim();
    const body = { url: form.elements.url.value.trim(), events, ...(description ? { description } : {}) };
    button.disabled = true;
    try {
      const endpoint = await api("/webhooks", { method: "POST", body });
      form.reset();
      showNewSecret(endpoint);
      await listEndpoints();
    } catch (error) {
      if (error.status === 401) showError(error);
      else formError(error.message);
    } finally {
      button.disabled = false;
    }
  });

  // ---------------------------------------------------------------- one endpoint

  function deliveryRow(delivery) {
    const resend = h("button", {
      class: "button secondary small",
      type: "button",
      text: "Resend",
      "aria-label": `Resend delivery ${delivery.id}`,
      on: {
        click: () =>
          busy(resend, async () => {
            const again = await api(path(delivery.endpoint_id, "deliveries", delivery.id, "resend"), { method: "POST" });
            deliveriesReads += 1; // a read under way began before this resend: drop it
            row.replaceWith(deliveryRow(again));
            scheduleRefresh();
          }),
      },
    });
    const pending = delivery.status === "pending" && delivery.next_attempt_at;
    const row = h(
      "tr",
      { dataset: { deliveryId: delivery.id, status: delivery.status } },
      h("td", {}, h("code", { text: delivery.event_type }), h("br"), h("code", { class: "id", text: delivery.id, title: delivery.id })),
      h(
        "td",
        {},
        h("span", { class: `badge status-${delivery.status}`, text: delivery.status }),
        pending ? h("div", { class: "hint", text: `next attempt ${when(delivery.next_attempt_at)}` }) : null,
      ),
      h("td", { class: "delivery-attempts", text: String(delivery.attempts) }),
      h("td", { class: "delivery-code", text: delivery.last_status_code ?? "—" }),
      h("td", { class: "delivery-error" }, delivery.last_error ? h("span", { class: "error small", text: delivery.last_error }) : "—"),
      h("td", { text: when(delivery.created_at) }),
      h("td", { class: "delivery-delivered", text: when(delivery.delivered_at) }),
      h("td", {}, resend),
    );
    return row;
  }

  function showDeliveries(page, { more = false } = {}) {
    const rows = page.data.map(deliveryRow);
    if (more) $("webhook-deliveries").append(...rows);
    else $("webhook-deliveries").replaceChildren(...rows);
    deliveriesAfter = page.last_id;
    $("webhook-deliveries-more").hidden = !page.has_more;
    $("webhook-deliveries-empty").hidden = $("webhook-deliveries").children.length > 0;
    scheduleRefresh();
  }

  async function loadDeliveries(endpointId, { more = false } = {}) {
    const read = ++deliveriesReads;
    const page = await api(path(endpointId, "deliveries"), {
      query: { limit: PAGE_SIZE, after: more ? deliveriesAfter : null },
    });
    if (read === deliveriesReads && endpointId === openId) showDeliveries(page, { more });
  }

  /** Read again as many as are shown, newest first (new ones push the oldest to Load more). */
  async function refreshDeliveries() {
    const endpointId = openId;
    const read = ++deliveriesReads;
    const shown = $("webhook-deliveries").children.length;
    const page = await api(path(endpointId, "deliveries"), {
      query: { limit: Math.min(MAX_PAGE, Math.max(PAGE_SIZE, shown)) },
    });
    if (read === deliveriesReads && endpointId === openId) showDeliveries(page);
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = null;
    if (!$("webhook-deliveries").querySelector('tr[data-status="pending"]')) return;
    const endpointId = openId;
    refreshTimer = setTimeout(() => {
      if (endpointId === openId && !$("view-webhook").hidden) refreshDeliveries().catch(showError);
    }, REFRESH_MS);
  }

  let openEndpoint = null;

  function showEndpointHeader(endpoint) {
    openEndpoint = endpoint;
    $("webhook-title").textContent = endpoint.url;
    $("webhook-meta").replaceChildren(
      enabledBadge(endpoint),
      " ",
      ...eventBadges(endpoint.events),
      h("span", { class: "hint", text: ` · ${endpoint.id} · created ${when(endpoint.created_at)}` }),
    );
    $("webhook-description").textContent = endpoint.description || "";
    $("webhook-description").hidden = !endpoint.description;
    $("webhook-toggle").textContent = endpoint.enabled ? "Disable" : "Enable";
    $("webhook-paused").hidden = endpoint.enabled;
  }

  function showSecret(heading, secret) {
    $("webhook-secret").replaceChildren(
      h("p", {}, h("strong", { text: heading })),
      secretBox(secret),
      verifyNote(),
    );
    $("webhook-secret").hidden = false;
    $("webhook-reveal").textContent = "Hide secret";
  }

  function hideSecret() {
    $("webhook-secret").hidden = true;
    $("webhook-secret").replaceChildren();
    $("webhook-reveal").textContent = "Reveal secret";
  }

  $("webhook-toggle").addEventListener("click", (event) =>
    busy(event.target, async () => showEndpointHeader(await setEnabled(openEndpoint, !openEndpoint.enabled))),
  );
  $("webhook-reveal").addEventListener("click", (event) =>
    busy(event.target, async () => {
      if (!$("webhook-secret").hidden) return hideSecret();
      const { secret } = await api(path(openEndpoint.id, "secret"));
      showSecret("Signing secret", secret);
    }),
  );
  $("webhook-rotate").addEventListener("click", (event) =>
    busy(event.target, async () => {
      const sure = confirm(
        `Rotate the signing secret of ${openEndpoint.url}?\n\nThe old secret stops verifying at once, retries included: give the receiver the new one.`,
      );
      if (!sure) return;
      const { secret } = await api(path(openEndpoint.id, "rotate_secret"), { method: "POST" });
      showSecret("New signing secret (the old one no longer verifies)", secret);
    }),
  );
  $("webhook-delete").addEventListener("click", (event) =>
    busy(event.target, async () => {
      if (await deleteEndpoint(openEndpoint)) location.hash = "#webhooks";
    }),
  );
  $("webhook-deliveries-refresh").addEventListener("click", (event) => busy(event.target, refreshDeliveries));
  $("webhook-deliveries-more").addEventListener("click", () => loadDeliveries(openId, { more: true }).catch(showError));

  return {
    /** `#webhooks`: the endpoints and the form that adds one. */
    async showList() {
      openId = null;
      clearTimeout(refreshTimer);
      $("webhook-new-secret").hidden = true;
      formError("");
      await listEndpoints();
    },

    /** `#webhooks/<id>`: one endpoint, its secret on demand, its recent deliveries. */
    async showEndpoint(endpointId) {
      openId = endpointId;
      clearTimeout(refreshTimer);
      hideSecret();
      $("webhook-title").textContent = "Endpoint";
      $("webhook-meta").replaceChildren();
      $("webhook-deliveries").replaceChildren();
      $("webhook-deliveries-more").hidden = true;
      $("webhook-deliveries-empty").hidden = true;
      const endpoint = await api(path(endpointId));
      if (endpointId !== openId) return;
      showEndpointHeader(endpoint);
      await loadDeliveries(endpointId);
    },
  };
}
