// Authentication and authorization of a real `skein up`: no token and wrong tokens get 401, a token
// without the route's scope gets 403, a revoked token gets 401 at once, tokens are stored hashed, failed
// authentications are rate-limited per address, and a non-loopback bind is refused without the flag.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { CloudClient, resolveCloudServerOptions } from '../../src/cloud/index.ts';
import {
  api,
  assertError,
  cli,
  fileCleanups,
  makeProject,
  type RunningServer,
  startServer,
} from './harness.ts';

const AUTH_FAILURE_LIMIT = 12;
const suite = fileCleanups();
let dir: string;
let server: RunningServer;

before(async () => {
  dir = await makeProject(suite);
  server = await startServer(suite, dir, '--auth-failure-limit', String(AUTH_FAILURE_LIMIT));
});

const SUBMIT = { module: 'tasks.ts', export: 'add', args: [1, 2] };

// The expiring token's test spends most of its time waiting for the expiry; the others take turns
// beside it, with tokens of their own.
describe('tokens and scopes', { concurrency: true }, () => {
  test('a token created to expire works until then and gets 401 saying it expired after; bad lifetimes are refused', async () => {
    const created = await cli(dir, [
      'token',
      'create',
      '--name',
      'brief',
      '--scope',
      'read',
      '--expires-in',
      // Seconds of slack: on a loaded machine the CLI alone can take a few seconds to start and exit.
      '10s',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout);
    assert.ok(token.expiresAt - token.createdAt === 10_000, `expires 10 s after creation: ${created.stdout}`);
    assert.equal((await api(server, token.token, 'GET', '/api/jobs')).status, 200);
    const listed = await cli(dir, ['token', 'list']);
    assert.match(
      listed.stdout,
      new RegExp(`^${token.id}\\s.*\\d{4}-\\d\\d-\\d\\dT`, 'm'),
      'the list shows when it expires',
    );
    // Bad lifetimes while the token lives: they need none of its time.
    for (const bad of ['0', '-5m', '2w', '11000d', 'soon']) {
      const answer = await cli(dir, [
        'token',
        'create',
        '--name',
        'bad',
        '--scope',
        'read',
        `--expires-in=${bad}`,
      ]);
      assert.equal(answer.code, 2, `--expires-in ${bad}: ${answer.stderr}`);
      assert.match(answer.stderr, /--expires-in must be a duration/);
    }
    for (const expiresIn of [0, 1.5, '60', 10 * 365 * 86_400 + 1]) {
      const answer = await api(server, server.token, 'POST', '/api/tokens', {
        name: 'bad',
        scopes: ['read'],
        expiresIn,
      });
      assertError(answer, 400, 'SKEIN_CLOUD_INVALID_REQUEST', `expiresIn ${expiresIn}`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, token.expiresAt - Date.now()) + 200));
    const refused = await api(server, token.token, 'GET', '/api/jobs');
    assertError(refused, 401, 'SKEIN_CLOUD_UNAUTHORIZED', 'expired');
    assert.match(refused.body.message, /expired at \d{4}-/);
    // A text one character off an expired token's is refused as unknown: expiry is told to its holder only.
    const forged = token.token.replace(/.$/, (last: string) => (last === 'A' ? 'B' : 'A'));
    assert.doesNotMatch((await api(server, forged, 'GET', '/api/jobs')).body.message, /expired/);
    assert.match((await cli(dir, ['token', 'list'])).stdout, new RegExp(`^${token.id}\\s.*expired`, 'm'));
  });

  describe('one after another', { concurrency: 1 }, () => {
    test('skein up saves the URL and admin token in .skein/credentials.json, readable by its owner only', async () => {
      const path = join(dir, '.skein/credentials.json');
      const saved = JSON.parse(await readFile(path, 'utf8'));
      assert.deepEqual(saved, { server: server.url, token: server.token });
      const { stat } = await import('node:fs/promises');
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal((await stat(join(dir, '.skein'))).mode & 0o077, 0, '.skein/ is private to its owner');
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    });

    test('a call without a token, with a wrong one or a malformed header gets 401 before its body is read', async () => {
      const none = await api(server, undefined, 'POST', '/api/jobs', SUBMIT);
      assertError(none, 401, 'SKEIN_CLOUD_UNAUTHORIZED', 'no token');
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="skein"');
      const forged = server.token.replace(/.$/, (last) => (last === 'A' ? 'B' : 'A'));
      assertError(
        await api(server, forged, 'GET', '/api/jobs'),
        401,
        'SKEIN_CLOUD_UNAUTHORIZED',
        'one character off',
      );
      assertError(
        await api(server, 'not-a-token', 'GET', '/api/jobs'),
        401,
        'SKEIN_CLOUD_UNAUTHORIZED',
        'garbage',
      );
      assertError(
        await api(server, undefined, 'GET', '/api/jobs', undefined, {
          authorization: `Basic ${server.token}`,
        }),
        401,
        'SKEIN_CLOUD_UNAUTHORIZED',
        'not a bearer scheme',
      );
      // A body that would be a 400 or 413 is never looked at without a valid token.
      assertError(
        await api(server, undefined, 'POST', '/api/jobs', '{oops'),
        401,
        'SKEIN_CLOUD_UNAUTHORIZED',
        'bad body',
      );
      assertError(
        await api(server, undefined, 'GET', '/api/nothing'),
        401,
        'SKEIN_CLOUD_UNAUTHORIZED',
        'unknown route',
      );
      assertError(
        await api(server, undefined, 'GET', '/api/openapi.json'),
        401,
        'SKEIN_CLOUD_UNAUTHORIZED',
        'openapi',
      );
      const cliAnswer = await cli(dir, ['ps', '--token', forged]);
      assert.equal(cliAnswer.code, 1);
      assert.match(cliAnswer.stderr, /\(SKEIN_CLOUD_UNAUTHORIZED\)\n$/);
    });

    test('a read token can read jobs but not submit, cancel or manage tokens (403); an invoke token can submit', async () => {
      const created = await cli(dir, ['token', 'create', '--name', 'dashboard', '--scope', 'read']);
      assert.equal(created.code, 0, created.stderr);
      const readToken = created.stdout.trim();
      assert.match(readToken, /^skein_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      assert.equal((await api(server, readToken, 'GET', '/api/jobs')).status, 200);
      assert.equal((await api(server, readToken, 'GET', '/api/openapi.json')).status, 200);
      const denied = await api(server, readToken, 'POST', '/api/jobs', SUBMIT);
      assertError(denied, 403, 'SKEIN_CLOUD_FORBIDDEN', 'read submits');
      assert.match(denied.body.message, /needs one of \[admin, invoke\]/);
      assertError(
        await api(server, readToken, 'POST', '/api/jobs/x/cancel'),
        403,
        'SKEIN_CLOUD_FORBIDDEN',
        'cancel',
      );
      assertError(
        await api(server, readToken, 'GET', '/api/tokens'),
        403,
        'SKEIN_CLOUD_FORBIDDEN',
        'list tokens',
      );
      const cliDenied = await cli(dir, ['submit', 'tasks.ts:add', '--args', '[1,2]', '--token', readToken]);
      assert.equal(cliDenied.code, 1);
      assert.match(cliDenied.stderr, /\(SKEIN_CLOUD_FORBIDDEN\)\n$/);

      const invoker = await new CloudClient({ server: server.url, token: server.token }).createToken('ci', [
        'invoke',
      ]);
      const submitted = await api(server, invoker.token, 'POST', '/api/jobs', SUBMIT);
      assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
      const job = await api(server, invoker.token, 'GET', `/api/jobs/${submitted.body.id}?wait=10000`);
      assert.equal(job.body.result, 3);
      assertError(
        await api(server, invoker.token, 'POST', '/api/tokens', { name: 'x', scopes: ['admin'] }),
        403,
        'SKEIN_CLOUD_FORBIDDEN',
        'invoke mints an admin token',
      );
    });

    test('an agent token may only act as its own agent: job, token, event and agent-list routes are 403', async () => {
      const makeAgentToken = async (name: string): Promise<string> => {
        const created = await api(server, server.token, 'POST', '/api/tokens', { name, scopes: ['agent'] });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        return created.body.token;
      };
      const agentToken = await makeAgentToken('agent one');
      const otherToken = await makeAgentToken('agent two');
      const forbidden: [string, string, unknown?][] = [
        ['GET', '/api/jobs'],
        ['POST', '/api/jobs', SUBMIT],
        ['GET', '/api/jobs/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'],
        ['POST', '/api/jobs/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/cancel'],
        ['GET', '/api/events'],
        ['GET', '/api/tokens'],
        ['POST', '/api/tokens', { name: 'minted', scopes: ['admin'] }],
        ['GET', '/api/agents'],
        ['GET', '/api/openapi.json'],
      ];
      for (const [method, path, body] of forbidden) {
        assertError(
          await api(server, agentToken, method, path, body),
          403,
          'SKEIN_CLOUD_FORBIDDEN',
          `${method} ${path}`,
        );
      }
      const registration = {
        name: 'a1',
        host: 'h1',
        cores: 2,
        memory: 1024,
        gpus: [],
        labels: { zone: 'a' },
        concurrency: 1,
      };
      assertError(
        await api(
          server,
          (await api(server, server.token, 'POST', '/api/tokens', { name: 'r', scopes: ['read'] })).body
            .token,
          'POST',
          '/api/agents',
          registration,
        ),
        403,
        'SKEIN_CLOUD_FORBIDDEN',
        'a read token registers no agent',
      );
      const registered = await api(server, agentToken, 'POST', '/api/agents', registration);
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
      const id = registered.body.id;
      assert.match(id, /^agent-[0-9a-f]{16}$/);
      assert.equal(
        (await api(server, agentToken, 'POST', `/api/agents/${id}/heartbeat`, { running: [] })).status,
        200,
      );
      // Another agent token cannot act as this agent: the agent is unknown to it.
      assertError(
        await api(server, otherToken, 'POST', `/api/agents/${id}/heartbeat`, { running: [] }),
        404,
        'SKEIN_CLOUD_AGENT_NOT_FOUND',
        "another token's agent",
      );
      assertError(
        await api(server, otherToken, 'POST', `/api/agents/${id}/claim`, {
          workerId: `${id}.1`,
          outcomes: [],
          claim: { queue: 'default', max: 10, tasks: ['tasks.ts#add'] },
        }),
        404,
        'SKEIN_CLOUD_AGENT_NOT_FOUND',
        "claiming for another token's agent",
      );
      // Its own agent, but a worker id that is not the agent's: refused before the store is touched.
      assertError(
        await api(server, agentToken, 'POST', `/api/agents/${id}/leases`, {
          workerId: 'someone-else.1',
          ids: [],
        }),
        403,
        'SKEIN_CLOUD_FORBIDDEN',
        'a worker id of another agent',
      );
      const claimed = await api(server, agentToken, 'POST', `/api/agents/${id}/claim`, {
        workerId: `${id}.1`,
        outcomes: [],
        claim: { queue: 'default', max: 0, tasks: [] },
      });
      assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
      assert.deepEqual(claimed.body, { settled: [], claimed: [] });
      const listed = await api(server, server.token, 'GET', '/api/agents');
      const agent = listed.body.agents.find((a: { id: string }) => a.id === id);
      assert.equal(agent.state, 'ready');
      assert.deepEqual(agent.labels, { zone: 'a' });
      assert.equal('tokenId' in agent, false, 'the listing does not show which token registered an agent');
    });

    test('a revoked token gets 401 on its next call; token list shows no secrets and the store keeps only hashes', async () => {
      const created = await cli(dir, [
        'token',
        'create',
        '--name',
        'short-lived',
        '--scope',
        'invoke',
        '--json',
      ]);
      const token = JSON.parse(created.stdout);
      assert.deepEqual(token.scopes, ['invoke']);
      assert.equal((await api(server, token.token, 'GET', '/api/jobs')).status, 200);

      const revoked = await cli(dir, ['token', 'revoke', token.id]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.equal(revoked.stdout, `token ${token.id} revoked\n`);
      assertError(
        await api(server, token.token, 'GET', '/api/jobs'),
        401,
        'SKEIN_CLOUD_UNAUTHORIZED',
        'revoked',
      );
      assertError(
        await api(server, server.token, 'DELETE', '/api/tokens/0123456789abcdef'),
        404,
        'SKEIN_CLOUD_TOKEN_NOT_FOUND',
      );

      const listed = JSON.parse((await cli(dir, ['token', 'list', '--json'])).stdout) as Record<
        string,
        unknown
      >[];
      const row = listed.find((entry) => entry.id === token.id);
      assert.ok(row !== undefined);
      assert.equal(typeof row.revokedAt, 'number');
      assert.ok(listed.every((entry) => !('token' in entry) && !('hash' in entry)));
      const human = await cli(dir, ['token', 'list']);
      assert.match(human.stdout, /^ID\s+NAME\s+TENANT\s+SCOPES\s+CREATED\s+REVOKED\s+EXPIRES$/m);
      assert.ok(!human.stdout.includes(server.token));

      const bytes = await readFile(join(dir, '.skein/cloud.db'));
      const wal = await readFile(join(dir, '.skein/cloud.db-wal')).catch(() => Buffer.alloc(0));
      // The secret is everything after skein_<16-character id>_: it may hold '_' itself (base64url), so
      // cutting at the last '_' could leave a few characters that occur in any file by chance.
      const secret = /^skein_[A-Za-z0-9]{16}_(.{43})$/.exec(token.token)?.[1];
      assert.ok(secret !== undefined, `a token has the documented shape: ${token.token}`);
      assert.ok(!bytes.includes(secret) && !wal.includes(secret), 'the token text is not stored');
    });

    test('bad options are refused before anything starts: a non-loopback host without --allow-remote, a bad or taken port', async () => {
      const open = await cli(dir, ['up', '--host', '0.0.0.0', '--port', '0']);
      assert.equal(open.code, 1);
      assert.match(
        open.stderr,
        /refusing to listen on "0\.0\.0\.0".*--allow-remote.*\(SKEIN_CLOUD_INSECURE_BIND\)/,
      );
      const taken = await cli(dir, ['up', '--port', new URL(server.url).port]);
      assert.equal(taken.code, 1);
      assert.match(taken.stderr, /^skein up: \d+ is in use \(is skein up already running\?\)/);
      const port = await cli(dir, ['up', '--port', '70000']);
      assert.equal(port.code, 2);
      assert.match(port.stderr, /--port must be an integer from 0 to 65535/);
      assert.throws(() => resolveCloudServerOptions({ port: 70_000 }), {
        code: 'SKEIN_CLOUD_INVALID_OPTION',
      });
      assert.throws(() => resolveCloudServerOptions({ host: '10.1.2.3' }), {
        code: 'SKEIN_CLOUD_INSECURE_BIND',
      });
      assert.equal(resolveCloudServerOptions({ host: '10.1.2.3', allowRemote: true }).host, '10.1.2.3');
      assert.throws(() => new CloudClient({ server: 'ftp://x', token: 't' }), {
        code: 'SKEIN_CLOUD_INVALID_OPTION',
      });
    });
  });
});

// Last: it blocks this address for the rest of the window.
test('an address with too many failed authentications gets 429 with Retry-After, even with a valid token', async () => {
  let answer = await api(server, 'wrong', 'GET', '/api/jobs');
  for (let i = 0; i < AUTH_FAILURE_LIMIT && answer.status === 401; i++) {
    answer = await api(server, 'wrong', 'GET', '/api/jobs');
  }
  assertError(answer, 429, 'SKEIN_CLOUD_RATE_LIMITED', 'after the limit');
  assert.ok(Number(answer.headers.get('retry-after')) >= 1);
  assertError(
    await api(server, server.token, 'GET', '/api/jobs'),
    429,
    'SKEIN_CLOUD_RATE_LIMITED',
    'valid token',
  );
});
