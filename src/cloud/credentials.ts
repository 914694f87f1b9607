// `.skein/credentials.json`: the server URL and the admin token `skein up` prints, saved for the CLI of
// the same user. Written to a temporary file with mode 0600 and renamed over the old one, so a reader
// never sees half a file and no other user can read the token.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const CREDENTIALS_FILE = 'credentials.json';

export interface Credentials {
  readonly server: string;
  readonly token: string;
}

/** The credentials in `dataDir`, or undefined when the file is missing or not credentials. */
export async function readCredentials(dataDir: string): Promise<Credentials | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, CREDENTIALS_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<Credentials> | null;
    if (typeof value?.server === 'string' && typeof value.token === 'string') {
      return { server: value.server, token: value.token };
    }
  } catch {
    // A damaged file is as good as none: the server writes a fresh one.
  }
  return undefined;
}

export async function writeCredentials(dataDir: string, credentials: Credentials): Promise<string> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, CREDENTIALS_FILE);
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await rename(temporary, path);
  return path;
}
