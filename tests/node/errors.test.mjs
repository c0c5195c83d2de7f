// Every failure surfaces as the SDK's matching error class, with the OpenAI error envelope's
// status, type, code and param, and a request id (hosted-api.md §1.1, §1.4, §3, §6).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { AuthenticationError, BadRequestError, NotFoundError } from 'openai';

import { expectAPIError, makeClient, seed } from './harness.mjs';

const client = makeClient();
const { sessions, threads } = client.beta.chatkit;
const WORKFLOW_ID = seed.workflow.id;
const ITEM_THREAD = seed.item_thread.id;
const USER = seed.users[0].user;
const UNKNOWN_THREAD = seed.unknown.thread_id;
const UNKNOWN_SESSION = seed.unknown.session_id;

describe('sessions.create', () => {
  test('missing user: 400 missing_required_parameter', async () => {
    await expectAPIError(sessions.create({ workflow: { id: WORKFLOW_ID } }), BadRequestError, {
      status: 400,
      code: 'missing_required_parameter',
      param: 'user',
      message: "Missing required parameter: 'user'.",
    });
  });

  test('missing workflow: 400 missing_required_parameter', async () => {
    await expectAPIError(sessions.create({ user: 'someone' }), BadRequestError, {
      status: 400,
      code: 'missing_required_parameter',
      param: 'workflow',
      message: "Missing required parameter: 'workflow'.",
    });
  });

  test('unknown workflow: 404 with no code or param', async () => {
    const id = 'wf_0000000000000000000000000000000000000000000000ff';
    await expectAPIError(sessions.create({ user: 'someone', workflow: { id } }), NotFoundError, {
      status: 404,
      code: null,
      param: null,
      message: `Workflow with id '${id}' not found.`,
    });
  });

  test('unknown version of a known workflow: 404', async () => {
    await expectAPIError(
      sessions.create({ user: 'someone', workflow: { id: WORKFLOW_ID, version: '999' } }),
      NotFoundError,
      { status: 404, code: null, param: null },
    );
  });

  test('expires_after.seconds above 600: 400 integer_above_max_value', async () => {
    await expectAPIError(
      sessions.create({
        user: 'someone',
        workflow: { id: WORKFLOW_ID },
        expires_after: { anchor: 'created_at', seconds: 601 },
      }),
      BadRequestError,
      { status: 400, code: 'integer_above_max_value', param: 'expires_after.seconds' },
    );
  });
});

describe('sessions.cancel', () => {
  test('an id without the cksess prefix: 400 invalid_value', async () => {
    await expectAPIError(sessions.cancel('sess_123'), BadRequestError, {
      status: 400,
      code: 'invalid_value',
      param: 'session_id',
      message: "Invalid 'session_id': 'sess_123'. Expected an ID that begins with 'cksess'.",
    });
  });

  test('an unknown session: 404', async () => {
    await expectAPIError(sessions.cancel(UNKNOWN_SESSION), NotFoundError, {
      status: 404,
      code: null,
      param: 'session_id',
    });
  });
});

describe('thread ids', () => {
  const badPrefix = {
    status: 400,
    code: 'invalid_value',
    param: 'thread_id',
    message: "Invalid 'thread_id': 'thread_123'. Expected an ID that begins with 'cthr'.",
  };
  const notFound = { status: 404, code: null, param: 'thread_id' };

  test('an id without the cthr prefix: 400 invalid_value on every thread call', async () => {
    await expectAPIError(threads.retrieve('thread_123'), BadRequestError, badPrefix);
    await expectAPIError(threads.delete('thread_123'), BadRequestError, badPrefix);
    await expectAPIError(threads.listItems('thread_123'), BadRequestError, badPrefix);
  });

  test('an unknown thread: 404 on every thread call', async () => {
    await expectAPIError(threads.retrieve(UNKNOWN_THREAD), NotFoundError, notFound);
    await expectAPIError(threads.delete(UNKNOWN_THREAD), NotFoundError, notFound);
    await expectAPIError(threads.listItems(UNKNOWN_THREAD), NotFoundError, notFound);
  });
});

