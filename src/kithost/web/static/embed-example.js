// The embed example's page script: what a page that embeds <kithost-chat> writes. Here the client
// secret comes from kithost's demo sign-in; a real page asks its own backend, which mints the
// session with an admin key (POST /v1/chatkit/sessions) for the signed-in user.

async function getClientSecret() {
  const response = await fetch("/demo/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: "embed-visitor", workflow: "wf_kithost_echo" }),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message || `answered ${response.status}`);
  return body.client_secret;
}

await customElements.whenDefined("kithost-chat");
const chat = document.getElementById("support-chat");
const status = document.getElementById("embed-status");
chat.addEventListener("chatkit.ready", () => {
  status.textContent = "The chat is ready.";
});
chat.addEventListener("chatkit.error", (event) => {
  status.textContent = `The chat reported: ${event.detail.error.message}`;
});
chat.setOptions({
  api: { url: "/v1/chatkit/conversation", getClientSecret },
  history: { enabled: false },
  header: { enabled: false },
  startScreen: {
    greeting: "Hi! How can Acme help?",
    prompts: [{ label: "Track my order", prompt: "Where is my order?" }],
  },
  composer: { placeholder: "Ask Acme support…" },
});
