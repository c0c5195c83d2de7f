// Files and vector stores through the official `openai` npm SDK (issue 13's conformance suite).
//
// Not named *.test.mjs on purpose: tests/test_node_sdk.py runs every test file of this folder
// against its own seeded server. tests/test_vector_stores_api.py runs this one by name, with
// KITHOST_BASE_URL and KITHOST_API_KEY set (and an empty KITHOST_SEED_FILE for the harness).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { BadRequestError, NotFoundError, toFile } from 'openai';

import { collect, expectAPIError, idsOf, makeClient, pagesOf } from './harness.mjs';

const client = makeClient();
const POLL = { pollIntervalMs: 100 };
const tag = `node-${Date.now().toString(36)}`;

async function textFile(name, text) {
  return toFile(Buffer.from(text, 'utf8'), name);
}

describe('files', () => {
  test('create, retrieve, list by purpose, delete', async () => {
    const made = await client.files.create({
      file: await textFile('notes.txt', 'The node suite wrote this.'),
      purpose: 'assistants',
    });
    assert.match(made.id, /^file-[A-Za-z0-9]{22}$/);
    assert.equal(made.object, 'file');
    assert.equal(made.filename, 'notes.txt');
    assert.equal(made.bytes, Buffer.byteLength('The node suite wrote this.'));
    assert.deepEqual(await client.files.retrieve(made.id), made);
    const listed = idsOf(await collect(client.files.list({ purpose: 'assistants' })));
    assert.ok(listed.includes(made.id));
    const other = idsOf(await collect(client.files.list({ purpose: 'user_data' })));
    assert.ok(!other.includes(made.id));
    const deleted = await client.files.delete(made.id);
    assert.deepEqual(deleted, { id: made.id, object: 'file', deleted: true });
    await expectAPIError(client.files.retrieve(made.id), NotFoundError, {
      status: 404,
      code: null,
      param: 'id',
      message: `No such File object: ${made.id}`,
    });
  });
});

