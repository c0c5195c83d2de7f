// sessions.create and sessions.cancel through the official SDK (hosted-api.md §3.1, §3.2, §4.1).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';

import { REQUEST_ID, makeClient, seed } from './harness.mjs';

const client = makeClient();
const WORKFLOW_ID = seed.workflow.id;

const SESSION_ID = /^cksess_([0-9a-f]{8})[0-9a-f]{40}$/;
const CLIENT_SECRET = /^ek_[0-9a-f]{48}_00([A-Za-z0-9+/]+={0,2})$/;

function newUser() {
  return `node-session-${randomUUID()}`;
}

/** The id and secret have the hosted formats, and agree with `expires_at` (hosted-api.md §1.4). */
function assertIdentifiers(session, seconds) {
  const id = SESSION_ID.exec(session.id);
  assert.ok(id, `session id ${session.id} is cksess_ + 8 hex of the creation time + 40 hex`);
  assert.ok(Number.isInteger(session.expires_at), 'expires_at is integer Unix seconds');
  const lifetime = session.expires_at - parseInt(id[1], 16);
  assert.ok(
    lifetime === seconds || lifetime === seconds - 1,
    `expires_at is the id's creation second + ${seconds} s (got +${lifetime} s)`,
  );
  const secret = CLIENT_SECRET.exec(session.client_secret);
  assert.ok(secret, `client secret ${session.client_secret} is ek_ + 48 hex + _00 + base64`);
  const embedded = JSON.parse(Buffer.from(secret[1], 'base64').toString('utf8'));
  assert.deepEqual(embedded, { expires_at: session.expires_at });
}

test('sessions.create with only user and workflow fills in every default', async () => {
  const user = newUser();
  const { data: session, request_id } = await client.beta.chatkit.sessions
    .create({ user, workflow: { id: WORKFLOW_ID } })
    .withResponse();
  assert.match(request_id ?? '', REQUEST_ID);
  assertIdentifiers(session, 600);
  assert.deepEqual(session, {
    id: session.id,
    object: 'chatkit.session',
    status: 'active',
    chatkit_configuration: {
      automatic_thread_titling: { enabled: true },
      file_upload: { enabled: false, max_file_size: 512, max_files: 10 },
      history: { enabled: true, recent_threads: null },
    },
    client_secret: session.client_secret,
    expires_at: session.expires_at,
    max_requests_per_1_minute: 10,
    rate_limits: { max_requests_per_1_minute: 10 },
    user,
    workflow: { id: WORKFLOW_ID, version: null, state_variables: null, tracing: { enabled: true } },
  });
});

test('sessions.create echoes every option it is given', async () => {
  const user = newUser();
  const stateVariables = { plan: 'pro', seats: 3, beta: true, ratio: 0.5 };
  const session = await client.beta.chatkit.sessions.create({
    user,
    workflow: {
      id: WORKFLOW_ID,
      version: seed.workflow.version,
      state_variables: stateVariables,
      tracing: { enabled: false },
    },
    expires_after: { anchor: 'created_at', seconds: 120 },
    rate_limits: { max_requests_per_1_minute: 25 },
    chatkit_configuration: {
      automatic_thread_titling: { enabled: false },
      file_upload: { enabled: true, max_file_size: 20, max_files: 3 },
      history: { enabled: false, recent_threads: 5 },
    },
  });
  assertIdentifiers(session, 120);
  assert.deepEqual(session, {
    id: session.id,
    object: 'chatkit.session',
    status: 'active',
    chatkit_configuration: {
      automatic_thread_titling: { enabled: false },
      file_upload: { enabled: true, max_file_size: 20, max_files: 3 },
      history: { enabled: false, recent_threads: 5 },
    },
    client_secret: session.client_secret,
    expires_at: session.expires_at,
    max_requests_per_1_minute: 25,
    rate_limits: { max_requests_per_1_minute: 25 },
    user,
    workflow: {
      id: WORKFLOW_ID,
      version: seed.workflow.version,
      state_variables: stateVariables,
      tracing: { enabled: false },
    },
  });
});

test('sessions.create fills the defaults a partial configuration leaves out', async () => {
  const session = await client.beta.chatkit.sessions.create({
    user: newUser(),
    workflow: { id: WORKFLOW_ID },
    chatkit_configuration: { file_upload: { enabled: true }, history: { recent_threads: 2 } },
  });
  assert.deepEqual(session.chatkit_configuration, {
    automatic_thread_titling: { enabled: true },
    file_upload: { enabled: true, max_file_size: 512, max_files: 10 },
    history: { enabled: true, recent_threads: 2 },
  });
});

test('every session gets its own id and client secret', async () => {
  const user = newUser();
  const sessions = [];
  for (let n = 0; n < 5; n++) {
    sessions.push(
      await client.beta.chatkit.sessions.create({ user, workflow: { id: WORKFLOW_ID } }),
    );
  }
  assert.equal(new Set(sessions.map((s) => s.id)).size, sessions.length);
  assert.equal(new Set(sessions.map((s) => s.client_secret)).size, sessions.length);
});

test('sessions.cancel twice: both return the cancelled session with an empty secret', async () => {
  const created = await client.beta.chatkit.sessions.create({
    user: newUser(),
    workflow: { id: WORKFLOW_ID, state_variables: { tier: 'gold' } },
    rate_limits: { max_requests_per_1_minute: 7 },
  });
  const expected = { ...created, status: 'cancelled', client_secret: '' };

  const { data: first, request_id } = await client.beta.chatkit.sessions
    .cancel(created.id)
    .withResponse();
  assert.match(request_id ?? '', REQUEST_ID);
  assert.deepEqual(first, expected, 'only status and client_secret change; expires_at is kept');

  const second = await client.beta.chatkit.sessions.cancel(created.id);
  assert.deepEqual(second, expected, 'cancel is idempotent');
});
