// threads.retrieve, threads.list (auto-paginated) and threads.delete through the official SDK
// (hosted-api.md §3.3-§3.5, §4.2, §5). Tests in this file run in order: deletion comes last, after
// the listings that expect every seeded thread.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { NotFoundError } from 'openai';

import {
  BASE_URL,
  REQUEST_ID,
  afterId,
  beforeId,
  collect,
  expectAPIError,
  idsOf,
  makeClient,
  pageSizes,
  pagesOf,
  recordingClient,
  seed,
} from './harness.mjs';

const client = makeClient();
const threads = client.beta.chatkit.threads;
const reversed = (ids) => [...ids].reverse();
const expectedThreads = (ids) => ids.map((id) => seed.threads[id]);

const [alice, bob, carol] = seed.users;
const allAsc = seed.all_threads_asc;

/** Auto-paginate a threads.list call page by page; check the page sizes and `has_more`. */
async function listPages(query, expectedIds, limit) {
  const pages = await pagesOf(threads.list(query));
  assert.deepEqual(
    pages.map((page) => page.data.length),
    pageSizes(expectedIds.length, limit),
    'pages are full except the last',
  );
  pages.forEach((page, index) => {
    assert.equal(page.body.has_more, index < pages.length - 1, `has_more of page ${index}`);
  });
  const listed = pages.flatMap((page) => page.data);
  assert.deepEqual(idsOf(listed), expectedIds);
  return listed;
}

test('seed sanity: three users with many interleaved threads', () => {
  assert.equal(seed.users.length, 3);
  for (const { threads_asc } of seed.users) assert.ok(threads_asc.length >= 20);
  assert.equal(new Set(allAsc).size, allAsc.length);
});

describe('threads.retrieve', () => {
  test('returns every seeded thread exactly, statuses and titles included', async () => {
    const statuses = new Set();
    for (const id of allAsc) {
      const { data: thread, request_id } = await threads.retrieve(id).withResponse();
      assert.match(request_id ?? '', REQUEST_ID);
      assert.deepEqual(thread, seed.threads[id]);
      statuses.add(thread.status.type);
    }
    assert.deepEqual([...statuses].sort(), ['active', 'closed', 'locked'], 'seed covers them all');
  });
});

describe('threads.list with a user filter', () => {
  test('asc, many pages: every thread of each user in creation order, as retrieved', async () => {
    for (const { user, threads_asc } of seed.users) {
      const listed = await listPages({ user, order: 'asc', limit: 3 }, threads_asc, 3);
      assert.deepEqual(listed, expectedThreads(threads_asc));
    }
  });

  test('for await auto-paginates, keeping the query and adding after', async () => {
    const { client: recording, requests } = recordingClient();
    const listed = await collect(
      recording.beta.chatkit.threads.list({ user: bob.user, order: 'asc', limit: 4 }),
    );
    assert.deepEqual(idsOf(listed), bob.threads_asc);
    const expectedPages = pageSizes(bob.threads_asc.length, 4).length;
    assert.equal(requests.length, expectedPages, 'one request a page, none after the last');
    requests.forEach(({ method, url }, index) => {
      assert.equal(method, 'GET');
      assert.equal(url.pathname, `${new URL(BASE_URL).pathname}/chatkit/threads`);
      assert.equal(url.searchParams.get('user'), bob.user);
      assert.equal(url.searchParams.get('order'), 'asc');
      assert.equal(url.searchParams.get('limit'), '4');
      assert.equal(url.searchParams.get('after'), index ? bob.threads_asc[index * 4 - 1] : null);
    });
  });

  test('desc is the default order', async () => {
    for (const { user, threads_asc } of seed.users) {
      await listPages({ user, limit: 4 }, reversed(threads_asc), 4);
    }
  });

  test('the default limit is 20', async () => {
    await listPages({ user: carol.user }, reversed(carol.threads_asc), 20);
  });

  test('a page that holds exactly the rest says has_more false: no extra request', async () => {
    const { client: recording, requests } = recordingClient();
    const total = alice.threads_asc.length;
    const listed = await collect(
      recording.beta.chatkit.threads.list({ user: alice.user, order: 'asc', limit: total }),
    );
    assert.deepEqual(idsOf(listed), alice.threads_asc);
    assert.equal(requests.length, 1);
  });

  test('after the last thread is an empty page with has_more false and null ids', async () => {
    for (const [order, ids] of [
      ['asc', alice.threads_asc],
      ['desc', reversed(alice.threads_asc)],
    ]) {
      const page = await threads.list({ user: alice.user, order, after: ids.at(-1) });
      assert.deepEqual(page.body, {
        object: 'list',
        data: [],
        first_id: null,
        last_id: null,
        has_more: false,
      });
      assert.equal(page.hasNextPage(), false);
    }
  });

  test('after: only threads strictly following the cursor, in both orders', async () => {
    const asc = bob.threads_asc;
    const desc = reversed(asc);
    for (const cursor of [asc[0], asc[6], asc[13], asc.at(-2)]) {
      const up = await collect(
        threads.list({ user: bob.user, order: 'asc', after: cursor, limit: 4 }),
      );
      assert.deepEqual(idsOf(up), afterId(asc, cursor), `asc after ${cursor}`);
      const down = await collect(threads.list({ user: bob.user, after: cursor, limit: 4 }));
      assert.deepEqual(idsOf(down), afterId(desc, cursor), `desc after ${cursor}`);
    }
  });

  test('before: only threads strictly preceding the cursor, kept on every page', async () => {
    const asc = carol.threads_asc;
    const desc = reversed(asc);
    for (const cursor of [asc[1], asc[12], asc.at(-1)]) {
      const { client: recording, requests } = recordingClient();
      const up = await collect(
        recording.beta.chatkit.threads.list({
          user: carol.user,
          order: 'asc',
          before: cursor,
          limit: 3,
        }),
      );
      assert.deepEqual(idsOf(up), beforeId(asc, cursor), `asc before ${cursor}`);
      assert.equal(requests.length, Math.max(1, pageSizes(up.length, 3).length));
      for (const { url } of requests) assert.equal(url.searchParams.get('before'), cursor);

      const down = await collect(
        threads.list({ user: carol.user, order: 'desc', before: cursor, limit: 3 }),
      );
      assert.deepEqual(idsOf(down), beforeId(desc, cursor), `desc before ${cursor}`);
    }
  });

  test('after and before together: the threads between them, in both orders', async () => {
    const asc = alice.threads_asc;
    const [low, high] = [asc[3], asc[20]];
    const between = asc.slice(4, 20);
    const up = await listPages(
      { user: alice.user, order: 'asc', after: low, before: high, limit: 5 },
      between,
      5,
    );
    assert.deepEqual(up, expectedThreads(between));
    await listPages(
      { user: alice.user, order: 'desc', after: high, before: low, limit: 5 },
      reversed(between),
      5,
    );
  });

  test('a user without threads has an empty list', async () => {
    const page = await threads.list({ user: `${alice.user}-nobody` });
    assert.deepEqual(page.body.data, []);
    assert.equal(page.body.has_more, false);
  });
});

