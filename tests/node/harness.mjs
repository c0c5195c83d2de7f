// Shared set-up for the Node SDK conformance suite (not a test file itself).
//
// The suite drives a running kithost server with the official `openai` npm SDK. It is started by
// tests/test_node_sdk.py, which seeds the database and sets:
//   KITHOST_BASE_URL   the server's root URL, e.g. http://127.0.0.1:8000 (`/v1` is appended here)
//   KITHOST_API_KEY    an admin API key
//   KITHOST_SEED_FILE  a JSON file describing the seeded threads and items (see build_seed there)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import OpenAI, { APIError } from 'openai';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set. Run this suite through pytest (tests/test_node_sdk.py), which starts ` +
        'kithost, seeds it and sets KITHOST_BASE_URL, KITHOST_API_KEY and KITHOST_SEED_FILE.',
    );
  }
  return value;
}

export const BASE_URL = `${required('KITHOST_BASE_URL').replace(/\/+$/, '')}/v1`;
export const API_KEY = required('KITHOST_API_KEY');
export const seed = JSON.parse(readFileSync(required('KITHOST_SEED_FILE'), 'utf8'));

/** The SDK pointed at kithost. No retries: a 5xx or 409 must fail the test, not be hidden. */
export function makeClient(options = {}) {
  return new OpenAI({ baseURL: BASE_URL, apiKey: API_KEY, maxRetries: 0, ...options });
}

/**
 * A client whose real HTTP requests are recorded (method and URL), to check what the SDK's
 * auto-pagination asks for. Requests still go to the server through the global fetch.
 */
export function recordingClient() {
  const requests = [];
  const client = makeClient({
    fetch: (url, init) => {
      requests.push({ method: init?.method ?? 'GET', url: new URL(String(url)) });
      return fetch(url, init);
    },
  });
  return { client, requests };
}

export async function collect(iterable) {
  const out = [];
  for await (const value of iterable) out.push(value);
  return out;
}

export const idsOf = (objects) => objects.map((object) => object.id);

/** Every page an auto-paginating list call fetches, each checked against the list envelope. */
export async function pagesOf(pagePromise) {
  const pages = [];
  for await (const page of (await pagePromise).iterPages()) {
    assertEnvelope(page);
    pages.push(page);
  }
  return pages;
}

/** `object`, `first_id`, `last_id` and `has_more` agree with `data` (hosted-api.md §4.4). */
export function assertEnvelope(page) {
  const body = page.body;
  assert.equal(body.object, 'list');
  assert.ok(Array.isArray(body.data), 'data is an array');
  assert.equal(typeof body.has_more, 'boolean', 'has_more is always an explicit boolean');
  const first = body.data.length ? body.data[0].id : null;
  const last = body.data.length ? body.data.at(-1).id : null;
  assert.equal(body.first_id, first, 'first_id is the id of data[0], or null');
  assert.equal(body.last_id, last, 'last_id is the id of the final element, or null');
}

/** Ids strictly after `cursor` / strictly before it, in the order of `ordered`. */
export function afterId(ordered, cursor) {
  const index = ordered.indexOf(cursor);
  assert.notEqual(index, -1, `${cursor} is in the expected list`);
  return ordered.slice(index + 1);
}

export function beforeId(ordered, cursor) {
  const index = ordered.indexOf(cursor);
  assert.notEqual(index, -1, `${cursor} is in the expected list`);
  return ordered.slice(0, index);
}

/** Sizes of the pages that `total` rows make at `limit` rows a page, e.g. (25, 20) → [20, 5]. */
export function pageSizes(total, limit) {
  const sizes = [];
  for (let left = total; left > 0; left -= limit) sizes.push(Math.min(limit, left));
  return sizes;
}

export const REQUEST_ID = /^req_[0-9A-Za-z]+$/;

/**
 * Await `promise`, which must reject with the SDK's `ErrorClass`, and check the error's status,
 * type, code and param (all four always present, hosted-api.md §6.1), its message when given,
 * and that it carries the response's request id.
 */
export async function expectAPIError(promise, ErrorClass, expected) {
  const { status, type = 'invalid_request_error', code, param, message } = expected;
  let error;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  assert.ok(error, `expected ${ErrorClass.name}, but the call succeeded`);
  assert.ok(
    error instanceof ErrorClass,
    `expected ${ErrorClass.name}, got ${error?.constructor?.name}: ${error?.message}`,
  );
  assert.ok(error instanceof APIError);
  assert.equal(error.status, status);
  assert.equal(error.type, type);
  assert.equal(error.code, code);
  assert.equal(error.param, param);
  assert.deepEqual(
    Object.keys(error.error ?? {}).sort(),
    ['code', 'message', 'param', 'type'],
    'the error envelope has exactly message, type, param and code',
  );
  assert.equal(typeof error.error.message, 'string');
  assert.ok(error.error.message.length > 0, 'the error has a message');
  if (message instanceof RegExp) assert.match(error.error.message, message);
  else if (message !== undefined) assert.equal(error.error.message, message);
  assert.match(error.requestID ?? '', REQUEST_ID, 'errors carry the x-request-id header');
  assert.match(error.headers.get('content-type') ?? '', /^application\/json/);
  return error;
}
