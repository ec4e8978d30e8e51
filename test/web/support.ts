/**
 * What the browser tests share: Debian's Chromium driven by playwright-core (never
 * `playwright install`: .ci/run installs `chromium` with apt-get when it is missing), the
 * dashboard built on demand, and readers of the page.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { WEB_ROOT } from '../../src/routes/dashboard.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: ARGS });

export const historical = (name: string): string => join(ROOT, 'data/historical', `${name}.csv`);

/** `make test` builds first; a bare `vitest run` after editing src/web rebuilds here. */
export function ensureBuilt(): void {
  const built = join(WEB_ROOT, 'app.js');
  const sources = join(ROOT, 'src/web');
  // The bundle also holds the data dictionary (the table list).
  const inputs = [...readdirSync(sources).map((name) => join(sources, name)), join(ROOT, 'src/tables.ts')];
  const newest = Math.max(...inputs.map((path) => statSync(path).mtimeMs));
  if (existsSync(built) && existsSync(join(WEB_ROOT, 'index.html')) && statSync(built).mtimeMs >= newest) return;
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-web.mjs'), '--no-check'], { cwd: ROOT, stdio: 'pipe' });
}

/** The "Tables" section's counts: { departments: 12, … }. */
export async function tableCounts(page: Page): Promise<Record<string, number>> {
  const rows = await page
    .locator('#table-counts tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-table'), (tr as unknown as { innerText: string }).innerText]));
  return Object.fromEntries(rows.map(([name, text]) => [name, Number(text!.split('\t').pop()!.replace(/,/g, ''))]));
}

/** expect.poll with room for a loaded machine (the suite runs two test files at a time). */
export const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 20_000, interval: 50 });

export const reportsReady = (page: Page) => page.locator('#reports[aria-busy="false"]').waitFor();
