import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { TicksHttpServer } from '../services/ticks-http-server';
import { createHarness, type Harness } from './support/harness';
import { startApiServer } from './support/api-server';

/**
 * The demo page in Debian's chromium (no browser download): Ana sends, Bo opens the chat and
 * reads, Ana's page turns the tick blue; in the group, "read by 1 of 2" after the window.
 * .ci/run installs chromium; without it this suite is skipped with a loud message.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  process.stderr.write(
    `\n!!! ${CHROMIUM} is missing: the browser test of the demo is SKIPPED. Install it with \`apt-get install -y chromium\` (.ci/run does).\n\n`,
  );

(haveChromium ? describe : describe.skip)('demo page in chromium', () => {
  let h: Harness;
  let server: TicksHttpServer;
  let browser: Browser;

  beforeAll(async () => {
    // The demo mints tokens for anyone: it runs in dev mode only, as under `npm start`.
    h = await createHarness({ TICKS_DEV_MODE: 'true' });
    server = await startApiServer(h, {
      demo: true,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await h?.close();
  });

  it('Ana sends, Bo reads, Ana sees it read; the group shows "read by N of M"; delete, mark unread, mute', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 760 } });
    page.on('pageerror', (err) => process.stderr.write(`page error: ${err.message}\n`));
    await page.goto(`${server.url}/demo/`);
    const ana = page.locator('[data-user="ana"]');
    const bo = page.locator('[data-user="bo"]');
    await ana.locator('.status.online').waitFor({ timeout: 30_000 });
    await bo.locator('.status.online').waitFor({ timeout: 30_000 });

    // Direct chat: sent, then delivered (Bo's client received it), then read once Bo opens it.
    await ana.locator('.conv[data-kind="direct"]').click();
    await ana.locator('input[name="text"]').fill('Hi Bo!');
    await ana.locator('button[type="submit"]').click();
    const mine = ana.locator('.msg.mine').first();
    await mine.waitFor({ timeout: 30_000 });
    await ana.locator('.msg.mine[data-status="delivered"]').waitFor({ timeout: 30_000 });
    await bo
      .locator('.conv[data-kind="direct"] .unread[data-count="1"]')
      .waitFor({ timeout: 30_000 });
    await bo.locator('.badge[data-count="1"]').waitFor({ timeout: 30_000 });
    await bo.locator('.conv[data-kind="direct"]').click();
    await ana.locator('.msg.mine[data-status="read"]').waitFor({ timeout: 30_000 });
    await bo
      .locator('.conv[data-kind="direct"] .unread[data-count="0"]')
      .waitFor({ state: 'attached', timeout: 30_000 }); // a zero count is hidden
    expect(await ana.locator('.msg.mine .tick.read').count()).toBe(1);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'demo-direct.png') });

    // Group: Bo reads within a window; Ana's summary says 1 of the 2 others read it.
    await ana.locator('.conv[data-kind="group"]').click();
    await ana.locator('input[name="text"]').fill('Hello group');
    await ana.locator('button[type="submit"]').click();
    await bo
      .locator('.conv[data-kind="group"] .unread[data-count="1"]')
      .waitFor({ timeout: 30_000 });
    await bo.locator('.conv[data-kind="group"]').click();
    await ana
      .locator('.msg.mine .summary', { hasText: 'read by 1 of 2' })
      .waitFor({ timeout: 30_000 });

    await page.screenshot({ path: path.join(ARTIFACTS, 'demo-group.png') });

    // Delete (issue 14): Ana's unread message to Bo counts, then, deleted, counts no more.
    await ana.locator('.conv[data-kind="direct"]').click();
    await ana.locator('input[name="text"]').fill('oops, wrong chat');
    await ana.locator('button[type="submit"]').click();
    await bo
      .locator('.conv[data-kind="direct"] .unread[data-count="1"]')
      .waitFor({ timeout: 30_000 });
    await bo.locator('.badge[data-count="1"]').waitFor({ timeout: 30_000 });
    await ana.locator('.msg.mine', { hasText: 'oops' }).locator('button.delete').click();
    await ana.locator('.msg.mine', { hasText: 'oops' }).waitFor({ state: 'detached' });
    await bo
      .locator('.conv[data-kind="direct"] .unread[data-count="0"]')
      .waitFor({ state: 'attached', timeout: 30_000 });
    await bo.locator('.badge[data-count="0"]').waitFor({ timeout: 30_000 });
    await bo.locator('.conv[data-kind="direct"]').click();
    await bo.locator('.msg', { hasText: 'Hi Bo!' }).waitFor({ timeout: 30_000 });
    // The unread sync is pushed at once; the page's next poll of the messages drops the text.
    await bo.locator('.msg', { hasText: 'oops' }).waitFor({ state: 'detached', timeout: 30_000 });

    // Mark unread: Bo marks the direct chat (read) unread: 1 and in the badge; opening reads it.
    await bo.locator('.conv[data-kind="direct"] button.mark-unread').click();
    await bo
      .locator('.conv[data-kind="direct"] .unread[data-count="1"]')
      .waitFor({ timeout: 30_000 });
    await bo.locator('.badge[data-count="1"]').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(1_000); // the server's answer, not only the page's own
    await bo.locator('.badge[data-count="1"]').waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'demo-marked-unread.png') });
    await bo.locator('.conv[data-kind="direct"]').click();
    await bo
      .locator('.conv[data-kind="direct"] .unread[data-count="0"]')
      .waitFor({ state: 'attached', timeout: 30_000 });
    await bo.locator('.badge[data-count="0"]').waitFor({ timeout: 30_000 });
    expect(await ana.locator('.msg.mine .tick.read').count()).toBe(1); // Ana was told nothing new

    // Mute: the group keeps its unread count and leaves Bo's badge.
    await ana.locator('.conv[data-kind="group"]').click();
    await ana.locator('input[name="text"]').fill('anyone?');
    await ana.locator('button[type="submit"]').click();
    await bo.locator('.badge[data-count="1"]').waitFor({ timeout: 30_000 });
    await bo.locator('.conv[data-kind="group"] button.mute').click();
    await bo.locator('.conv.muted[data-kind="group"]').waitFor({ timeout: 30_000 });
    await bo.locator('.badge[data-count="0"]').waitFor({ timeout: 30_000 });
    await bo
      .locator('.conv[data-kind="group"] .unread[data-count="1"]')
      .waitFor({ timeout: 30_000 });
  });
});
