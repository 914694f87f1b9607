// Sockets: a TCP client sends a file to a server (node:net, the transport under Skein's MPI over
// TCP). The protocol frames the stream: a 4-byte name length, the name, an 8-byte size, then the
// bytes; the server answers with the SHA-256 of what it stored, which the client checks.
//   node examples/distributed/socket-file-transfer.ts [--big]     (1 MiB; --big: 64 MiB)

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';

const SIZE_BYTES = process.argv.includes('--big') ? 64 * 1024 * 1024 : 1024 * 1024;

/** Reads exactly `n` bytes from the socket (TCP has no message boundaries: a read may give any part). */
async function readExactly(socket: Socket, n: number, pending: Buffer[]): Promise<Buffer> {
  let have = pending.reduce((sum, b) => sum + b.length, 0);
  while (have < n) {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) {
      await once(socket, 'readable');
      continue;
    }
    pending.push(chunk);
    have += chunk.length;
  }
  const all = Buffer.concat(pending.splice(0));
  if (all.length > n) pending.push(all.subarray(n));
  return all.subarray(0, n);
}

/** The server: receives one file per connection into `dir`, answers its SHA-256 in hex. */
function fileServer(dir: string) {
  return createServer(async (socket) => {
    try {
      const pending: Buffer[] = [];
      const nameLength = (await readExactly(socket, 4, pending)).readUInt32BE(0);
      const name = basename((await readExactly(socket, nameLength, pending)).toString('utf8')); // no ../
      let left = Number((await readExactly(socket, 8, pending)).readBigUInt64BE(0));
      const out = createWriteStream(join(dir, name));
      const hash = createHash('sha256');
      while (left > 0) {
        const chunk = await readExactly(socket, Math.min(left, 64 * 1024), pending);
        hash.update(chunk);
        if (!out.write(chunk)) await once(out, 'drain');
        left -= chunk.length;
      }
      out.end();
      await once(out, 'finish');
      socket.end(hash.digest('hex'));
    } catch (error) {
      socket.destroy(error as Error);
    }
  });
}

/** The client: sends `path`, returns the server's digest. */
async function sendFile(port: number, path: string): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  const name = Buffer.from(basename(path), 'utf8');
  const header = Buffer.alloc(4 + name.length + 8);
  header.writeUInt32BE(name.length, 0);
  name.copy(header, 4);
  header.writeBigUInt64BE(BigInt((await stat(path)).size), 4 + name.length);
  socket.write(header);
  const answer: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => answer.push(chunk));
  const ended = once(socket, 'end');
  await pipeline(createReadStream(path), socket, { end: false });
  await ended;
  socket.destroy();
  return Buffer.concat(answer).toString('utf8');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skein-cookbook-net-'));
  try {
    const source = join(dir, 'payload.bin');
    const content = randomBytes(SIZE_BYTES);
    await writeFile(source, content);
    const received = join(dir, 'received');
    await mkdir(received);
    await using server = fileServer(received).listen(0, '127.0.0.1'); // port 0: any free port
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const digest = await sendFile(port, source);
    const expected = createHash('sha256').update(content).digest('hex');
    const size = (await stat(join(received, 'payload.bin'))).size;
    console.log(`sent ${SIZE_BYTES} bytes over TCP (127.0.0.1:${port}); the server stored ${size} bytes`);
    console.log(`sha256 match: ${digest === expected}`);
    if (digest !== expected || size !== SIZE_BYTES) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
