/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core) against a real
 * server and a real redis-server: enter the token, see figures change with traffic, inspect a key,
 * invalidate a tag and read the count, keep two tabs open without nearing the rate limit, and save
 * a screenshot to test/artifacts/dashboard.png. CI installs the browser: apt-get install -y chromium.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import type { AdminAuditEvent } from '../../src/admin/index.js';
import { monitor } from '../../src/metrics/index.js';
import { guardProcess } from '../helpers/guard.js';
import { onCleanup, registerCleanup, tieredCache } from '../metrics/support.js';
import { mount } from './support.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const TOKEN = 'browser-admin-token-0123456789';

registerCleanup();
guardProcess();

async function updatesOf(page: Page): Promise<number> {
  return Number(await page.locator('#status').getAttribute('data-updates'));
}

describe('dashboard in a browser', () => {
  it('shows live figures, inspects a key, invalidates a tag, and stays under the rate limit', { timeout: 120_000 }, async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    const cache = await tieredCache({ name: 'catalog', bus: true });
    const loadProduct = monitor(async (id: number) => ({ id, name: `product ${id}` }), { name: 'db.products', slowMs: 50, cache });
    onCleanup(() => loadProduct.monitor.dispose());
    const audit: AdminAuditEvent[] = [];
    // Defaults: 100 requests a minute per client, one snapshot a second.
    const server = await mount('express', { cache, token: TOKEN, audit: (e) => audit.push(e) });
    onCleanup(() => server.close());

    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking'] });
    onCleanup(() => browser.close());
    const context = await browser.newContext({ viewport: { width: 1360, height: 1000 } });
    const problems: string[] = [];
    const watch = (page: Page): void => {
      page.on('console', (m) => {
        if (m.type() === 'error' && !/401/.test(m.text())) problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
    };
    const page = await context.newPage();
    watch(page);

    // 1. The page asks for the token; a wrong one is refused.
    await page.goto(`${server.base}/dashboard`);
    await page.fill('#token', 'not-the-token');
    await page.click('#connect');
    await page.locator('#login-error').filter({ hasText: 'refused' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.inputValue('#token'), '', 'the token field is emptied');
    await page.fill('#token', TOKEN);
    await page.click('#connect');
    await page.locator('#main').waitFor({ state: 'visible', timeout: 10_000 });
    // Evaluated in the page (a string: this file is compiled without the DOM's types).
    const stored = await page.evaluate<string>('JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie })');
    assert.ok(!stored.includes(TOKEN), 'the token is kept in memory only');

    // 2. Traffic shows up: hits and misses, then ops/s and latency.
    const before = await page.textContent('#hits-misses');
    for (let i = 0; i < 40; i++) await cache.getOrSet(`product:${i % 10}`, () => loadProduct(i % 10), { tags: ['catalog'] });
    for (let i = 0; i < 200; i++) await cache.get(`product:${i % 12}`);
    const unchanged = new RegExp(`^${(before ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    await page.locator('#hits-misses').filter({ hasNotText: unchanged }).waitFor({ timeout: 10_000 });
    await page.locator('#ops').filter({ hasText: /\d/ }).waitFor({ timeout: 10_000 });
    assert.match((await page.textContent('#hit-rate')) ?? '', /%/, 'a hit rate');
    assert.match((await page.textContent('#l2')) ?? '', /^up$/, 'L2 up');
    const u0 = await updatesOf(page);
    await page.waitForTimeout(3_200);
    const u1 = await updatesOf(page);
    assert.ok(u1 - u0 >= 3, `at least one update a second (${u1 - u0} in 3.2 s)`);

    // 3. Inspect a key.
    await page.fill('#inspect-key', 'product:3');
    await page.click('#inspect button[type="submit"]');
    await page.locator('#inspect-result').filter({ hasText: '"tags"' }).waitFor({ timeout: 10_000 });
    const report = JSON.parse((await page.textContent('#inspect-result')) ?? '{}') as { tiers: Record<string, unknown>; tags: string[] };
    assert.deepEqual(Object.keys(report.tiers).sort(), ['l1', 'l2'], 'held in both tiers');
    assert.deepEqual(report.tags, ['catalog'], 'its tags');

    // 4. Invalidate a tag and read the count.
    await page.selectOption('#inv-kind', 'tags');
    await page.fill('#inv-value', 'catalog');
    await page.click('#inv-submit');
    await page.locator('#inv-result').filter({ hasText: 'removed' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.textContent('#inv-result'), 'removed 10', 'the ten products were removed');
    assert.equal(await cache.get('product:3'), undefined, 'gone from the cache');

    // 5. A second tab: requests do not grow with time (one stream per tab), so the limit is never near.
    const second = await context.newPage();
    watch(second);
    await second.goto(`${server.base}/dashboard`);
    await second.fill('#token', TOKEN);
    await second.click('#connect');
    await second.locator('#main').waitFor({ state: 'visible', timeout: 10_000 });
    await page.waitForTimeout(1_500);
    const requests = audit.length;
    await page.waitForTimeout(4_000);
    assert.equal(audit.length, requests, 'no request while two tabs stay open: figures arrive over the streams');
    assert.ok(requests < 30, `${requests} requests for two tabs, a login error, an inspection and an invalidation (limit 100 a minute)`);
    assert.ok(!audit.some((e) => e.status === 429), 'never rate-limited');
    assert.ok((await updatesOf(second)) >= 3, 'the second tab is live too');

    // 6. Traffic again for a lively picture, then the screenshot.
    for (let i = 0; i < 60; i++) await cache.getOrSet(`product:${i % 15}`, () => loadProduct(i % 15), { tags: ['catalog'] });
    for (let i = 0; i < 300; i++) await cache.get(`product:${i % 20}`);
    await page.waitForTimeout(2_500);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
    assert.ok(existsSync(`${ARTIFACTS}dashboard.png`), 'screenshot saved');
    assert.deepEqual(problems, [], 'no script error and no Content-Security-Policy violation in the console');
    await context.close();
  });
});
