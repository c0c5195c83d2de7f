// The chat page at `/`: the demo sign-in, then <kithost-chat> with the minted client secret.
import "./kithost-chat.js";

const SIGNIN_KEY = "kithost.demo.signin";
const THREAD_KEY = "kithost.demo.thread";

const $ = (id) => document.getElementById(id);
const signin = $("signin");
const form = $("signin-form");
const error = $("signin-error");
const chat = $("chat");
const sessionInfo = $("session-info");
const signOut = $("sign-out");
const workflowSelect = form.elements.workflow;
// id → {name, description, starter_prompts}, from the demo sign-in's list.
const workflows = new Map();
let workflowsLoaded = null;

/** Ask the server's demo sign-in for a session (what an app's own backend would do). */
async function mint(params) {
  const response = await fetch("/demo/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(params),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(body?.error?.message || `The demo sign-in answered ${response.status}.`);
  }
  return body;
}

/** A workflow's name for people; its id only when the server did not list it. */
function workflowName(id) {
  return workflows.get(id)?.name || id;
}

function showSession(session) {
  const expires = new Date(session.expires_at * 1000).toLocaleTimeString();
  const workflow = workflowName(session.workflow.id);
  sessionInfo.textContent = `${session.user} · ${workflow} · secret until ${expires}`;
  sessionInfo.title = `${session.id} · ${session.workflow.id}`;
  sessionInfo.dataset.sessionId = session.id;
  sessionInfo.hidden = false;
}

/** The workflows the sign-in offers, fetched once (the chat also needs their names). */
function loadWorkflows() {
  workflowsLoaded ??= (async () => {
    try {
      const response = await fetch("/demo/workflows");
      const body = await response.json();
      for (const workflow of body.data) {
        workflows.set(workflow.id, workflow);
        workflowSelect.append(new Option(workflow.name || workflow.id, workflow.id));
      }
    } catch {
      workflowSelect.append(new Option("wf_kithost_demo", "wf_kithost_demo"));
    }
    workflowSelect.value = "wf_kithost_demo";
    describeWorkflow();
  })();
  return workflowsLoaded;
}

function describeWorkflow() {
  const workflow = workflows.get(workflowSelect.value);
  const parts = [workflow?.description, workflowSelect.value].filter(Boolean);
  $("workflow-description").textContent = parts.join(" · ");
}

function readForm() {
  const data = new FormData(form);
  const params = {
    user: String(data.get("user") || "").trim(),
    workflow: String(data.get("workflow") || "wf_kithost_demo"),
    history: form.elements.history.checked,
    max_file_size: Number(data.get("max_file_size") || 20),
    max_files: Number(data.get("max_files") || 10),
  };
  const state = String(data.get("state_variables") || "").trim();
  if (state) {
    let parsed;
    try {
      parsed = JSON.parse(state);
    } catch {
      throw new Error("State variables must be a JSON object, such as {\"delay_ms\": 40}.");
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error("State variables must be a JSON object, such as {\"delay_ms\": 40}.");
    }
    params.state_variables = parsed;
  }
  return params;
}

async function startChat(params) {
  await loadWorkflows();
  const first = await mint(params);
  showSession(first);
  let handedOut = false;
  const config = first.chatkit_configuration;
  signin.hidden = true;
  chat.hidden = false;
  signOut.hidden = false;
  chat.setOptions({
    api: {
      url: "/v1/chatkit/conversation",
      // Called for the first secret, before a secret expires, and after a cancelled session
      // when the user asks for a new one: each call signs in again.
      getClientSecret: async () => {
        if (!handedOut) {
          handedOut = true;
          return { client_secret: first.client_secret, expires_at: first.expires_at };
        }
        const fresh = await mint(params);
        showSession(fresh);
        return { client_secret: fresh.client_secret, expires_at: fresh.expires_at };
      },
      uploadStrategy: { type: "two_phase" },
    },
    history: { enabled: config.history.enabled },
    composer: {
      placeholder: `Message ${workflowName(params.workflow)}…`,
      attachments: { enabled: config.file_upload.enabled },
    },
    startScreen: {
      greeting: `Hello, ${params.user}. What shall we talk about?`,
      // Only the prompts this workflow declares (none for most): never another workflow's.
      prompts: workflows.get(params.workflow)?.starter_prompts || [],
    },
    initialThread: sessionStorage.getItem(THREAD_KEY),
  });
}

chat.addEventListener("chatkit.thread.change", (event) => {
  if (event.detail.threadId) sessionStorage.setItem(THREAD_KEY, event.detail.threadId);
  else sessionStorage.removeItem(THREAD_KEY);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  try {
    const params = readForm();
    sessionStorage.removeItem(THREAD_KEY);
    await startChat(params);
    sessionStorage.setItem(SIGNIN_KEY, JSON.stringify(params));
  } catch (problem) {
    error.textContent = problem.message;
    error.hidden = false;
  }
});

workflowSelect.addEventListener("change", describeWorkflow);

signOut.addEventListener("click", () => {
  sessionStorage.removeItem(SIGNIN_KEY);
  sessionStorage.removeItem(THREAD_KEY);
  location.reload();
});

async function showSignIn(message = "") {
  chat.hidden = true;
  signOut.hidden = true;
  sessionInfo.hidden = true;
  signin.hidden = false;
  await loadWorkflows();
  error.textContent = message;
  error.hidden = !message;
}

const saved = sessionStorage.getItem(SIGNIN_KEY);
if (saved) {
  try {
    await startChat(JSON.parse(saved));
  } catch (problem) {
    sessionStorage.removeItem(SIGNIN_KEY);
    await showSignIn(problem.message);
  }
} else {
  await showSignIn();
}
