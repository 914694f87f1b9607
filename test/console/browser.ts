// What the console's browser tests share: a fresh build of web/ when its sources changed since the last
// one, Debian's chromium driven by playwright-core (headless), and page helpers that wait on what the
// page shows (bounded), never on sleeps.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { CONSOLE_DIST_DIR, consoleSourcesChangedAt, loadConsole } from '../../src/cloud/console-routes.ts';
import { ROOT } from '../cloud/harness.ts';

export const CHROMIUM = process.env.SKEIN_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test/console/screenshots');
const BUILD_TIMEOUT_MS = 120_000;

/** Why the browser tests cannot run here, or undefined when they can. */
export function missingBrowser(): string | undefined {
  if (!existsSync(CHROMIUM)) {
    return `chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run does) or set SKEIN_CHROMIUM`;
  }
  return undefined;
}

/** Builds web/ into web/dist when it was never built or its sources are newer (as npm install's prepare does). */
export async function ensureConsoleBuilt(): Promise<void> {
  const built = await loadConsole();
  const changed = await consoleSourcesChangedAt();
  if (built !== undefined && (changed === undefined || changed <= built.builtAt)) return;
  await promisify(execFile)(
    process.execPath,
    [
      join(ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      'web/vite.config.ts',
      '--logLevel',
      'warn',
    ],
    { cwd: ROOT, timeout: BUILD_TIMEOUT_MS },
  );
  if ((await loadConsole(CONSOLE_DIST_DIR)) === undefined)
    throw new Error('vite build wrote no web/dist/index.html');
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  // As root (CI containers) chromium refuses to start with its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** Saves a full-page screenshot as screenshots/<name>.png (git ignores the folder). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Fails with the page's own errors when it logged any (a console error is a bug of the console). */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    // A refused request (the wrong-token login) is logged by chromium itself: not the page's error.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      errors.push(`console.error: ${message.text()}`);
  });
  return errors;
}

/** The page is not wider than its viewport: nothing on it forces horizontal scrolling. */
export async function overflowOf(page: Page): Promise<number> {
  // A string: this file is type-checked without the DOM library.
  return page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
}
