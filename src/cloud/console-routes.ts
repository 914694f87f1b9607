// Serves the built web console (web/dist, made by `npm run build:web`, which `npm install` runs as
// `prepare`) from the API server: every GET that no API route takes. Files are read once, at start, and
// compressed (brotli, gzip) at their first request for that encoding, then kept: a server start costs
// no compression (about 70 ms of brotli at quality 11). Hashed assets are cached for a year, the page
// is revalidated (ETag).
// Nothing is fetched from a network. The pages are public (the console asks for a token itself); paths
// under /api/ and /fn/ stay the API's, answered 404 as before.

import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { errorResponse } from './api/http-errors.ts';

/** Where the built console is: web/dist of this package. */
export const CONSOLE_DIST_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));
const CONSOLE_SOURCE_DIR = fileURLToPath(new URL('../../web/src/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);
/** Smaller files are sent as they are: compression would save less than its headers cost. */
const MIN_COMPRESS_BYTES = 512;
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';
/**
 * The console's pages: scripts and styles of this origin only, calls to this origin only, no frames.
 * Inline style attributes are allowed (the charts set widths and positions).
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export interface ConsoleFile {
  readonly type: string;
  readonly etag: string;
  readonly cacheControl: string;
  readonly identity: Buffer;
  /** Whether it is sent compressed (a text type, large enough). */
  readonly compressible: boolean;
  /** Its compressed forms, made when first asked for (encodedBody). */
  readonly encoded: Map<'br' | 'gzip', Buffer>;
}

/** The file's bytes in `encoding`: compressed at the first call, then kept; as is when not compressible. */
export function encodedBody(file: ConsoleFile, encoding: 'br' | 'gzip' | undefined): Buffer {
  if (encoding === undefined || !file.compressible) return file.identity;
  let body = file.encoded.get(encoding);
  if (body === undefined) {
    body =
      encoding === 'br'
        ? brotliCompressSync(file.identity, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } })
        : gzipSync(file.identity, { level: 9 });
    file.encoded.set(encoding, body);
  }
  return body;
}

/** The built console in memory: files by URL path. */
export interface ConsoleBundle {
  readonly files: ReadonlyMap<string, ConsoleFile>;
  /** When index.html was written (epoch ms). */
  readonly builtAt: number;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Reads web/dist (or `dir`); undefined when it has no index.html (not built). */
export async function loadConsole(dir: string = CONSOLE_DIST_DIR): Promise<ConsoleBundle | undefined> {
  let index: Awaited<ReturnType<typeof stat>>;
  try {
    index = await stat(join(dir, 'index.html'));
  } catch {
    return undefined;
  }
  const files = new Map<string, ConsoleFile>();
  for (const path of await walk(dir)) {
    const urlPath = `/${relative(dir, path).split(sep).join('/')}`;
    const ext = extname(path);
    const identity = await readFile(path);
    files.set(urlPath, {
      type: TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`,
      // Vite names every asset by its content hash: a changed file is a new URL.
      cacheControl: urlPath.startsWith('/assets/') ? IMMUTABLE : REVALIDATE,
      identity,
      compressible: COMPRESSIBLE.has(ext) && identity.length >= MIN_COMPRESS_BYTES,
      encoded: new Map(),
    });
  }
  return { files, builtAt: index.mtimeMs };
}

/** The newest modification time under web/src, or undefined when the sources are not there (a package install). */
export async function consoleSourcesChangedAt(dir: string = CONSOLE_SOURCE_DIR): Promise<number | undefined> {
  try {
    let newest = 0;
    for (const path of await walk(dir)) newest = Math.max(newest, (await stat(path)).mtimeMs);
    return newest;
  } catch {
    return undefined;
  }
}

/** The encoding to send: brotli, then gzip, when the client takes it (q=0 refuses). */
export function pickEncoding(header: string | undefined): 'br' | 'gzip' | undefined {
  if (header === undefined) return undefined;
  const accepted = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    accepted.set(name.trim().toLowerCase(), q === undefined ? 1 : Number(q.slice(2)) || 0);
  }
  const ok = (name: string) => (accepted.get(name) ?? accepted.get('*') ?? 0) > 0;
  if (ok('br')) return 'br';
  if (ok('gzip')) return 'gzip';
  return undefined;
}

function isApiPath(url: string): boolean {
  return url === '/api' || url.startsWith('/api/') || url === '/fn' || url.startsWith('/fn/');
}

/** Whether a request is for the console's public files (the server's auth hook lets these through). */
export function isConsoleRequest(request: FastifyRequest): boolean {
  return (
    (request.routeOptions.config as { console?: boolean } | undefined)?.console === true &&
    !isApiPath(request.url)
  );
}

const NOT_BUILT_PAGE = `<!doctype html><meta charset="utf-8"><title>Skein console not built</title>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The Skein console is not built</h1>
<p>The API works (<code>/api/openapi.json</code>); the web console's files (<code>web/dist</code>) are missing.
In the Skein repository run <code>npm run build:web</code> (or <code>npm install</code>, which builds it), then reload.</p>`;

function send(request: FastifyRequest, reply: FastifyReply, file: ConsoleFile): FastifyReply {
  reply.header('cache-control', file.cacheControl);
  reply.header('etag', file.etag);
  reply.header('vary', 'accept-encoding');
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  if (file.type.startsWith('text/html')) {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-frame-options', 'DENY');
  }
  reply.type(file.type);
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  const encoding = pickEncoding(request.headers['accept-encoding']);
  const body = encodedBody(file, encoding);
  if (body !== file.identity) reply.header('content-encoding', encoding);
  return reply.send(body);
}

/**
 * Registers the console on a Fastify app: `GET /` and every GET no API route takes. A path that is
 * not a file gets index.html (the console routes in the page); /api/ and /fn/ paths get the API's 404.
 * `warn` hears, at the console's first request, that web/dist is missing or older than web/src.
 */
export function registerConsole(
  app: FastifyInstance,
  bundle: ConsoleBundle | undefined,
  warn: (message: string) => void,
  notFound: (url: string) => ReturnType<typeof errorResponse>,
): void {
  // Said once, when the console is first opened (a server nobody opens it on says nothing).
  let checked = false;
  const checkBuild = async (): Promise<void> => {
    if (checked) return;
    checked = true;
    if (bundle === undefined) {
      warn('the web console is not built (web/dist is missing): run npm run build:web');
      return;
    }
    const changedAt = await consoleSourcesChangedAt();
    if (changedAt !== undefined && changedAt > bundle.builtAt) {
      warn('the web console in web/dist is older than web/src: run npm run build:web');
    }
  };
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    let path: string;
    try {
      path = decodeURIComponent(request.url.split('?')[0] ?? '/');
    } catch {
      return reply.code(400).type('text/plain; charset=utf-8').send('malformed path\n');
    }
    if (isApiPath(path)) return reply.code(404).send(notFound(request.url));
    await checkBuild();
    if (bundle === undefined) {
      return reply
        .code(503)
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(NOT_BUILT_PAGE);
    }
    const file = bundle.files.get(path);
    if (file !== undefined) return send(request, reply, file);
    // A missing hashed asset is a 404 (an old page asking for a file of an older build), not the page.
    if (path.startsWith('/assets/') || extname(path) !== '') {
      return reply.code(404).type('text/plain; charset=utf-8').send(`no console file ${path}\n`);
    }
    return send(request, reply, bundle.files.get('/index.html')!);
  };
  app.get('/', { config: { console: true } }, handler);
  app.get('/*', { config: { console: true } }, handler);
}
