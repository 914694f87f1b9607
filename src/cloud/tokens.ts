// API tokens: `skein_<id>_<secret>` with 256 random bits of secret. The store keeps the id and the
// SHA-256 of the whole text, never the text; a check finds the row by id and compares hashes in constant
// time. A fast hash is enough here because the secret is random, not a password (docs/security.md).

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SkeinError } from '../errors.ts';
import type { CloudStore, StoredToken, TokenRecord, TokenScope } from './cloud-store.ts';
import { DEFAULT_TENANT } from './tenants.ts';

const TOKEN_PATTERN = /^skein_([A-Za-z0-9]{16})_([A-Za-z0-9_-]{43})$/;
const SECRET_BYTES = 32;

export function hashToken(text: string): Uint8Array {
  return createHash('sha256').update(text).digest();
}

function newTokenId(): string {
  // 16 characters of [A-Za-z0-9]: hex of 8 random bytes is enough to be unique and stays URL-safe.
  return randomBytes(8).toString('hex');
}

/** A token just made: its text is shown once and never stored. */
export interface CreatedToken extends TokenRecord {
  readonly token: string;
}

/**
 * Makes and stores a token with these scopes for a tenant (the caller checked the name: tenants.ts),
 * accepted until `expiresAt` (epoch ms; null: until revoked).
 */
export function createToken(
  store: CloudStore,
  name: string,
  scopes: readonly TokenScope[],
  tenant: string = DEFAULT_TENANT,
  now = Date.now(),
  expiresAt: number | null = null,
): CreatedToken {
  const id = newTokenId();
  const token = `skein_${id}_${randomBytes(SECRET_BYTES).toString('base64url')}`;
  const unique = Object.freeze([...new Set(scopes)]);
  const record: StoredToken = {
    id,
    name,
    scopes: unique,
    tenant,
    createdAt: now,
    revokedAt: null,
    expiresAt,
    hash: hashToken(token),
  };
  store.insertToken(record);
  return Object.freeze({ ...tokenView(record), token });
}

/**
 * The text that last passed the hash check against a stored record, per record object. The store
 * hands out one frozen record per token until it changes (a revoke, or another process's write), so a
 * request with the same token skips the SHA-256 (a few µs) and compares the texts in constant time.
 */
const verifiedTexts = new WeakMap<StoredToken, Buffer>();

/** The stored token the text stands for, or undefined for a malformed, unknown, revoked or expired one. */
export function verifyToken(store: CloudStore, text: string, now = Date.now()): StoredToken | undefined {
  const stored = genuineToken(store, text);
  return stored === undefined || isExpired(stored, now) ? undefined : stored;
}

/**
 * When the text is a genuine, unrevoked token that has expired: its expiry (epoch ms), for the refusal's
 * message; else undefined. Only the token's holder learns this: a forged text is not genuine.
 */
export function expiredAt(store: CloudStore, text: string, now = Date.now()): number | undefined {
  const stored = genuineToken(store, text);
  return stored !== undefined && isExpired(stored, now) ? (stored.expiresAt ?? undefined) : undefined;
}

function isExpired(token: TokenRecord, now: number): boolean {
  return token.expiresAt !== null && now >= token.expiresAt;
}

/** The stored, unrevoked token whose hash the text has, expired or not. */
function genuineToken(store: CloudStore, text: string): StoredToken | undefined {
  const match = TOKEN_PATTERN.exec(text);
  if (match === null) return undefined;
  const stored = store.token(match[1]!);
  if (stored === undefined || stored.revokedAt !== null) return undefined;
  const presented = Buffer.from(text);
  const verified = verifiedTexts.get(stored);
  // One text per id can match the stored hash, so a text other than the verified one is a forgery.
  // Same length always: the pattern fixes it.
  if (verified !== undefined) return timingSafeEqual(presented, verified) ? stored : undefined;
  if (!timingSafeEqual(hashToken(text), stored.hash)) return undefined;
  verifiedTexts.set(stored, presented);
  return stored;
}

/**
 * True when a token with `held` scopes may call a route that accepts `accepted`. `operator` passes
 * every route; `admin` every route but the agent-only ones (an agent claims every tenant's jobs, so
 * running one is the operator's, not a tenant's: docs/security.md).
 */
export function hasScope(held: readonly TokenScope[], accepted: readonly TokenScope[]): boolean {
  if (held.includes('operator')) return true;
  if (held.includes('admin') && accepted.some((scope) => scope !== 'agent')) return true;
  return held.some((scope) => accepted.includes(scope));
}

/** The public view of a token. */
export function tokenView(token: TokenRecord): TokenRecord {
  return {
    id: token.id,
    name: token.name,
    scopes: token.scopes,
    tenant: token.tenant,
    createdAt: token.createdAt,
    revokedAt: token.revokedAt,
    expiresAt: token.expiresAt,
  };
}

/**
 * Revokes by id; with `tenant`, only a token of that tenant (another tenant's is not found).
 * @throws SKEIN_CLOUD_TOKEN_NOT_FOUND
 */
export function revokeToken(store: CloudStore, id: string, tenant?: string, now = Date.now()): TokenRecord {
  const known = store.token(id);
  if (
    known === undefined ||
    (tenant !== undefined && known.tenant !== tenant) ||
    !store.revokeToken(id, now)
  ) {
    throw new SkeinError(
      'SKEIN_CLOUD_TOKEN_NOT_FOUND',
      `no token has id ${JSON.stringify(id)}; 'skein token list' shows the ids`,
    );
  }
  return tokenView(store.token(id)!);
}
