// The baseline of bench/cloud.ts: a bare Fastify app on 127.0.0.1 with one route, POST /fn/echo, that
// answers its first argument as JSON in the server's own thread. Prints {"url"} as its first line and
// runs until SIGTERM.

import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/fn/echo', async (request) => (request.body as { args: unknown[] }).args[0] ?? null);
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
if (address === null || typeof address === 'string') throw new Error('the bare server has no TCP port');
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