describe('threads.list without a user filter', () => {
  test('asc over many pages: every thread of every user', async () => {
    const listed = await listPages({ order: 'asc', limit: 7 }, allAsc, 7);
    assert.deepEqual(listed, expectedThreads(allAsc));
  });

  test('desc by default, default limit', async () => {
    await listPages({}, reversed(allAsc), 20);
  });

  test('after and before cursors span users', async () => {
    const desc = reversed(allAsc);
    const high = alice.threads_asc[18];
    const low = carol.threads_asc[2];
    const up = await collect(threads.list({ order: 'asc', after: low, limit: 6 }));
    assert.deepEqual(idsOf(up), afterId(allAsc, low));
    const down = await collect(threads.list({ before: low, limit: 6 }));
    assert.deepEqual(idsOf(down), beforeId(desc, low));
    const window = await collect(threads.list({ after: high, before: low, limit: 4 }));
    assert.deepEqual(idsOf(window), afterId(beforeId(desc, low), high));
  });
});

describe('threads.delete', () => {
  const { doomed } = seed;
  const victim = doomed.thread_with_items;

  test('deletes the thread and its items; it is gone from retrieve, items and lists', async () => {
    assert.deepEqual(
      idsOf(await collect(threads.list({ user: doomed.user, order: 'asc' }))),
      doomed.threads_asc,
    );
    assert.deepEqual(
      idsOf(await collect(threads.listItems(victim, { order: 'asc', limit: 2 }))),
      doomed.item_ids_asc,
    );

    const { data: deleted, request_id } = await threads.delete(victim).withResponse();
    assert.match(request_id ?? '', REQUEST_ID);
    assert.deepEqual(deleted, { id: victim, object: 'chatkit.thread.deleted', deleted: true });

    const notFound = { status: 404, code: null, param: 'thread_id' };
    await expectAPIError(threads.retrieve(victim), NotFoundError, notFound);
    await expectAPIError(threads.listItems(victim), NotFoundError, notFound);

    const remaining = doomed.threads_asc.filter((id) => id !== victim);
    assert.deepEqual(
      idsOf(await collect(threads.list({ user: doomed.user, order: 'asc', limit: 1 }))),
      remaining,
    );
    assert.deepEqual(
      idsOf(await collect(threads.list({ order: 'asc', limit: 50 }))),
      allAsc.filter((id) => id !== victim),
    );
    for (const id of remaining) assert.deepEqual(await threads.retrieve(id), seed.threads[id]);
  });

  test('deleting it again is a 404 or the same deleted object, never a 5xx', async () => {
    let again;
    try {
      again = await threads.delete(victim);
    } catch (error) {
      await expectAPIError(Promise.reject(error), NotFoundError, {
        status: 404,
        code: null,
        param: 'thread_id',
      });
      return;
    }
    assert.deepEqual(again, { id: victim, object: 'chatkit.thread.deleted', deleted: true });
  });

  test("deleting a user's last threads leaves an empty list", async () => {
    for (const id of doomed.threads_asc.filter((id) => id !== victim)) {
      assert.deepEqual(await threads.delete(id), {
        id,
        object: 'chatkit.thread.deleted',
        deleted: true,
      });
    }
    const page = await threads.list({ user: doomed.user });
    assert.deepEqual(page.body, {
      object: 'list',
      data: [],
      first_id: null,
      last_id: null,
      has_more: false,
    });
  });
});
