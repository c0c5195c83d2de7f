// threads.listItems through the official SDK: the six REST item types, exactly as hosted renders
// them, auto-paginated in both orders (hosted-api.md §3.6, §4.3, §5).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  afterId,
  beforeId,
  collect,
  idsOf,
  makeClient,
  pageSizes,
  pagesOf,
  recordingClient,
  seed,
} from './harness.mjs';

const client = makeClient();
const threads = client.beta.chatkit.threads;
const { id: THREAD_ID, items_asc: EXPECTED, hidden_item_ids: HIDDEN } = seed.item_thread;
const ASC = idsOf(EXPECTED);
const DESC = [...ASC].reverse();

const REST_TYPES = [
  'chatkit.user_message',
  'chatkit.assistant_message',
  'chatkit.widget',
  'chatkit.client_tool_call',
  'chatkit.task',
  'chatkit.task_group',
];

const canonical = (values) => [...values].sort((a, b) =>
  JSON.stringify(a).localeCompare(JSON.stringify(b)),
);

/**
 * Check that `actual` is the expected REST item. Fields named in `json_fields` are JSON strings on the wire
 * and are compared parsed; `unordered_fields` are arrays whose order the contract leaves open.
 */
function assertItem(actual, expected) {
  const { json_fields = [], unordered_fields = [], ...fields } = expected;
  const comparable = { ...actual };
  for (const key of json_fields) {
    assert.equal(typeof actual[key], 'string', `${expected.type}.${key} is a JSON string`);
    comparable[key] = JSON.parse(actual[key]);
  }
  for (const key of unordered_fields) {
    comparable[key] = canonical(comparable[key]);
    fields[key] = canonical(fields[key]);
  }
  assert.deepEqual(comparable, fields, `item ${expected.id} (${expected.type})`);
}

async function listPages(query, expectedIds, limit) {
  const pages = await pagesOf(threads.listItems(THREAD_ID, query));
  assert.deepEqual(
    pages.map((page) => page.data.length),
    pageSizes(expectedIds.length, limit),
  );
  pages.forEach((page, index) => {
    assert.equal(page.body.has_more, index < pages.length - 1, `has_more of page ${index}`);
  });
  const listed = pages.flatMap((page) => page.data);
  assert.deepEqual(idsOf(listed), expectedIds);
  return listed;
}

test('seed sanity: every REST item type, and hidden protocol items', () => {
  assert.ok(ASC.length >= 20);
  assert.deepEqual(new Set(EXPECTED.map((item) => item.type)), new Set(REST_TYPES));
  assert.ok(HIDDEN.length > 0);
});

test('asc over many pages: every item in its exact REST form', async () => {
  const listed = await listPages({ order: 'asc', limit: 4 }, ASC, 4);
  listed.forEach((item, index) => assertItem(item, EXPECTED[index]));
});

test('for await over listItems auto-paginates, keeping order and limit', async () => {
  const { client: recording, requests } = recordingClient();
  const listed = await collect(
    recording.beta.chatkit.threads.listItems(THREAD_ID, { order: 'asc', limit: 5 }),
  );
  assert.deepEqual(idsOf(listed), ASC);
  assert.equal(requests.length, pageSizes(ASC.length, 5).length);
  requests.forEach(({ url }, index) => {
    assert.ok(url.pathname.endsWith(`/chatkit/threads/${THREAD_ID}/items`), url.pathname);
    assert.equal(url.searchParams.get('order'), 'asc');
    assert.equal(url.searchParams.get('limit'), '5');
    assert.equal(url.searchParams.get('after'), index ? ASC[index * 5 - 1] : null);
  });
});

test('desc is the default order, 20 the default limit', async () => {
  const listed = await listPages({}, DESC, 20);
  listed.forEach((item, index) => assertItem(item, EXPECTED[ASC.length - 1 - index]));
  await listPages({ limit: 3 }, DESC, 3);
});

test('hidden protocol items never appear, and only the six REST types do', async () => {
  const listed = await collect(threads.listItems(THREAD_ID, { limit: 100 }));
  assert.equal(listed.length, ASC.length);
  for (const item of listed) {
    assert.ok(REST_TYPES.includes(item.type), `unexpected item type ${item.type}`);
    assert.equal(item.object, 'chatkit.thread_item');
    assert.equal(item.thread_id, THREAD_ID);
    assert.ok(Number.isInteger(item.created_at));
    assert.ok(!HIDDEN.includes(item.id), `hidden item ${item.id} was listed`);
  }
});

test('after and before: only items strictly beyond the cursors, in both orders', async () => {
  for (const cursor of [ASC[0], ASC[5], ASC[11], ASC.at(-1)]) {
    const upAfter = await collect(
      threads.listItems(THREAD_ID, { order: 'asc', after: cursor, limit: 3 }),
    );
    assert.deepEqual(idsOf(upAfter), afterId(ASC, cursor), `asc after ${cursor}`);
    const downAfter = await collect(threads.listItems(THREAD_ID, { after: cursor, limit: 3 }));
    assert.deepEqual(idsOf(downAfter), afterId(DESC, cursor), `desc after ${cursor}`);
    const upBefore = await collect(
      threads.listItems(THREAD_ID, { order: 'asc', before: cursor, limit: 3 }),
    );
    assert.deepEqual(idsOf(upBefore), beforeId(ASC, cursor), `asc before ${cursor}`);
    const downBefore = await collect(threads.listItems(THREAD_ID, { before: cursor, limit: 3 }));
    assert.deepEqual(idsOf(downBefore), beforeId(DESC, cursor), `desc before ${cursor}`);
  }
});

test('after and before together: the items between them', async () => {
  const [low, high] = [ASC[2], ASC[17]];
  const between = ASC.slice(3, 17);
  const up = await listPages({ order: 'asc', after: low, before: high, limit: 4 }, between, 4);
  up.forEach((item, index) => assertItem(item, EXPECTED[3 + index]));
  await listPages({ order: 'desc', after: high, before: low, limit: 4 }, [...between].reverse(), 4);
});

test('after the last item is an empty page with has_more false', async () => {
  const page = await threads.listItems(THREAD_ID, { order: 'asc', after: ASC.at(-1) });
  assert.deepEqual(page.body, {
    object: 'list',
    data: [],
    first_id: null,
    last_id: null,
    has_more: false,
  });
});
