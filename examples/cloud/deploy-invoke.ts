// Deploy and invoke a function: bundle functions.ts (esbuild, as `skein deploy` does), upload it,
// and call each export over HTTP (`POST /fn/<name>`): once synchronously, once as a job. Deploying the
// same bundle again is a no-op (bundles are named by their SHA-256).
//   npx skein up                                 (terminal 1)
//   node examples/cloud/deploy-invoke.ts         (terminal 2, same directory)

import { fileURLToPath } from 'node:url';
import { bundleModule, CloudClient } from '../../src/cloud/index.ts';

async function main(): Promise<void> {
  const client = await CloudClient.connect();
  const bundle = await bundleModule(fileURLToPath(new URL('functions.ts', import.meta.url)));
  const deployed = await client.deploy({ hash: bundle.hash, bundle: bundle.source, name: 'cookbook' });
  console.log(
    `deployed bundle ${deployed.hash.slice(0, 12)}: ${deployed.functions.map((f) => f.name).join(', ')}`,
  );

  const fn = deployed.functions.find((f) => f.export === 'wordCount')!.name;
  const counts = await client.invoke(fn, ['the cat and the hat'], { signal: AbortSignal.timeout(30_000) });
  console.log(`invoke ${fn}: ${JSON.stringify(counts)}`);

  const { id } = await client.invokeAsync(fn, ['a b a'], { signal: AbortSignal.timeout(30_000) });
  const job = await client.job(id, { wait: 30_000, signal: AbortSignal.timeout(40_000) });
  console.log(`invoke ${fn} as job: ${job.state} ${JSON.stringify(job.result)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
