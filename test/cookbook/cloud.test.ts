// Chapter 7's recipes against a real `skein up` child (test/cloud/harness.ts): a job on the local
// cloud, a deploy and two invocations, and jobs spread over a second agent (`skein worker`). The
// Dockerfile and docker-compose.yml are documented only: no Docker engine runs here.

import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeProject, startServer, startWorker, waitForAgents } from '../cloud/harness.ts';
import { ROOT, runRecipe } from './run-recipe.ts';

test('the cloud recipes run against skein up, then with a second agent', async (t) => {
  const dir = await makeProject(t);
  await copyFile(join(ROOT, 'examples/cloud/functions.ts'), join(dir, 'functions.ts'));
  const server = await startServer(t, dir);
  // The recipes find the server as a reader's do: in .skein/credentials.json of the directory they run in.
  const inProject = { cwd: dir };

  const local = await runRecipe('cloud/local-cloud.ts', ['--module', 'functions.ts'], inProject);
  assert.equal(local.code, 0, local.stderr);
  assert.deepEqual(local.lines, [
    `cloud at ${server.url}: the local agent and 0 registered agent(s)`,
    'job functions.ts:wordCount ended succeeded: {"to":2,"be":2,"or":1,"not":1}',
  ]);

  const deployed = await runRecipe('cloud/deploy-invoke.ts', [], inProject);
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.match(deployed.lines[0]!, /^deployed bundle [0-9a-f]{12}: cookbook\.whereAmI, cookbook\.wordCount$/);
  assert.deepEqual(deployed.lines.slice(1), [
    'invoke cookbook.wordCount: {"the":2,"cat":1,"and":1,"hat":1}',
    'invoke cookbook.wordCount as job: succeeded {"a":2,"b":1}',
  ]);

  const worker = await startWorker(t, dir, server.url, server.token);
  await waitForAgents(
    server,
    server.token,
    (agents) => agents.some((a) => a.id === worker.id && a.state !== 'lost'),
    'the worker registered',
  );
  const scaled = await runRecipe(
    'cloud/scale-out.ts',
    // 1 s jobs: with 300 ms ones, a loaded CI machine once let the server's own agent finish all 8
    // before the second agent (another process, woken through its news stream) claimed any.
    ['--module', 'functions.ts', '--jobs', '8', '--job-ms', '1000'],
    inProject,
  );
  assert.equal(scaled.code, 0, scaled.stderr);
  assert.equal(scaled.lines[0], 'the local agent and 1 registered agent(s) live');
  const m = scaled.lines[1]!.match(/^8 jobs ran in (\d) processes \((.*)\)$/);
  assert.ok(m !== null, scaled.lines.join('\n'));
  const perProcess = new Map(
    m[2]!.split(', ').map(
      (part) =>
        part
          .match(/^pid (\d+): (\d+)$/)!
          .slice(1)
          .map(Number) as [number, number],
    ),
  );
  assert.equal(
    [...perProcess.values()].reduce((a, b) => a + b, 0),
    8,
  );
  // The second agent took part: at least one job ran in the worker's process, not only in the server's.
  assert.ok(perProcess.has(worker.pid), `the worker (pid ${worker.pid}) ran none: ${m[2]}`);
  assert.ok(perProcess.has(server.child.pid!), `the local agent (pid ${server.child.pid}) ran none: ${m[2]}`);

  assert.equal(await worker.stop(), 0);
  assert.equal(await server.stop(), 0);
});