describe('list parameters', () => {
  const lists = {
    'threads.list': (query) => threads.list(query),
    'threads.listItems': (query) => threads.listItems(ITEM_THREAD, query),
  };

  for (const [name, list] of Object.entries(lists)) {
    test(`${name}: limit 101 is 400 integer_above_max_value`, async () => {
      await expectAPIError(list({ limit: 101 }), BadRequestError, {
        status: 400,
        code: 'integer_above_max_value',
        param: 'limit',
      });
    });

    test(`${name}: limit -1 is 400 integer_below_min_value`, async () => {
      await expectAPIError(list({ limit: -1 }), BadRequestError, {
        status: 400,
        code: 'integer_below_min_value',
        param: 'limit',
      });
    });

    test(`${name}: limit 100 is accepted`, async () => {
      const page = await list({ limit: 100 });
      assert.ok(page.data.length > 0);
    });

    test(`${name}: an unsupported order is 400 invalid_value`, async () => {
      await expectAPIError(list({ order: 'sideways' }), BadRequestError, {
        status: 400,
        code: 'invalid_value',
        param: 'order',
      });
    });

    test(`${name}: a cursor that is not in the list is 400 invalid_value`, async () => {
      for (const param of ['after', 'before']) {
        await expectAPIError(list({ [param]: UNKNOWN_THREAD }), BadRequestError, {
          status: 400,
          code: 'invalid_value',
          param,
        });
      }
    });
  }

  test('threads.list: a user of 513 characters is 400 string_above_max_length', async () => {
    await expectAPIError(threads.list({ user: 'u'.repeat(513) }), BadRequestError, {
      status: 400,
      code: 'string_above_max_length',
      param: 'user',
    });
  });
});

describe('authentication', () => {
  const badKey = makeClient({ apiKey: 'sk-kh-not-a-real-key-0000000000000000' });
  const invalidKey = { status: 401, code: 'invalid_api_key', param: null };

  test('a wrong API key is 401 invalid_api_key on every endpoint', async () => {
    // Thunks: the SDK sends a request as soon as the call is made.
    const calls = [
      () => badKey.beta.chatkit.sessions.create({ user: 'someone', workflow: { id: WORKFLOW_ID } }),
      () => badKey.beta.chatkit.sessions.cancel(UNKNOWN_SESSION),
      () => badKey.beta.chatkit.threads.list({ user: USER }),
      () => badKey.beta.chatkit.threads.retrieve(ITEM_THREAD),
      () => badKey.beta.chatkit.threads.delete(ITEM_THREAD),
      () => badKey.beta.chatkit.threads.listItems(ITEM_THREAD),
    ];
    for (const call of calls) {
      const error = await expectAPIError(call(), AuthenticationError, invalidKey);
      assert.match(error.headers.get('www-authenticate') ?? '', /^Bearer /);
      assert.ok(!error.error.message.includes('not-a-real-key-0000'), 'the key is not echoed');
    }
    // The item thread must have survived the unauthenticated delete.
    assert.equal((await threads.retrieve(ITEM_THREAD)).id, ITEM_THREAD);
  });

  test('authentication is checked before the body: a bad key with a bad body is 401', async () => {
    await expectAPIError(
      badKey.beta.chatkit.sessions.create({ workflow: { id: WORKFLOW_ID } }),
      AuthenticationError,
      invalidKey,
    );
  });

  test('authentication is checked before the id: a bad key with a bad id is 401', async () => {
    await expectAPIError(
      badKey.beta.chatkit.threads.retrieve('thread_123'),
      AuthenticationError,
      invalidKey,
    );
  });
});

describe('beta header', () => {
  test('a request without OpenAI-Beta: chatkit_beta=v1 is 400 invalid_beta', async () => {
    const options = { headers: { 'OpenAI-Beta': null } };
    const invalidBeta = { status: 400, code: 'invalid_beta', param: null, message: /OpenAI-Beta/ };
    await expectAPIError(
      sessions.create({ user: 'someone', workflow: { id: WORKFLOW_ID } }, options),
      BadRequestError,
      invalidBeta,
    );
    await expectAPIError(threads.list({ user: USER }, options), BadRequestError, invalidBeta);
    await expectAPIError(threads.retrieve(ITEM_THREAD, options), BadRequestError, invalidBeta);
  });
});