describe('vector stores', () => {
  test('create, retrieve, update, auto-paginated list, delete', async () => {
    const made = [];
    for (let n = 0; n < 5; n += 1) {
      made.push((await client.vectorStores.create({ name: `${tag} ${n}`, metadata: { n: `${n}` } })).id);
    }
    const first = await client.vectorStores.retrieve(made[0]);
    assert.equal(first.object, 'vector_store');
    assert.equal(first.name, `${tag} 0`);
    assert.deepEqual(first.file_counts, { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0 });
    const pages = await pagesOf(client.vectorStores.list({ limit: 2, order: 'asc' }));
    assert.ok(pages.length >= 3);
    const ascending = pages.flatMap((page) => idsOf(page.data)).filter((id) => made.includes(id));
    assert.deepEqual(ascending, made);
    const updated = await client.vectorStores.update(made[1], {
      name: `${tag} renamed`,
      expires_after: { anchor: 'last_active_at', days: 3 },
    });
    assert.equal(updated.name, `${tag} renamed`);
    assert.equal(updated.expires_at, updated.last_active_at + 3 * 86400);
    for (const id of made) {
      assert.deepEqual(await client.vectorStores.delete(id), {
        id,
        object: 'vector_store.deleted',
        deleted: true,
      });
    }
    await expectAPIError(client.vectorStores.retrieve(made[0]), NotFoundError, {
      status: 404,
      code: null,
      param: 'vector_store_id',
    });
  });

  test('uploadAndPoll, files.list with a status filter, search, file delete', async () => {
    const store = await client.vectorStores.create({ name: `${tag} search` });
    const done = await client.vectorStores.files.uploadAndPoll(
      store.id,
      await textFile('lighthouse.md', '# Lighthouse\n\nThe keeper lights the lamp at dusk.'),
      POLL,
    );
    assert.equal(done.status, 'completed');
    assert.equal(done.last_error, null);
    assert.equal(done.object, 'vector_store.file');
    assert.equal(done.vector_store_id, store.id);
    const failed = await client.vectorStores.files.uploadAndPoll(
      store.id,
      await textFile('empty.txt', '   '),
      POLL,
    );
    assert.equal(failed.status, 'failed');
    assert.equal(failed.last_error.code, 'invalid_file');
    const completed = await collect(client.vectorStores.files.list(store.id, { filter: 'completed' }));
    assert.deepEqual(idsOf(completed), [done.id]);

    const results = await collect(client.vectorStores.search(store.id, { query: 'keeper lamp' }));
    assert.equal(results.length, 1);
    assert.equal(results[0].file_id, done.id);
    assert.equal(results[0].filename, 'lighthouse.md');
    assert.equal(results[0].content[0].type, 'text');
    assert.match(results[0].content[0].text, /keeper lights the lamp/);
    assert.ok(results[0].score > 0 && results[0].score <= 1);

    const removed = await client.vectorStores.files.delete(done.id, { vector_store_id: store.id });
    assert.deepEqual(removed, { id: done.id, object: 'vector_store.file.deleted', deleted: true });
    assert.deepEqual(await collect(client.vectorStores.search(store.id, { query: 'keeper' })), []);
  });

  test('attributes, filters and file batches', async () => {
    const store = await client.vectorStores.create({ name: `${tag} batch` });
    const ids = [];
    for (const region of ['eu', 'us']) {
      const file = await client.files.create({
        file: await textFile(`${region}.txt`, `Opening hours of the ${region} office: nine to five.`),
        purpose: 'assistants',
      });
      ids.push(file.id);
    }
    const batch = await client.vectorStores.fileBatches.createAndPoll(
      store.id,
      { files: [{ file_id: ids[0], attributes: { region: 'eu' } }, { file_id: ids[1], attributes: { region: 'us' } }] },
      POLL,
    );
    assert.equal(batch.object, 'vector_store.files_batch');
    assert.equal(batch.status, 'completed');
    assert.equal(batch.file_counts.completed, 2);
    const inBatch = await collect(client.vectorStores.fileBatches.listFiles(batch.id, { vector_store_id: store.id }));
    assert.deepEqual(idsOf(inBatch).sort(), [...ids].sort());

    const eu = await collect(
      client.vectorStores.search(store.id, {
        query: 'opening hours',
        filters: { type: 'eq', key: 'region', value: 'eu' },
      }),
    );
    assert.deepEqual(eu.map((hit) => hit.file_id), [ids[0]]);
    assert.deepEqual(eu[0].attributes, { region: 'eu' });
    const either = await collect(
      client.vectorStores.search(store.id, {
        query: 'opening hours',
        filters: {
          type: 'or',
          filters: [
            { type: 'eq', key: 'region', value: 'eu' },
            { type: 'in', key: 'region', value: ['us'] },
          ],
        },
      }),
    );
    assert.deepEqual(either.map((hit) => hit.file_id).sort(), [...ids].sort());
  });

  test('bad input is a 400 and ids of other kinds a 404', async () => {
    const store = await client.vectorStores.create({ name: `${tag} errors` });
    await expectAPIError(
      client.vectorStores.search(store.id, { query: 'x', max_num_results: 51 }),
      BadRequestError,
      { status: 400, code: 'integer_above_max_value', param: 'max_num_results' },
    );
    const file = await client.files.create({ file: await textFile('a.txt', 'a'), purpose: 'assistants' });
    await expectAPIError(
      client.vectorStores.files.create(store.id, {
        file_id: file.id,
        chunking_strategy: { type: 'static', static: { max_chunk_size_tokens: 50, chunk_overlap_tokens: 0 } },
      }),
      BadRequestError,
      { status: 400, code: 'invalid_value', param: 'chunking_strategy.static.max_chunk_size_tokens' },
    );
    for (const foreign of [
      'cthr_68f0c0de0123456789abcdef0123456789abcdef01234567',
      'cksess_68f0c0de0123456789abcdef0123456789abcdef01234567',
    ]) {
      await expectAPIError(client.vectorStores.retrieve(foreign), NotFoundError, {
        status: 404,
        code: null,
        param: 'vector_store_id',
      });
      await expectAPIError(client.files.retrieve(foreign), NotFoundError, {
        status: 404,
        code: null,
        param: 'id',
      });
      await expectAPIError(
        client.vectorStores.files.retrieve(foreign, { vector_store_id: store.id }),
        NotFoundError,
        { status: 404, code: null, param: 'file_id' },
      );
    }
  });
});
