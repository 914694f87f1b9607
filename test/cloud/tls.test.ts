// HTTPS, for real: `skein up --tls-cert --tls-key` with a self-signed test certificate
// (test/fixtures/tls/, made for 127.0.0.1 and localhost; never use it elsewhere). The CLI and a remote
// agent reach it when they trust the certificate (NODE_EXTRA_CA_CERTS) and refuse it, saying why, when
// they do not; plain HTTP gets no answer from the TLS port; TLS lets the server bind beyond loopback
// without --allow-remote, and a certificate without its key, or with another key, is an option error.

import assert from 'node:assert/strict';
import { copyFile, readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveCloudServerOptions } from '../../src/cloud/options.ts';
import {
  cli,
  fileCleanups,
  makeProject,
  ROOT,
  type RunningServer,
  startServer,
  startWorker,
} from './harness.ts';

const CERT = join(ROOT, 'test/fixtures/tls/cert.pem');
const KEY = join(ROOT, 'test/fixtures/tls/key.pem');
const OTHER_KEY = join(ROOT, 'test/fixtures/tls/other-key.pem');

// Read by each child Node at its start: the CLI and agent processes trust the test certificate.
process.env.NODE_EXTRA_CA_CERTS = CERT;

const suite = fileCleanups();
let dir: string;
let server: RunningServer;

before(async () => {
  dir = await makeProject(suite);
  await copyFile(join(ROOT, 'test/fixtures/cloud-agent-fns.ts'), join(dir, 'agent-fns.ts'));
  server = await startServer(suite, dir, '--tls-cert', CERT, '--tls-key', KEY, '--no-local-agent');
});

/** GET `path` over HTTPS trusting only `ca`: the status and JSON body. */
function httpsGet(
  url: string,
  path: string,
  token: string,
  ca: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('skein up --tls-cert --tls-key serves the API over HTTPS, and the URL it prints says so', async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const answer = await httpsGet(server.url, '/api/agents', server.token, await readFile(CERT, 'utf8'));
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
});

test('plain HTTP to the TLS port gets no API answer', async () => {
  const plain = server.url.replace('https://', 'http://');
  const outcome = await fetch(`${plain}/api/agents`, { signal: AbortSignal.timeout(10_000) }).then(
    (response) => response.status,
    (error: unknown) => error,
  );
  // Node answers a plain request on a TLS socket with nothing an HTTP client accepts (or a 400).
  assert.ok(outcome instanceof Error || outcome === 400, `plain HTTP got ${String(outcome)}`);
});

test('the CLI reaches it when it trusts the certificate, and says what to do when it does not', async () => {
  const trusted = await cli(dir, ['agents', '--json']);
  assert.equal(trusted.code, 0, trusted.stderr);
  const untrusted = await cli(dir, ['agents'], { NODE_EXTRA_CA_CERTS: '' });
  assert.notEqual(untrusted.code, 0);
  assert.match(untrusted.stderr, /SKEIN_CLOUD_UNREACHABLE|cannot reach/);
  assert.match(untrusted.stderr, /NODE_EXTRA_CA_CERTS/);
});

test('a remote agent runs calls over HTTPS', async () => {
  const deployed = await cli(dir, ['deploy', 'agent-fns.ts', '--json']);
  assert.equal(deployed.code, 0, deployed.stderr);
  const created = await cli(dir, ['token', 'create', '--name', 'tls-agent', '--scope', 'agent']);
  assert.equal(created.code, 0, created.stderr);
  const home = await makeProject(suite);
  const worker = await startWorker(suite, home, server.url, created.stdout.trim());
  const ca = await readFile(CERT, 'utf8');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const listed = (await httpsGet(server.url, '/api/agents', server.token, ca)).body as {
      agents: { id: string; state: string }[];
    };
    if (listed.agents.some((agent) => agent.id === worker.id && agent.state === 'ready')) break;
    assert.ok(Date.now() < deadline, `the agent is not listed ready: ${JSON.stringify(listed)}`);
    await sleep(50);
  }
  const invoked = await cli(dir, ['invoke', 'where', '--args', '[0]', '--json']);
  assert.equal(invoked.code, 0, invoked.stderr);
  assert.equal(
    JSON.parse(invoked.stdout),
    worker.pid,
    'the call ran on the agent, which reached the server over HTTPS',
  );
});

test('TLS lets the server listen beyond loopback without --allow-remote; a half or mismatched pair is refused', () => {
  const resolved = resolveCloudServerOptions({ host: '0.0.0.0', tlsCert: CERT, tlsKey: KEY });
  assert.ok((resolved.tls?.cert.length ?? 0) > 0 && (resolved.tls?.key.length ?? 0) > 0);
  assert.throws(() => resolveCloudServerOptions({ host: '0.0.0.0' }), { code: 'SKEIN_CLOUD_INSECURE_BIND' });
  assert.throws(() => resolveCloudServerOptions({ tlsCert: CERT }), {
    code: 'SKEIN_CLOUD_INVALID_OPTION',
    message: /tlsKey.*--tls-key/,
  });
  assert.throws(() => resolveCloudServerOptions({ tlsCert: CERT, tlsKey: OTHER_KEY }), {
    code: 'SKEIN_CLOUD_INVALID_OPTION',
    message: /not a usable certificate and private key/,
  });
  assert.throws(() => resolveCloudServerOptions({ tlsCert: KEY, tlsKey: KEY }), {
    code: 'SKEIN_CLOUD_INVALID_OPTION',
    message: /no PEM CERTIFICATE/,
  });
  assert.throws(() => resolveCloudServerOptions({ tlsCert: join(ROOT, 'no/such.pem'), tlsKey: KEY }), {
    code: 'SKEIN_CLOUD_INVALID_OPTION',
    message: /cannot read/,
  });
});
