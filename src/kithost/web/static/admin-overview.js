// The admin console's Overview tab: how the service is doing over 24 h / 7 d / 30 d, drawn with
// uPlot (vendored in /static/vendor/uplot, a global `uPlot`) from `GET /v1/chatkit/usage`
// (docs/api.md). A workflow or a user (the select and field, or a row of the tables) narrows
// every chart to it.

import { h } from "./dom.js";

const $ = (id) => document.getElementById(id);
const COLORS = ["#4f46e5", "#0891b2", "#d97706", "#db2777", "#059669", "#7c3aed", "#dc2626", "#65a30d"];
const CHART_HEIGHT = 170;

const number = (value) => (value ?? 0).toLocaleString("en-US");
const seconds = (value) => (value === null || value === undefined ? "—" : `${value.toFixed(2)} s`);
const percent = (value) => (value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`);

/** The Overview, given the console's `api(path, {query})` and `clearError()`. */
export function overviewView({ api, clearError }) {
  const state = { range: "24h", workflow_id: "", user: "" };
  let charts = [];
  let reads = 0; // only the latest answer is drawn

  for (const button of $("overview-range").querySelectorAll("button")) {
    button.addEventListener("click", () => {
      state.range = button.dataset.range;
      show();
    });
  }
  $("overview-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    state.workflow_id = event.target.elements.workflow_id.value;
    state.user = event.target.elements.user.value.trim();
    show();
  });
  $("overview-clear").addEventListener("click", () => drill({ workflow_id: "", user: "" }));

  function drill(change) {
    Object.assign(state, change);
    const form = $("overview-filter").elements;
    form.workflow_id.value = state.workflow_id;
    if (form.workflow_id.value !== state.workflow_id) {
      // A workflow no longer loaded (its runs remain): offer it anyway.
      form.workflow_id.append(new Option(state.workflow_id, state.workflow_id));
      form.workflow_id.value = state.workflow_id;
    }
    form.user.value = state.user;
    show();
  }

  async function show() {
    const read = ++reads;
    for (const button of $("overview-range").querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.range === state.range));
    }
    const usage = await api("/usage", { query: state });
    if (read !== reads) return;
    clearError();
    $("overview-scope").textContent = describe(usage);
    draw(usage);
    rankings(usage);
  }

  function describe(usage) {
    const per = usage.bucket_seconds === 3600 ? "per hour" : "per UTC day";
    const scope = [
      usage.workflow_id ? `workflow ${usage.workflow_id}` : null,
      usage.user ? `user ${usage.user}` : null,
    ].filter(Boolean);
    return `${scope.length ? scope.join(", ") : "All traffic"} · ${per} · since ${new Date(usage.start * 1000).toLocaleString()}`;
  }

  function draw(usage) {
    for (const chart of charts) chart.destroy();
    charts = [];
    const x = usage.buckets;
    const totals = usage.totals;
    const tokenLabels = usage.tokens.map((entry) => `${entry.workflow_id} · ${entry.model}`);
    const tokenSeries = usage.tokens.map((entry, i) =>
      entry.input_tokens_series.map((value, j) => value + entry.output_tokens_series[j]),
    );
    const panels = [
      {
        id: "conversations",
        title: "Conversations",
        note: "threads created",
        total: number(totals.conversations),
        series: [["threads", usage.conversations]],
        bars: true,
      },
      {
        id: "messages",
        title: "Messages",
        note: "user messages sent",
        total: number(totals.messages),
        series: [["messages", usage.messages]],
        bars: true,
      },
      {
        id: "active-users",
        title: "Active users",
        note: "distinct users who sent a message (total: over the whole range)",
        total: number(totals.active_users),
        series: [["users", usage.active_users]],
        bars: true,
      },
      {
        id: "tokens",
        title: "Tokens",
        note: "input + output the provider reported, per workflow and model",
        total: number(totals.input_tokens + totals.output_tokens),
        detail: `${number(totals.input_tokens)} in · ${number(totals.output_tokens)} out`,
        series: tokenLabels.map((label, i) => [label, tokenSeries[i]]),
        bars: false,
      },
      {
        id: "latency",
        title: "Time to first token",
        note: "from a run's start to its first text; p50 and p95 of the bucket's runs",
        total: seconds(totals.time_to_first_token_p50),
        detail: `p95 ${seconds(totals.time_to_first_token_p95)}`,
        series: [
          ["p50 (s)", usage.time_to_first_token.p50],
          ["p95 (s)", usage.time_to_first_token.p95],
        ],
        bars: false,
      },
      {
        id: "errors",
        title: "Error rate",
        note: "failed runs / ended runs (the provider or the workflow failed)",
        total: percent(totals.error_rate),
        detail: `${number(totals.failed_runs)} of ${number(totals.runs)} runs`,
        series: [["error rate (%)", usage.error_rate.map((rate) => (rate === null ? null : rate * 100))]],
        bars: false,
      },
      {
        id: "refusals",
        title: "Refusals",
        note:
          usage.refusals === null
            ? "rate-limit 429s are counted per workflow, not per user"
            : "requests refused by a rate limit (429)",
        total: usage.refusals === null ? "n/a" : number(totals.refusals),
        series: usage.refusals === null ? [] : [["429s", usage.refusals]],
        bars: true,
      },
    ];
    const grid = $("overview-charts");
    grid.replaceChildren(...panels.map((panel) => card(panel)));
    for (const panel of panels) {
      const holder = grid.querySelector(`[data-chart="${panel.id}"] .chart`);
      if (!panel.series.length) {
        holder.append(h("p", { class: "hint", text: panel.id === "tokens" ? "No model calls in this range." : "Not recorded for this filter." }));
        continue;
      }
      charts.push(plot(holder, x, panel, usage.bucket_seconds));
    }
  }

  function card(panel) {
    return h(
      "section",
      { class: "chart-card", dataset: { chart: panel.id }, "aria-label": panel.title },
      h(
        "div",
        { class: "chart-head" },
        h("h2", { text: panel.title }),
        h("output", { class: "chart-total", dataset: { total: panel.id }, text: panel.total }),
      ),
      h("p", { class: "hint chart-note", text: panel.detail ? `${panel.detail} · ${panel.note}` : panel.note }),
      h("div", { class: "chart" }),
    );
  }

  function plot(holder, x, panel, bucketSeconds) {
    const width = Math.max(260, holder.clientWidth || 420);
    const bars = panel.bars && globalThis.uPlot.paths.bars ? globalThis.uPlot.paths.bars({ size: [0.7, 40] }) : undefined;
    const options = {
      width,
      height: CHART_HEIGHT,
      legend: { show: !panel.bars || panel.series.length > 1, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        // Half a bucket either side, so that the first and last bars show whole.
        x: { time: true, range: (_, min, max) => [min - bucketSeconds / 2, max + bucketSeconds / 2] },
        y: { range: (_, min, max) => [0, Math.max(1, max * 1.1)] },
      },
      axes: [
        { stroke: "#6b7280", grid: { stroke: "#eef0f3" }, values: bucketSeconds >= 86400 ? "{M}/{D}" : "{HH}:{mm}" },
        { stroke: "#6b7280", grid: { stroke: "#eef0f3" }, size: 48 },
      ],
      series: [
        {},
        ...panel.series.map(([label], i) => ({
          label,
          stroke: COLORS[i % COLORS.length],
          fill: panel.bars ? `${COLORS[i % COLORS.length]}55` : undefined,
          width: 2,
          paths: bars,
          points: { show: !panel.bars },
          spanGaps: false,
        })),
      ],
    };
    return new globalThis.uPlot(options, [x, ...panel.series.map(([, values]) => values)], holder);
  }

  function rankings(usage) {
    const row = (name, runs, active, change) =>
      h(
        "tr",
        { class: active ? "selected" : undefined, dataset: { name } },
        h("td", {}, h("a", { href: "#overview", text: name, on: { click: (event) => { event.preventDefault(); drill(change); } } })),
        h("td", { text: number(runs) }),
      );
    $("overview-workflows").replaceChildren(
      ...usage.workflows.map((entry) =>
        row(entry.workflow_id, entry.runs, entry.workflow_id === usage.workflow_id, { workflow_id: entry.workflow_id }),
      ),
    );
    $("overview-users").replaceChildren(
      ...usage.users.map((entry) => row(entry.user, entry.runs, entry.user === usage.user, { user: entry.user })),
    );
  }

  return { show };
}
