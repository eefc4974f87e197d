// End-to-end tests of the dashboard in real headless Chromium against the real `tollgate`
// binary in front of `tollgate-mock`. The tests run in order and share one gateway process and
// one browser: each step builds on the previous one, as a person using the dashboard would.
//
// After every test: no CSP violation, no uncaught error, no console error (other than HTTP
// statuses the test provoked), no alert/confirm/prompt dialog, no request to another origin.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  ADMIN_TOKEN,
  ANTHROPIC_KEY,
  OPENAI_KEY,
  TRACE_URL,
  admin,
  anthropic,
  chat,
  geminiStream,
  launchBrowser,
  postJson,
  screenshotDir,
  startStack,
  watchedPage,
} from './harness.mjs';

const GATEWAY = 'e2e';
const XSS_IMG = '<img src=x onerror=alert(1)>';
const XSS_SCRIPT = '<script>window.__pwned=1</script>';
const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

let stack;
let browser;
let watched;
let page;
let shots;

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
async function until(what, fn, ms = 10_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls `fn` until it returns `expected` (compared as strings); reports the last value. */
async function untilIs(what, fn, expected, ms = 10_000) {
  let last;
  try {
    await until(what, async () => {
      last = await fn();
      return String(last) === String(expected);
    }, ms);
  } catch {
    throw new Error(`timed out waiting for ${what}: expected ${expected}, last ${last}`);
  }
}

/**
 * Sets the first logs filter's field to the status code and waits until its row is redrawn for
 * a number: a new field remounts the row, so text typed before then would go to the old input
 * (seen on a loaded CI machine).
 */
async function chooseStatusCodeFilter() {
  await page.getByLabel('Filter 1 field').selectOption('status_code');
  await page.getByLabel('Filter 1 operator').locator('option[value="gt"]').waitFor({ state: 'attached' });
}

async function shot(name, options = {}) {
  // Let transitions (row highlight, focus rings) settle into a stable frame.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true, animations: 'disabled', ...options });
}

async function go(path) {
  await page.goto(stack.url + path);
}

/** Client-side navigation through the gateway's tabs, as a user clicks. */
async function clickTab(label) {
  await page.getByRole('navigation', { name: 'Gateway sections' }).getByRole('link', { name: label, exact: true }).click();
}

/** Client-side navigation through the main navigation. */
async function clickNav(label) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).click();
}

/** The scoped token the budget tests create: its id and text. */
let scoped;

/**
 * Asserts that a dollar amount the page shows is `value` as the page rounds it: within half a
 * unit of its last digit shown (`$0` only for exactly nothing).
 */
function assertUsd(shown, value, what) {
  const m = /^\$(\d+(?:\.(\d+))?)$/.exec(shown.trim());
  assert.ok(m, `${what}: not a dollar amount: ${shown}`);
  if (m[1] === '0') {
    assert.equal(value, 0, `${what}: shown $0, API ${value}`);
    return;
  }
  const unit = 10 ** -(m[2]?.length ?? 0);
  assert.ok(Math.abs(Number(m[1]) - value) <= unit / 2 + 1e-12, `${what}: shown ${shown}, API ${value}`);
}

/** A SpendMeter's spent, limit and left against the API's `spend` object. */
async function assertSpend(cell, spend) {
  assertUsd(await cell.locator('[data-spent]').textContent(), spend.spent, 'spent');
  assertUsd(await cell.locator('[data-limit]').textContent(), spend.limit, 'limit');
  assertUsd(await cell.locator('[data-left]').textContent(), spend.remaining, 'left');
}

async function metric(name) {
  return (await page.locator(`[data-metric="${name}"] .total-value`).textContent()).trim();
}

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.url });
  watched = await watchedPage(browser.context, stack.url);
  page = watched.page;
  page.setDefaultTimeout(15_000);
  // DASHBOARD_CPU_SLOWDOWN=6 runs the page as on a machine six times slower: the races a loaded
  // CI machine shows, on demand.
  const slowdown = Number(process.env.DASHBOARD_CPU_SLOWDOWN ?? 1);
  if (slowdown > 1) await (await browser.context.newCDPSession(page)).send('Emulation.setCPUThrottlingRate', { rate: slowdown });
  shots = screenshotDir();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

afterEach(async () => {
  const r = await watched.report();
  // HTTP error statuses the tests provoke on purpose are logged by Chromium as console errors.
  const console = r.console.filter((m) => !/^Failed to load resource: the server responded with a status of/.test(m));
  watched.problems.console.length = 0;
  assert.deepEqual(r.csp, [], 'CSP violations');
  assert.deepEqual(console, [], 'console errors');
  assert.deepEqual(r.errors, [], 'uncaught page errors');
  assert.deepEqual(r.dialogs, [], 'dialogs');
  assert.deepEqual(r.offsite, [], 'requests to other origins');
});

describe('dashboard', () => {
  test('is served at / with a strict CSP, without a token', async () => {
    const res = await fetch(`${stack.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-security-policy'), CSP);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    const html = await res.text();
    assert.match(html, /<div id="app"><\/div>/);
    assert.doesNotMatch(html, /<script>|<style|style=/, 'nothing inline');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const asset = await fetch(stack.url + script);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type'), /javascript/);
    assert.match(asset.headers.get('cache-control'), /immutable/);
    // Client-side routes load the app; API paths keep their JSON answers.
    const deep = await fetch(`${stack.url}/gateways/x/logs`, { headers: { Accept: 'text/html' } });
    assert.equal(deep.status, 200);
    assert.equal(deep.headers.get('content-security-policy'), CSP);
    const api = await fetch(`${stack.url}/client/v4/accounts/local/ai-gateway/gateways`, { headers: { Accept: 'text/html' } });
    assert.equal(api.status, 401);
    const json404 = await fetch(`${stack.url}/no-such-thing`);
    assert.equal(json404.status, 404);
    assert.equal((await json404.json()).errors[0].code, 7000);
  });

  test('logs in with the admin token; a wrong token is refused', async () => {
    await go('/');
    await page.locator('#login-token').waitFor();
    await shot('login');
    await page.fill('#login-token', 'not-the-admin-token-at-all');
    await page.click('button[type=submit]');
    await page.locator('#login-token-error').filter({ hasText: 'refused' }).waitFor();
    await page.fill('#login-token', ADMIN_TOKEN);
    await page.click('button[type=submit]');
    await page.getByRole('heading', { name: 'Gateways', level: 1 }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('tollgate.adminToken')), ADMIN_TOKEN);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tollgate.adminToken')), null);
    assert.equal(await page.evaluate(() => document.cookie), '', 'no cookies');
    assert.deepEqual(await browser.context.cookies(), []);
    // A reload keeps the session, and the token is never in the URL.
    await page.reload();
    await page.getByRole('heading', { name: 'Gateways', level: 1 }).waitFor();
    assert.doesNotMatch(page.url(), /token/i);
  });

  test('a new tab of the same browser is signed in already', async () => {
    const tab = await browser.context.newPage();
    try {
      await tab.goto(`${stack.url}/tokens`);
      await tab.getByRole('heading', { name: 'Run tokens', level: 1 }).waitFor();
      assert.equal(await tab.locator('#login-token').count(), 0, 'no sign-in form');
      assert.equal(await tab.getByRole('button', { name: 'Sign out' }).count(), 1, 'a visible sign-out');
    } finally {
      await tab.close();
    }
  });

  test('creates a gateway and shows its endpoints with copy buttons and snippets', async () => {
    await page.fill('#new-gateway-id', 'Not Valid!');
    await page.click('text=Create gateway');
    await page.locator('#new-gateway-id-error').waitFor();
    assert.match(await page.locator('#new-gateway-id-error').textContent(), /\S/);
    await page.fill('#new-gateway-id', GATEWAY);
    await page.click('text=Create gateway');
    await page.waitForURL(`**/gateways/${GATEWAY}`);
    const openai = `${stack.url}/v1/local/${GATEWAY}/openai`;
    await page.locator('tr[data-provider="openai"] code', { hasText: openai }).waitFor();
    assert.equal((await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}`)).status, 200);
    // The API's own answer for the URL agrees with what the page shows.
    const viaApi = await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}/url/openai`);
    assert.equal(viaApi.json.result, openai);
    await page.getByRole('button', { name: 'Copy openai URL' }).click();
    await page.locator('tr[data-provider="openai"] button', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), openai);
    assert.match(await page.locator('pre[data-snippet="openai"]').textContent(), new RegExp(`base_url="${openai}"`));
    await page.getByRole('button', { name: 'Anthropic SDK' }).click();
    assert.match(await page.locator('pre[data-snippet="anthropic"]').textContent(), /\/anthropic"/);
    await page.getByRole('button', { name: 'curl' }).click();
    assert.match(await page.locator('pre[data-snippet="curl"]').textContent(), new RegExp(`curl ${openai}/chat/completions`));
    await page.getByRole('button', { name: 'OpenAI SDK' }).click();
    await page.getByLabel('Custom provider').fill('my-llm');
    await page.locator('.custom-url code', { hasText: `${stack.url}/v1/local/${GATEWAY}/my-llm` }).waitFor();
    await page.getByLabel('Custom provider').fill('');
    await shot('gateway-endpoints');
  });

  test('the Endpoints tab shows how to call the gateway: native, unified and universal URLs, each copied in a click', async () => {
    // A gateway of its own: the calls below prove the URLs shown work.
    assert.equal((await admin(stack, 'POST', '/accounts/local/ai-gateway/gateways', { id: 'ways' })).status, 200);
    await go('/gateways/ways');
    const base = `${stack.url}/v1/local/ways`;
    await page.locator('#how-title').waitFor();
    const way = (key) => page.locator(`[data-way="${key}"]`);
    assert.equal(await way('native').locator('code.url').textContent(), `${base}/{provider}/…`);
    assert.equal(await way('compat').locator('.way-url code.url').textContent(), `${base}/compat/chat/completions`);
    assert.match(await way('compat').textContent(), /provider\/model/);
    assert.equal(await way('universal').locator('code.url').textContent(), base);
    await shot('gateway-how-to-call', { fullPage: false });

    const copied = async (button, key, expected) => {
      await page.getByRole('button', { name: button }).click();
      await way(key).locator('button', { hasText: 'Copied' }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), expected);
    };
    await copied('Copy native URL', 'native', `${base}/{provider}`);
    await copied('Copy unified URL', 'compat', `${base}/compat/chat/completions`);
    await copied('Copy universal URL', 'universal', base);

    // Snippets for both, with this gateway's URLs.
    await page.getByRole('button', { name: 'Unified (any provider)' }).click();
    const compatSnippet = await page.locator('pre[data-snippet="compat"]').textContent();
    assert.match(compatSnippet, new RegExp(`base_url="${base}/compat"`));
    assert.match(compatSnippet, /model="anthropic\//);
    await page.getByRole('button', { name: 'Fallbacks (universal)' }).click();
    assert.match(await page.locator('pre[data-snippet="universal"]').textContent(), new RegExp(`curl ${base} `));
    await page.getByRole('button', { name: 'OpenAI SDK', exact: true }).click();

    // What the page shows is what answers.
    const messages = [{ role: 'user', content: 'Hi' }];
    const compat = await postJson(`${base}/compat/chat/completions`, { model: 'openai/gpt-4o-mini', messages }, { Authorization: `Bearer ${OPENAI_KEY}` });
    assert.equal(compat.status, 200, compat.text);
    const universal = await postJson(base, [
      { provider: 'anthropic', endpoint: 'v1/messages', headers: { 'x-api-key': ANTHROPIC_KEY, 'anthropic-version': '2023-06-01' }, query: { model: 'claude-3-5-haiku-latest', max_tokens: 16, messages } },
    ]);
    assert.equal(universal.status, 200, universal.text);
    await go(`/gateways/${GATEWAY}`);
    await page.locator('#how-title').waitFor();
  });

  test('shows requests sent through the gateway in the logs table and opens one', async () => {
    const meta = { 'cf-aig-metadata': JSON.stringify({ user: 'alice', team: 'search' }) };
    for (let i = 0; i < 3; i++) assert.equal((await chat(stack, GATEWAY, { content: `Hello ${i}`, headers: meta })).status, 200);
    assert.equal((await chat(stack, GATEWAY, { content: 'stream me', stream: true })).status, 200);
    assert.equal((await anthropic(stack, GATEWAY)).status, 200);
    assert.equal((await chat(stack, GATEWAY, { content: 'fail', headers: { 'x-mock-status': '500' } })).status, 500);

    await clickTab('Logs');
    await page.waitForURL(`**/gateways/${GATEWAY}/logs`);
    const rows = page.locator('tr[data-log-id]');
    await untilIs('6 log rows', () => rows.count(), 6);
    await page.locator('tr[data-log-id] .badge', { hasText: '500' }).waitFor();
    await page.locator('.chip', { hasText: 'user: alice' }).first().waitFor();
    assert.match(await page.locator('.pager').textContent(), /6 requests/);
    await shot('logs');

    // A filter (sent as filters[0][key]=status_code&…) narrows the table.
    await page.click('text=Add filter');
    await chooseStatusCodeFilter();
    await page.getByLabel('Filter 1 value').fill('500');
    await page.getByLabel('Filter 1 value').press('Enter');
    await untilIs('one 500 row', () => rows.count(), 1);
    assert.match(await rows.first().textContent(), /500/);
    await page.getByRole('button', { name: 'Remove filter 1' }).click();
    await untilIs('all rows back', () => rows.count(), 6);

    // Search matches metadata.
    await page.getByLabel('Search logs').fill('alice');
    await untilIs('3 rows for alice', () => rows.count(), 3);
    await page.getByLabel('Search logs').fill('');
    await untilIs('all rows back', () => rows.count(), 6);

    // Sorting by duration ascending, then back to newest first.
    await page.getByRole('button', { name: 'Duration' }).click();
    await page.getByRole('button', { name: 'Duration' }).click();
    await until('sorted ascending', async () => (await page.locator('th[aria-sort="ascending"]').count()) === 1);
    await page.getByRole('button', { name: 'Time' }).click();

    // Open the streamed request: SSE events shown one by one, request JSON pretty-printed.
    const listed = (await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}/logs?per_page=50`)).json.result;
    const streamed = listed.find((r) => r.response_content_type?.includes('event-stream'));
    assert.ok(streamed, 'a streamed row');
    await page.locator(`tr[data-log-id="${streamed.id}"] a`).click();
    await page.waitForURL(`**/logs/${streamed.id}`);
    const request = page.locator('[data-body="request"] pre');
    await request.waitFor();
    assert.match(await request.textContent(), /\n {2}"model": "gpt-4o-mini",\n/);
    assert.match(await request.textContent(), /stream me/);
    // The request was traced: the detail links its trace in the operator's tracing UI.
    assert.match(streamed.trace_id ?? '', /^[0-9a-f]{32}$/);
    const traceLink = page.getByTestId('trace-link');
    assert.equal(await traceLink.getAttribute('href'), TRACE_URL.replace('{trace_id}', streamed.trace_id));
    assert.equal(await traceLink.textContent(), streamed.trace_id);
    // The stream opens on its reply text; its events are one click away.
    const response = page.locator('[data-body="response"]');
    await untilIs('assembled reply', () => response.locator('.stream-reply pre').textContent(), 'Hello! You said: stream me');
    await response.getByRole('button', { name: 'Events' }).click();
    await response.locator('.sse-events li').first().waitFor();
    assert.ok((await response.locator('.sse-events li').count()) >= 2, 'several events');
    assert.match(await response.textContent(), /\[DONE\]/);
    assert.match(await page.locator('.timings').textContent(), /Time to first byte.*ms.*Total duration.*ms/s);

    // Raw view and download as a text/plain attachment.
    await page.locator('[data-body="response"]').getByRole('button', { name: 'Raw' }).click();
    await page.locator('[data-body="response"] button[aria-pressed="true"]', { hasText: 'Raw' }).waitFor();
    assert.match(await page.locator('[data-body="response"] pre').textContent(), /^data: /);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-body="request"]').getByRole('button', { name: 'Download' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `${streamed.id}-request.txt`);
    const saved = readFileSync(await download.path(), 'utf8');
    const raw = await fetch(`${stack.url}/client/v4/accounts/local/ai-gateway/gateways/${GATEWAY}/logs/${streamed.id}/request`, {
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(saved, await raw.text());

    // Feedback thumbs are stored, and toggle off again.
    await page.getByRole('button', { name: 'Good' }).click();
    await page.locator('button[aria-pressed="true"]', { hasText: 'Good' }).waitFor();
    await until('feedback 1 stored', async () => {
      const row = await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}/logs/${streamed.id}`);
      return row.json.result.feedback === 1;
    });
    await page.locator('[data-body="response"]').getByRole('button', { name: 'Reply text' }).click();
    await shot('log-detail');
    await page.getByRole('button', { name: 'Bad' }).click();
    await until('feedback -1 stored', async () => {
      const row = await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}/logs/${streamed.id}`);
      return row.json.result.feedback === -1;
    });
    await page.getByRole('button', { name: 'Bad' }).click();
    await until('feedback cleared', async () => {
      const row = await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}/logs/${streamed.id}`);
      return row.json.result.feedback === null;
    });
  });

  test('live mode follows new rows without a reload', async () => {
    await page.getByRole('link', { name: '← All logs' }).click();
    const rows = page.locator('tr[data-log-id]');
    await untilIs('rows', () => rows.count(), 6);
    await page.getByRole('button', { name: 'Live' }).click();
    await page.locator('button[aria-pressed="true"]', { hasText: 'Live' }).waitFor();
    const requestsBefore = await page.evaluate(() => performance.getEntriesByType('resource').length);
    await chat(stack, GATEWAY, { content: 'live one', headers: { 'cf-aig-metadata': '{"run":"live-1"}' } });
    await page.locator('tr[data-log-id] .chip', { hasText: 'run: live-1' }).waitFor({ timeout: 10_000 });
    assert.equal(await rows.count(), 7);
    // The new row is first (newest first) and it came from polling, not a reload.
    assert.match(await rows.first().textContent(), /run: live-1/);
    assert.ok((await page.evaluate(() => performance.getEntriesByType('resource').length)) > requestsBefore);
    await page.getByRole('button', { name: 'Live' }).click();
    await page.locator('button[aria-pressed="false"]', { hasText: 'Live' }).waitFor();
  });

  test('the logs view lives in the URL: time range, filters and search survive a reload, Back and a shared link', async () => {
    const rows = page.locator('tr[data-log-id]');
    const listed = (await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}/logs?per_page=50`)).json.result;
    const all = listed.length;
    await go(`/gateways/${GATEWAY}/logs`);
    await untilIs('every row', () => rows.count(), all);
    const pressed = (name) => page.getByRole('group', { name: 'Time range presets' }).locator('button[aria-pressed="true"]', { hasText: name });
    await pressed('All').waitFor();

    // A preset: the recent rows are in it, and the URL names it.
    await page.getByRole('button', { name: 'Last 15 min' }).click();
    await page.waitForURL(/\?range=15m$/);
    await pressed('Last 15 min').waitFor();
    await untilIs('rows of the last 15 min', () => rows.count(), all);

    // A custom range before any request: nothing.
    await page.getByRole('button', { name: 'Custom' }).click();
    await page.getByLabel('From').fill('2020-01-01T00:00');
    await page.getByLabel('To').fill('2020-01-02T00:00');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/range=custom&from=20.*&to=20/);
    await page.locator('td.empty', { hasText: 'No requests match.' }).waitFor();
    assert.equal(await rows.count(), 0);

    // Back undoes one change at a time.
    await page.goBack();
    await page.waitForURL(/\?range=15m$/);
    await pressed('Last 15 min').waitFor();
    await untilIs('rows of the last 15 min again', () => rows.count(), all);
    await page.goBack();
    await page.waitForURL(`**/gateways/${GATEWAY}/logs`);
    await pressed('All').waitFor();

    // A shared link with a range to the millisecond: only the row created after it.
    const newest = listed.reduce((a, b) => (Date.parse(a.created_at) > Date.parse(b.created_at) ? a : b));
    const from = new Date(Date.parse(newest.created_at) - 1).toISOString();
    await go(`/gateways/${GATEWAY}/logs?range=custom&from=${encodeURIComponent(from)}`);
    await untilIs('the newest row only', () => rows.count(), 1);
    assert.equal(await rows.first().getAttribute('data-log-id'), newest.id);
    assert.notEqual(await page.getByLabel('From').inputValue(), '', 'the range is shown in its fields');
    await shot('logs-time-range');

    // Filters and search go into the URL, and a reload or another tab restores them.
    await go(`/gateways/${GATEWAY}/logs`);
    await untilIs('every row', () => rows.count(), all);
    await page.click('text=Add filter');
    await chooseStatusCodeFilter();
    await page.getByLabel('Filter 1 value').fill('500');
    await page.getByLabel('Filter 1 value').press('Enter');
    await page.waitForURL(/filter=status_code%3Aeq%3A500/);
    await untilIs('one 500 row', () => rows.count(), 1);
    await page.getByLabel('Search logs').fill('openai');
    await page.waitForURL(/q=openai/);
    const shared = page.url();
    await page.reload();
    await untilIs('one row after a reload', () => rows.count(), 1);
    assert.equal(await page.getByLabel('Filter 1 value').inputValue(), '500');
    assert.equal(await page.getByLabel('Search logs').inputValue(), 'openai');
    const tab = await browser.context.newPage();
    try {
      await tab.goto(shared);
      await untilIs('one row in another tab', () => tab.locator('tr[data-log-id]').count(), 1);
      assert.equal(await tab.getByLabel('Filter 1 value').inputValue(), '500');
    } finally {
      await tab.close();
    }

    // Back past the filter's value: the value goes, every row is back; Forward brings it again.
    await page.getByLabel('Search logs').fill('');
    await page.waitForURL((url) => !url.search.includes('q='));
    await page.goBack();
    await page.waitForURL((url) => url.search.includes('filter=status_code%3Aeq%3A') && !url.search.includes('500'));
    // The URL changes first; the view follows it on its next render.
    await untilIs('the value gone', () => page.getByLabel('Filter 1 value').inputValue(), '');
    await untilIs('every row back', () => rows.count(), all);
    await page.goForward();
    await untilIs('one 500 row again', () => rows.count(), 1);
    await untilIs('the value again', () => page.getByLabel('Filter 1 value').inputValue(), '500');

    // A log opened from the view returns to the view.
    const view = page.url();
    await rows.first().locator('a').click();
    await page.getByRole('link', { name: '← All logs' }).click();
    await page.waitForURL(view);
    await untilIs('the filtered view again', () => rows.count(), 1);
    await page.getByRole('button', { name: 'Remove filter 1' }).click();
  });

  test('a streamed reply shows as its text (OpenAI, Anthropic, Gemini), its events and raw body a click away', async () => {
    assert.equal((await admin(stack, 'POST', '/accounts/local/ai-gateway/gateways', { id: 'streams' })).status, 200);
    assert.equal((await chat(stack, 'streams', { content: 'openai stream', stream: true })).status, 200);
    assert.equal((await anthropic(stack, 'streams', 'anthropic stream', { stream: true })).status, 200);
    assert.equal((await geminiStream(stack, 'streams', 'gemini stream')).status, 200);
    // A stream with no text (a tool call) has nothing to assemble: its events are shown.
    const tools = [{ name: 'lookup', description: 'Looks things up', input_schema: { type: 'object' } }];
    assert.equal((await anthropic(stack, 'streams', 'call a tool', { stream: true, tools })).status, 200);
    const listed = (await admin(stack, 'GET', '/accounts/local/ai-gateway/gateways/streams/logs?per_page=50')).json.result;
    assert.equal(listed.length, 4);
    const response = page.locator('[data-body="response"]');
    const reply = response.locator('.stream-reply');

    // Each detail: the text when the stream has one (the tool call has none), else its events.
    const open = async (id) => {
      await go(`/gateways/streams/logs/${id}`);
      await response.getByRole('button', { name: 'Raw' }).waitFor();
      return (await response.getByRole('button', { name: 'Reply text' }).count()) === 1;
    };
    const expected = {
      openai: ['Hello! You said: openai stream', /OpenAI chat chunks/],
      anthropic: ['Hello! You said: anthropic stream', /Anthropic message events/],
      'google-ai-studio': ['Hello! You said: gemini stream', /Gemini candidates/],
    };
    const seen = [];
    let toolRow;
    for (const row of listed) {
      if (!(await open(row.id))) {
        toolRow = row;
        continue;
      }
      const [text, format] = expected[row.provider];
      seen.push(row.provider);
      assert.equal(await response.locator('button[aria-pressed="true"]').textContent(), 'Reply text', 'opens on the text');
      assert.equal(await reply.locator('pre').textContent(), text);
      assert.match(await reply.textContent(), format);
      if (row.provider !== 'anthropic') continue;
      await shot('log-stream-reply');
      // Its events and its raw body.
      await response.getByRole('button', { name: 'Events' }).click();
      await response.locator('.sse-events li').first().waitFor();
      assert.ok((await response.locator('.sse-events li').count()) >= 5, 'every event');
      assert.match(await response.locator('.sse-events').textContent(), /content_block_delta/);
      await response.getByRole('button', { name: 'Raw' }).click();
      assert.match(await response.locator('pre').textContent(), /^event: message_start/);
    }
    assert.deepEqual(seen.sort(), ['anthropic', 'google-ai-studio', 'openai']);
    assert.equal(toolRow?.provider, 'anthropic', 'the tool-call stream');
    await open(toolRow.id);
    await response.locator('.sse-events li').first().waitFor();
    assert.equal(await response.locator('button[aria-pressed="true"]').textContent(), 'Events');
    assert.match(await response.locator('.sse-events').textContent(), /input_json_delta/);
  });

  test('retries and fallbacks of one request are linked: the attempts are marked and listed on each', async () => {
    assert.equal((await admin(stack, 'POST', '/accounts/local/ai-gateway/gateways', { id: 'fallbacks' })).status, 200);
    const messages = [{ role: 'user', content: 'fall back' }];
    // Step 0 fails twice (a retried 500), step 1 answers.
    const res = await postJson(`${stack.url}/v1/local/fallbacks`, [
      {
        provider: 'openai',
        endpoint: 'chat/completions',
        headers: { authorization: `Bearer ${OPENAI_KEY}`, 'x-mock-status': '500', 'cf-aig-max-attempts': '2' },
        query: { model: 'gpt-4o-mini', messages },
      },
      {
        provider: 'anthropic',
        endpoint: 'v1/messages',
        headers: { 'x-api-key': ANTHROPIC_KEY, 'anthropic-version': '2023-06-01' },
        query: { model: 'claude-3-5-haiku-latest', max_tokens: 32, messages },
      },
    ]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('cf-aig-step'), '1');
    const answered = res.headers.get('cf-aig-log-id');
    const listed = (await admin(stack, 'GET', '/accounts/local/ai-gateway/gateways/fallbacks/logs?per_page=50&order_by=created_at&order_by_direction=asc')).json.result;
    assert.equal(listed.length, 3);
    assert.equal(new Set(listed.map((r) => r.event_id)).size, 1, 'one event id');

    // The table marks the retry and the fallback.
    await go('/gateways/fallbacks/logs');
    const rows = page.locator('tr[data-log-id]');
    await untilIs('3 rows', () => rows.count(), 3);
    const retry = listed.find((r) => r.step === 0 && r.attempts === 2);
    assert.ok(retry, 'a second attempt');
    assert.equal((await page.locator(`tr[data-log-id="${retry.id}"] [data-attempt]`).textContent()).trim(), 'attempt 2');
    assert.equal((await page.locator(`tr[data-log-id="${answered}"] [data-attempt]`).textContent()).trim(), 'step 1');
    const first = listed.find((r) => r.step === 0 && r.attempts === 1);
    assert.equal(await page.locator(`tr[data-log-id="${first.id}"] [data-attempt]`).count(), 0, 'the first attempt is unmarked');

    // The answer's detail lists every attempt, in order, with its status.
    await page.locator(`tr[data-log-id="${answered}"] a`).click();
    const attempts = page.locator('section[data-event-rows] tbody tr');
    await untilIs('3 attempts listed', () => attempts.count(), 3);
    const cells = async (i) => (await attempts.nth(i).locator('td').allTextContents()).map((t) => t.trim());
    assert.deepEqual((await cells(0)).slice(0, 4), ['0', '1', '500', 'openai']);
    assert.deepEqual((await cells(1)).slice(0, 4), ['0', '2', '500', 'openai']);
    assert.deepEqual((await cells(2)).slice(0, 4), ['1', '1', '200', 'anthropic']);
    assert.match((await cells(2))[5], /this one/);
    assert.equal(await attempts.nth(2).getAttribute('aria-current'), 'true');
    await shot('log-attempts');

    // Each attempt links to the others.
    await attempts.nth(0).getByRole('link').click();
    await page.waitForURL(`**/gateways/fallbacks/logs/${first.id}`);
    await untilIs('listed from the first attempt too', () => page.locator('section[data-event-rows] tr[aria-current="true"] td').first().textContent(), '0');
    assert.equal(await page.locator('section[data-event-rows] tbody tr').count(), 3);
  });

  test('analytics show totals and charts, and update with new traffic', async () => {
    await go(`/gateways/${GATEWAY}`);
    await clickTab('Analytics');
    await page.waitForURL(`**/gateways/${GATEWAY}/analytics`);
    await page.locator('[data-metric="requests"]').waitFor();
    await until('6 charts', async () => (await page.locator('.chart .uplot canvas').count()) === 6);
    const api = await admin(stack, 'GET', `/accounts/local/ai-gateway/analytics?gateway_id=${GATEWAY}`);
    const total = api.json.result.totals.requests;
    assert.equal(total, 7);
    await untilIs('requests total', () => metric('requests'), String(total));
    assert.equal(await page.locator('[data-chart="requests"]').getAttribute('data-total'), String(total));
    assert.match(await metric('success'), /%$/);
    assert.match(await page.locator('[data-metric="success"]').textContent(), /1 errors/);
    // Errors by status lists error classes only, named.
    const byStatus = await page.locator('[data-metric="status"]').textContent();
    assert.match(byStatus, /Errors by status:\s*5xx server errors: 1$/);
    assert.doesNotMatch(byStatus, /2xx/);
    assert.match(await metric('latency'), /ms/);
    assert.match(await metric('cost'), /^\$/);
    for (const chart of ['requests', 'status', 'latency', 'tokens', 'cost', 'rates']) {
      await page.locator(`[data-chart="${chart}"] .uplot`).waitFor();
    }
    // Axis units are in the captions.
    assert.match(await page.locator('[data-chart="requests"] figcaption').textContent(), /requests \/ hour/);
    assert.match(await page.locator('[data-chart="latency"] figcaption').textContent(), /\(ms\)/);
    assert.match(await page.locator('[data-chart="cost"] figcaption').textContent(), /USD/);

    // A tooltip follows the cursor over the latest bucket.
    const over = page.locator('[data-chart="requests"] .u-over');
    const box = await over.boundingBox();
    await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
    const tip = page.locator('[data-chart="requests"] .chart-tip');
    await tip.waitFor({ state: 'visible' });
    assert.match(await tip.textContent(), new RegExp(`Requests: ${total}`));
    await shot('analytics');
    await page.mouse.move(0, 0);

    // New traffic shows after a refresh, in the totals and in the charts.
    await chat(stack, GATEWAY, { content: 'more 1' });
    await chat(stack, GATEWAY, { content: 'more 2' });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await untilIs('updated total', () => metric('requests'), String(total + 2));
    await until('updated chart', async () => (await page.locator('[data-chart="requests"]').getAttribute('data-total')) === String(total + 2));

    // Filter by provider.
    await page.getByLabel('Provider').selectOption('anthropic');
    await untilIs('anthropic only', () => metric('requests'), '1');
    await page.getByLabel('Provider').selectOption('');
    await untilIs('all providers', () => metric('requests'), String(total + 2));

    // Other ranges.
    await page.getByRole('button', { name: 'Last hour' }).click();
    await until('per-minute chart', async () => /requests \/ min/.test(await page.locator('[data-chart="requests"] figcaption').textContent()));
    await untilIs('hour total', () => metric('requests'), String(total + 2));
    await page.getByRole('button', { name: 'Last 7 days' }).click();
    await untilIs('7-day total', () => metric('requests'), String(total + 2));
    await page.getByRole('button', { name: 'Custom' }).click();
    await page.locator('input[type="datetime-local"]').first().waitFor();
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('button', { name: 'Last 24 hours' }).click();

    // Overall analytics, with the per-gateway table.
    await clickNav('Analytics');
    await page.waitForURL('**/analytics');
    await page.locator('#by-gateway-title').waitFor();
    await page.locator('table a', { hasText: GATEWAY }).waitFor();
    const overall = (await admin(stack, 'GET', '/accounts/local/ai-gateway/analytics')).json.result.totals.requests;
    await untilIs('overall total', () => metric('requests'), String(overall));
    await shot('analytics-overall');
  });

  test('an empty analytics range says so and offers the range with data; a gateway without traffic says none yet', async () => {
    assert.equal((await admin(stack, 'POST', '/accounts/local/ai-gateway/gateways', { id: 'quiet' })).status, 200);
    await go('/gateways/quiet/analytics');
    const none = page.locator('[data-empty="none"]');
    await none.waitFor();
    assert.match(await none.textContent(), /No requests yet through this gateway/);
    assert.equal((await admin(stack, 'DELETE', '/accounts/local/ai-gateway/gateways/quiet')).status, 200);

    // A range before any traffic of a gateway that has some.
    const total = (await admin(stack, 'GET', `/accounts/local/ai-gateway/analytics?gateway_id=${GATEWAY}`)).json.result.totals.requests;
    await go(`/gateways/${GATEWAY}/analytics?range=custom&start=2020-01-01T00:00&end=2020-01-02T00:00`);
    const empty = page.locator('[data-empty="range"]');
    await empty.waitFor();
    assert.match(await empty.textContent(), /No requests in this range\. The data is from/);
    await untilIs('zero requests', () => metric('requests'), '0');
    await shot('analytics-empty-range', { fullPage: false });
    await empty.getByRole('button', { name: 'Show that range' }).click();
    await untilIs('every request', () => metric('requests'), String(total));
    await empty.waitFor({ state: 'detached' });
    assert.match(page.url(), /range=custom/);
    assert.doesNotMatch(page.url(), /2020-01-01/);
  });

  test('makes a dataset and evaluates it: the results are what the API computed from the logs', async () => {
    await go(`/gateways/${GATEWAY}`);
    await clickTab('Evaluations');
    await page.waitForURL('**/evaluations');
    await page.getByText('No datasets yet.').waitFor();

    // A value of the wrong type is refused next to the filter it is in.
    await page.fill('#dataset-name', 'mini');
    await page.selectOption('#filter-0-key', 'cost');
    await page.selectOption('#filter-0-operator', 'gt');
    await page.fill('#filter-0-value', 'cheap');
    await page.click('text=Save dataset');
    await page.locator('#filter-0-value-error', { hasText: 'must be a number' }).waitFor();

    await page.selectOption('#filter-0-key', 'model');
    await page.selectOption('#filter-0-operator', 'eq');
    await page.fill('#filter-0-value', 'gpt-4o-mini');
    await page.click('text=Save dataset');
    const dataset = page.locator('tr', { hasText: 'model eq gpt-4o-mini' });
    await dataset.waitFor();

    await dataset.getByLabel('Evaluate mini').check();
    await page.fill('#evaluation-name', 'baseline');
    await page.click('text=Evaluate 1 dataset');
    const row = page.locator('tr', { hasText: 'baseline' });
    await row.waitFor();

    const made = (await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}/evaluations`)).json.result[0];
    assert.ok(made.total_logs > 0, 'the earlier tests sent gpt-4o-mini requests');
    assert.equal((await row.locator('td.num').textContent()).trim(), String(made.total_logs));
    for (const result of made.results) {
      const shown = (await row.locator(`[data-result="${result.evaluation_type_id}"] dd`).textContent()).trim();
      assert.ok(shown.startsWith(result.result || result.status_description), `${result.evaluation_type_id}: ${shown}`);
    }
    await shot('evaluations');
  });

  test('a setting changed in the dashboard takes effect on the proxy', async () => {
    await go(`/gateways/${GATEWAY}/settings`);
    await page.locator('form.settings').waitFor();

    // The hints state the limits the API publishes (and enforces), not numbers of their own.
    const bounds = (await admin(stack, 'GET', '/accounts/local/ai-gateway/settings_bounds')).json.result;
    const timeout = bounds.request_timeout_ms;
    await page.locator('#s-request_timeout_ms-hint', { hasText: `${timeout.min} to ${timeout.max}` }).waitFor();
    const attempts = bounds.retry_max_attempts;
    await page.locator('#s-retry_max_attempts-hint', { hasText: `${attempts.min} to ${attempts.max}` }).waitFor();

    // The API's validation message appears next to the field it names.
    await page.fill('#s-retry_max_attempts', '9');
    await page.click('text=Save settings');
    const error = page.locator('#s-retry_max_attempts-error');
    await error.waitFor();
    assert.match(await error.textContent(), /integer from 1 to 5/);
    await untilIs('focus on the invalid field', () => page.evaluate(() => document.activeElement?.id), 's-retry_max_attempts');
    await page.fill('#s-retry_max_attempts', '1');

    // Cache: a second identical request is a HIT.
    await page.fill('#s-cache_ttl', '60');
    await page.click('text=Save settings');
    await page.getByText('Settings saved').waitFor();
    assert.equal(await error.count(), 0);
    const gw = (await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}`)).json.result;
    assert.equal(gw.cache_ttl, 60);
    const first = await chat(stack, GATEWAY, { content: 'cache me' });
    const second = await chat(stack, GATEWAY, { content: 'cache me' });
    assert.equal(first.status, 200);
    assert.equal(second.headers.get('cf-aig-cache-status'), 'HIT');
    assert.equal(second.text, first.text);

    // Authentication on: the proxy answers 401 without a run token.
    await page.getByLabel('Require a run token').check();
    await page.getByText('Settings saved').waitFor({ state: 'detached' });
    await page.click('text=Save settings');
    await page.getByText('Settings saved').waitFor();
    const refused = await chat(stack, GATEWAY, { content: 'no token' });
    assert.equal(refused.status, 401);
    assert.equal(JSON.parse(refused.text).error[0].code, 2009);
    await clickTab('Endpoints');
    await page.locator('h1 .badge', { hasText: 'auth' }).waitFor();
    await clickTab('Settings');
    await page.locator('form.settings').waitFor();
    await shot('settings');
  });

  test('creates a run token, which opens the gateway until it is revoked', async () => {
    await clickNav('Run tokens');
    await page.waitForURL('**/tokens');
    await page.fill('#token-name', 'e2e-service');
    await page.click('text=Create token');
    const shown = page.locator('code[data-token]');
    await shown.waitFor();
    const token = (await shown.textContent()).trim();
    assert.ok(token.length >= 16, 'token text');
    await page.locator('tr', { hasText: 'e2e-service' }).waitFor();
    await shot('tokens');

    const ok = await chat(stack, GATEWAY, { content: 'with token', headers: { 'cf-aig-authorization': `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    await page.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    await page.reload();
    await page.locator('tr', { hasText: 'e2e-service' }).waitFor();
    assert.doesNotMatch(await page.locator('main').textContent(), new RegExp(token));

    await page.getByRole('button', { name: 'Revoke token e2e-service' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await page.getByText('revoked').waitFor();
    await page.locator('tr', { hasText: 'e2e-service' }).waitFor({ state: 'detached' });
    const after = await chat(stack, GATEWAY, { content: 'revoked', headers: { 'cf-aig-authorization': `Bearer ${token}` } });
    assert.equal(after.status, 401);
  });

  test('creates a scoped token with a budget: errors next to their fields, then its scope and spend as the API has them', async () => {
    await clickNav('Run tokens');
    await page.waitForURL('**/tokens');
    const form = page.getByRole('form', { name: 'Create a run token' });

    // Two invalid fields at once: the API names each, and each message is next to its field.
    await page.fill('#token-name', 'scoped-ci');
    await page.fill('#token-gateways', `${GATEWAY}, NOPE!`);
    await page.fill('#token-models', 'gpt-4o-mini');
    await page.fill('#token-metadata', '{"team": "search"}');
    await page.fill('#token-rate_limit', '100');
    await form.getByLabel('Rate limit interval (seconds)').fill('0');
    await page.fill('#token-budget', '0.01');
    await form.getByLabel('Budget window').selectOption('day');
    await form.getByRole('button', { name: 'Create token' }).click();
    await page.locator('#token-gateways-error', { hasText: 'is not a gateway id' }).waitFor();
    await page.locator('#token-rate_limit-error', { hasText: 'interval' }).waitFor();
    await untilIs('focus on the first invalid field', () => page.evaluate(() => document.activeElement?.id), 'token-gateways');
    assert.equal(await page.locator('#token-budget-error').count(), 0, 'the budget was valid');

    // An expiry already past.
    await page.fill('#token-gateways', GATEWAY);
    await form.getByLabel('Rate limit interval (seconds)').fill('60');
    await page.fill('#token-expires_at', '2020-01-01T00:00');
    await form.getByRole('button', { name: 'Create token' }).click();
    await page.locator('#token-expires_at-error', { hasText: 'must be in the future' }).waitFor();
    assert.equal(await page.locator('#token-gateways-error').count(), 0);

    // Metadata that is not JSON is caught before it is sent.
    await page.fill('#token-expires_at', '');
    await page.fill('#token-metadata', '{team: search');
    await form.getByRole('button', { name: 'Create token' }).click();
    await page.locator('#token-metadata-error', { hasText: 'JSON object' }).waitFor();

    await page.fill('#token-metadata', '{"team": "search"}');
    await form.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.locator('code[data-token]').textContent()).trim();
    assert.equal(await page.locator('.field-error').count(), 0);
    const listed = (await admin(stack, 'GET', '/accounts/local/ai-gateway/tokens')).json.result.find((t) => t.name === 'scoped-ci');
    assert.deepEqual(listed.gateways, [GATEWAY]);
    assert.deepEqual(listed.models, ['gpt-4o-mini']);
    assert.deepEqual(listed.metadata, { team: 'search' });
    assert.deepEqual(listed.rate_limit, { limit: 100, interval: 60, technique: 'fixed' });
    assert.deepEqual(listed.budget, { limit: 0.01, window: 'day' });
    assert.equal(listed.expires_at, null);
    scoped = { id: listed.id, token };

    // In scope it works; another model is refused before anything is sent.
    const auth = { 'cf-aig-authorization': `Bearer ${token}` };
    for (const content of ['scoped one', 'scoped two', 'scoped three']) {
      assert.equal((await chat(stack, GATEWAY, { content, headers: auth })).status, 200);
    }
    const outside = await chat(stack, GATEWAY, { content: 'other model', model: 'gpt-4o', headers: auth });
    assert.equal(outside.status, 403);
    assert.equal(JSON.parse(outside.text).error[0].code, 2101);

    // The row shows the scope, and the spend that GET …/tokens/{id} reports.
    await page.getByRole('button', { name: 'Refresh spend' }).click();
    const row = page.locator(`tr[data-token-id="${listed.id}"]`);
    for (const [field, text] of [
      ['gateways', GATEWAY],
      ['models', 'gpt-4o-mini'],
      ['metadata team', 'search'],
      ['rate limit', '100 per 60 s, fixed'],
      ['budget', '$0.0100 per day (UTC)'],
    ]) {
      assert.equal((await row.locator(`[data-scope-field="${field}"] dd`).textContent()).trim(), text, field);
    }
    const spend = (await admin(stack, 'GET', `/accounts/local/ai-gateway/tokens/${listed.id}`)).json.result.spend;
    assert.ok(spend.spent > 0, 'the requests cost something');
    assert.ok(Math.abs(spend.spent + spend.remaining - 0.01) < 1e-9);
    await assertSpend(row.locator('[data-cell="spend"]'), spend);
    await shot('tokens-scope');
  });

  test('analytics show spend per run token (by name) and per metadata value, as the analytics API counts it', async () => {
    // Rows reach analytics through the log writer: wait until the API counts all three.
    const grouped = async (groupBy, start, end) => {
      const q = new URLSearchParams({ gateway_id: GATEWAY, group_by: groupBy, start, end, interval: 'hour' });
      return (await admin(stack, 'GET', `/accounts/local/ai-gateway/analytics?${q}`)).json.result.series;
    };
    const sums = (series, key, value) => {
      const points = series.filter((s) => (s.group?.[key] ?? null) === value).flatMap((s) => s.points);
      return { requests: points.reduce((a, p) => a + p.requests, 0), cost: points.reduce((a, p) => a + p.cost, 0) };
    };
    const day = () => [new Date(Date.now() - 86_400_000).toISOString(), new Date(Date.now() + 60_000).toISOString()];
    await until('the scoped token\'s requests in analytics', async () => sums(await grouped('token', ...day()), 'token', scoped.id).requests >= 3);

    await go(`/gateways/${GATEWAY}/analytics`);
    const byToken = page.getByRole('table', { name: 'Spend by run token' });
    const row = byToken.locator(`tr[data-group="${scoped.id}"]`);
    await row.waitFor();
    assert.match(await row.locator('th').textContent(), /^scoped-ci/, 'the token is named');
    const expected = sums(await grouped('token', ...day()), 'token', scoped.id);
    assert.equal(await row.locator('[data-col="requests"]').textContent(), String(expected.requests));
    assertUsd(await row.locator('[data-col="cost"]').textContent(), expected.cost, 'token cost');
    // The earlier test's token is revoked: no longer listed, shown by its id.
    await byToken.getByText('(revoked)').first().waitFor();

    // By a metadata key: the token's metadata is on each of its requests.
    const section = page.getByRole('region', { name: /Spend by/ });
    await section.getByRole('button', { name: 'Metadata key' }).click();
    await page.fill('#spend-by-key', 'team');
    await section.getByRole('button', { name: 'Group', exact: true }).click();
    const team = page.getByRole('table', { name: 'Spend by metadata.team' }).locator('tr[data-group="search"]');
    await team.waitFor();
    const byTeam = sums(await grouped('metadata.team', ...day()), 'metadata.team', 'search');
    assert.equal(await team.locator('[data-col="requests"]').textContent(), String(byTeam.requests));
    assertUsd(await team.locator('[data-col="cost"]').textContent(), byTeam.cost, 'team cost');
    assert.match(page.url(), /spend_by=metadata\.team/);
    await page.locator('#spend-by-title').scrollIntoViewIfNeeded();
    await shot('analytics-spend-by');

    // The grouping is in the URL: a reload keeps it.
    await page.reload();
    await page.getByRole('table', { name: 'Spend by metadata.team' }).locator('tr[data-group="search"]').waitFor();
  });

  test('a gateway\'s budgets show what each spend limit has spent and has left, as the spend ledger counts it', async () => {
    const rules = [
      { id: 'daily', limit: 1, window: 86400 },
      { id: 'per-team', limit: 0.5, window: 3600, metadata: { team: { mode: 'partition' } } },
      { id: 'claude', limit: 2, window: 3600, technique: 'sliding', provider: { mode: 'filter', values: ['anthropic'] } },
    ];
    const put = await admin(stack, 'PUT', `/accounts/local/ai-gateway/gateways/${GATEWAY}`, { spend_limits: { rules } });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const auth = { 'cf-aig-authorization': `Bearer ${scoped.token}` };
    for (const content of ['budgeted one', 'budgeted two']) {
      assert.equal((await chat(stack, GATEWAY, { content, headers: auth })).status, 200);
    }

    await go(`/gateways/${GATEWAY}`);
    await clickTab('Budgets');
    await page.waitForURL('**/budgets');
    const table = page.getByRole('table', { name: 'Spend limits' });
    await table.waitFor();
    const spend = (await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}/spend`)).json.result;
    const daily = spend.rules.find((r) => r.id === 'daily');
    assert.ok(daily.spend.spent > 0, 'the two requests cost something');
    await assertSpend(table.locator('tr[data-rule="daily"] [data-cell="spend"]'), daily.spend);
    assert.equal((await table.locator('tr[data-rule="daily"] td').nth(0).textContent()).trim(), 'every request');
    // A rule that did not apply has spent nothing.
    const claude = table.locator('tr[data-rule="claude"]');
    assert.equal((await claude.locator('td').nth(0).textContent()).trim(), 'provider anthropic');
    assert.equal((await claude.locator('[data-spent]').textContent()).trim(), '$0');
    // A partitioned rule has a bucket per value, and links to the spend per value.
    const perTeam = table.locator('tr[data-rule="per-team"]');
    assert.match(await perTeam.textContent(), /A bucket per metadata\.team/);
    await shot('gateway-budgets');
    await perTeam.getByRole('link', { name: 'Spend per value' }).click();
    await page.getByRole('table', { name: 'Spend by metadata.team' }).locator('tr[data-group="search"]').waitFor();

    const cleared = await admin(stack, 'PUT', `/accounts/local/ai-gateway/gateways/${GATEWAY}`, { spend_limits: null });
    assert.equal(cleared.status, 200);
  });

  test('the Safety tab edits the guardrails and shows the DLP policies with the account\'s custom profiles', async () => {
    const profile = await admin(stack, 'POST', '/accounts/local/ai-gateway/dlp/profiles', {
      name: 'Badges',
      entries: [{ name: 'badge', pattern: { regex: 'BADGE-[0-9]{6}' } }],
    });
    assert.equal(profile.status, 200, JSON.stringify(profile.json));
    const id = profile.json.result.id;
    const policy = { id: 'badges-in', action: 'FLAG', check: ['REQUEST'], enabled: true, profiles: ['financial', id] };
    const put = await admin(stack, 'PUT', `/accounts/local/ai-gateway/gateways/${GATEWAY}`, { dlp: { enabled: true, policies: [policy] } });
    assert.equal(put.status, 200, JSON.stringify(put.json));

    await go(`/gateways/${GATEWAY}`);
    await clickTab('Safety');
    await page.waitForURL('**/safety');
    const row = page.getByRole('table', { name: 'DLP policies' }).locator('tr[data-policy="badges-in"]');
    await row.waitFor();
    assert.match(await row.textContent(), /financial, Badges/, 'a custom profile is shown by its name');
    // The form shows the stored policy: Flag on requests with both profiles.
    assert.equal(await page.locator('#dlp-action-REQUEST').inputValue(), 'FLAG');
    assert.equal(await page.locator('#dlp-action-RESPONSE').inputValue(), '');
    assert.ok(await page.getByLabel('Badges, requests').isChecked());
    assert.ok(await page.getByLabel('financial (Financial information), requests').isChecked());

    const s1 = page.getByLabel('S1 Violent crimes, prompt');
    const p1 = page.getByLabel('P1 Prompt injection, response');
    await s1.selectOption('BLOCK');
    await p1.selectOption('FLAG');
    await page.getByRole('button', { name: 'Save guardrails' }).click();
    await page.getByText('Guardrails saved').waitFor();
    let saved = (await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}`)).json.result;
    assert.deepEqual(saved.guardrails, { prompt: { S1: 'BLOCK' }, response: { P1: 'FLAG' } });
    await shot('gateway-safety');

    // No rule left turns guardrails off.
    await s1.selectOption('');
    await p1.selectOption('');
    await page.getByRole('button', { name: 'Save guardrails' }).click();
    await page.getByText('Guardrails saved').waitFor();
    saved = (await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}`)).json.result;
    assert.equal(saved.guardrails, null);

    assert.equal((await admin(stack, 'PUT', `/accounts/local/ai-gateway/gateways/${GATEWAY}`, { dlp: null })).status, 200);
    assert.equal((await admin(stack, 'DELETE', `/accounts/local/ai-gateway/dlp/profiles/${id}`)).status, 200);
  });

  test('a DLP profile is tested before it is saved, chosen on the Safety tab, and its match shown in the log by entry id', async () => {
    const PROFILES = '/accounts/local/ai-gateway/dlp/profiles';
    await clickNav('DLP profiles');
    await page.waitForURL('**/dlp');
    await page.getByRole('heading', { name: 'DLP profiles', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'New profile' }).click();
    await page.fill('#dlp-name', 'Employee badges');
    await page.fill('#dlp-entry-0-name', 'project');
    await page.fill('#dlp-entry-0-regex', 'PRJ-[A-Z]{3}');
    await page.getByRole('button', { name: 'Add entry' }).click();
    await page.fill('#dlp-entry-1-name', 'badge');
    await page.fill('#dlp-entry-1-regex', '(BADGE-[0-9]{6}');

    // A bad pattern: the API's message is shown next to the entry it names, and nothing is saved.
    await page.getByRole('button', { name: 'Save profile' }).click();
    const entryError = page.locator('#dlp-entry-1-error');
    await entryError.waitFor();
    assert.match(await entryError.textContent(), /^pattern\.regex: is not a valid regex/);
    assert.equal(await page.locator('#dlp-entry-0-error').count(), 0, 'only the entry the error names');
    const none = (await admin(stack, 'GET', PROFILES)).json.result;
    assert.ok(!none.some((p) => p.name === 'Employee badges'), 'nothing saved');

    // Fixed, then tested as edited (unsaved): the matches are marked, the text stays text.
    await page.fill('#dlp-entry-1-regex', 'BADGE-[0-9]{6}');
    // Accents and an emoji before the matches: the API's byte offsets land on the right characters.
    const text = `café ☕ badge BADGE-123456 for ${XSS_IMG} 😀 on PRJ-ABC`;
    await page.fill('#dlp-test-text', text);
    await page.getByRole('button', { name: 'Test', exact: true }).click();
    const marks = page.locator('.dlp-highlight mark');
    await untilIs('two marks', () => marks.count(), 2);
    assert.deepEqual(await marks.allTextContents(), ['BADGE-123456', 'PRJ-ABC']);
    assert.equal(await page.locator('.dlp-highlight').textContent(), text);
    assert.equal(await page.locator('.dlp-highlight img').count(), 0, 'no element from the text');
    assert.equal(await marks.nth(0).getAttribute('title'), 'badge');
    assert.equal(await entryError.count(), 0, 'the fixed entry has no error left');
    await shot('dlp-profile-editor');

    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByText('Profile Employee badges saved (version 1)').waitFor();
    const saved = (await admin(stack, 'GET', PROFILES)).json.result.find((p) => p.name === 'Employee badges');
    assert.ok(saved, 'saved through the API');
    assert.deepEqual(
      saved.entries.map((e) => [e.name, e.enabled, e.pattern.regex]),
      [
        ['project', true, 'PRJ-[A-Z]{3}'],
        ['badge', true, 'BADGE-[0-9]{6}'],
      ],
    );
    await page.getByRole('table', { name: 'Custom DLP profiles' }).locator(`tr[data-profile="${saved.id}"]`).waitFor();

    // The Safety tab: the API's error is shown on save, then requests are flagged with the profile.
    await go(`/gateways/${GATEWAY}`);
    await clickTab('Safety');
    await page.waitForURL('**/safety');
    await page.selectOption('#dlp-action-REQUEST', 'FLAG');
    await page.getByLabel('Employee badges, requests').check();
    await page.selectOption('#dlp-action-RESPONSE', 'BLOCK');
    await page.getByRole('button', { name: 'Save DLP' }).click();
    await page.locator('.notice-error', { hasText: 'profiles: 1 to 16 profile ids' }).waitFor();
    await page.selectOption('#dlp-action-RESPONSE', '');
    await page.getByRole('button', { name: 'Save DLP' }).click();
    await page.getByText('DLP settings saved').waitFor();
    const gw = (await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}`)).json.result;
    assert.deepEqual(gw.dlp, {
      enabled: true,
      policies: [{ id: 'requests', action: 'FLAG', check: ['REQUEST'], enabled: true, profiles: [saved.id] }],
    });
    await page.getByRole('table', { name: 'DLP policies' }).locator('tr[data-policy="requests"]', { hasText: 'Employee badges' }).waitFor();
    await shot('gateway-safety-dlp');

    // A request through the gateway: flagged, and the log detail shows the entry, never the text.
    const run = await admin(stack, 'POST', '/accounts/local/ai-gateway/tokens', { name: 'dlp-e2e' });
    assert.equal(run.status, 200, JSON.stringify(run.json));
    const res = await chat(stack, GATEWAY, {
      content: 'my badge is BADGE-654321',
      headers: { 'cf-aig-authorization': `Bearer ${run.json.result.token}` },
    });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.headers.get('cf-aig-dlp'), 'the cf-aig-dlp header');
    const logId = res.headers.get('cf-aig-log-id');
    const row = (await admin(stack, 'GET', `/accounts/local/ai-gateway/gateways/${GATEWAY}/logs/${logId}`)).json.result;
    const badge = saved.entries[1].id;
    assert.deepEqual(JSON.parse(row.dlp).matches, [`${saved.id}.${badge}`]);
    await go(`/gateways/${GATEWAY}/logs/${logId}`);
    const section = page.locator('section[data-dlp-action="FLAG"]');
    await section.waitFor();
    await section.locator(`code[data-dlp-match="${saved.id}.${badge}"]`).waitFor();
    const finding = section.getByRole('table', { name: 'DLP findings' }).locator(`tr[data-profile="${saved.id}"]`);
    await finding.filter({ hasText: 'Employee badges' }).waitFor();
    assert.match(await finding.textContent(), new RegExp(`request.*badge ${badge}.*requests`));
    assert.doesNotMatch(await section.textContent(), /654321/, 'never the matched text');
    await section.scrollIntoViewIfNeeded();
    await shot('log-detail-dlp');

    // A profile a gateway uses cannot be deleted; once off the gateway, it is, after confirmation.
    await clickNav('DLP profiles');
    await page.waitForURL('**/dlp');
    await page.getByRole('button', { name: 'Delete profile Employee badges' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete profile' }).click();
    await page.locator('.notice-error', { hasText: `is used by gateway(s) ${GATEWAY}` }).waitFor();
    assert.equal((await admin(stack, 'PUT', `/accounts/local/ai-gateway/gateways/${GATEWAY}`, { dlp: null })).status, 200);
    await page.getByRole('button', { name: 'Delete profile Employee badges' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete profile' }).click();
    await page.getByText('Profile Employee badges deleted.').waitFor();
    await page.locator(`tr[data-profile="${saved.id}"]`).waitFor({ state: 'detached' });
    assert.equal((await admin(stack, 'GET', `${PROFILES}/${saved.id}`)).status, 404);
    assert.equal((await admin(stack, 'DELETE', `/accounts/local/ai-gateway/tokens/${run.json.result.id}`)).status, 200);
  });

  test('revokes a token by its name after confirmation; an unknown name is refused next to the field', async () => {
    await clickNav('Run tokens');
    await page.waitForURL('**/tokens');
    await page.fill('#revoke-by', 'no-such-token');
    await page.getByRole('button', { name: 'Revoke…' }).click();
    await page.locator('#revoke-by-error', { hasText: 'No token has the name or id no-such-token' }).waitFor();

    await page.fill('#revoke-by', 'scoped-ci');
    await page.getByRole('button', { name: 'Revoke…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(scoped.id).waitFor();
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await page.getByText('Token scoped-ci revoked').waitFor();
    await page.locator(`tr[data-token-id="${scoped.id}"]`).waitFor({ state: 'detached' });
    assert.equal((await admin(stack, 'GET', `/accounts/local/ai-gateway/tokens/${scoped.id}`)).status, 404);
    const after = await chat(stack, GATEWAY, { content: 'revoked scoped', headers: { 'cf-aig-authorization': `Bearer ${scoped.token}` } });
    assert.equal(after.status, 401);

    // A name two tokens share must be given as an id.
    const twins = [];
    for (let i = 0; i < 2; i++) twins.push((await admin(stack, 'POST', '/accounts/local/ai-gateway/tokens', { name: 'twin' })).json.result.id);
    await page.getByRole('button', { name: 'Refresh spend' }).click();
    await page.locator(`tr[data-token-id="${twins[1]}"]`).waitFor();
    await page.fill('#revoke-by', 'twin');
    await page.getByRole('button', { name: 'Revoke…' }).click();
    await page.locator('#revoke-by-error', { hasText: '2 tokens are named twin' }).waitFor();
    await page.fill('#revoke-by', twins[0]);
    await page.getByRole('button', { name: 'Revoke…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke token' }).click();
    await page.locator(`tr[data-token-id="${twins[0]}"]`).waitFor({ state: 'detached' });
    assert.equal((await admin(stack, 'GET', `/accounts/local/ai-gateway/tokens/${twins[1]}`)).status, 200, 'only the one named by its id');
    assert.equal((await admin(stack, 'DELETE', `/accounts/local/ai-gateway/tokens/${twins[1]}`)).status, 200);
  });

  test('stores a provider key that requests without one of their own get; the secret is never shown again', async () => {
    const SECRET = 'sk-dashboard-stored-canary-0123456789';
    await go(`/gateways/${GATEWAY}`);
    await clickTab('Provider keys');
    await page.waitForURL('**/keys');
    await page.getByRole('table', { name: 'Provider keys' }).waitFor();
    await page.getByText('No stored keys').waitFor();

    // The API's message appears next to the field it names.
    await page.fill('#key-provider', 'openia');
    await page.fill('#key-secret', SECRET);
    await page.click('text=Add key');
    await page.locator('#key-provider-error', { hasText: 'did you mean openai?' }).waitFor();

    await page.fill('#key-provider', 'openai');
    await page.fill('#key-alias', 'prod');
    await page.click('text=Add key');
    const row = page.locator('tr', { hasText: 'prod' });
    await row.locator('[data-status="active"]').waitFor();
    assert.equal(await page.inputValue('#key-secret'), '', 'the form forgets the secret');
    assert.match(await row.textContent(), /sk-d\.\.\.6789/);
    assert.match(await row.textContent(), /never/);
    await shot('provider-keys');

    // A request with a run token and no provider key goes upstream with the stored key.
    const token = (await admin(stack, 'POST', '/accounts/local/ai-gateway/tokens', { name: 'keys-e2e' })).json.result.token;
    const sent = await postJson(
      `${stack.url}/v1/local/${GATEWAY}/openai/chat/completions`,
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'stored key please' }] },
      { 'cf-aig-authorization': `Bearer ${token}` },
    );
    assert.equal(sent.status, 200);
    const recorded = await (await fetch(`${stack.mock.url}/__mock/requests`)).json();
    // The mock also collects the gateway's OTLP exports: find the chat request itself.
    const last = recorded.filter((r) => r.path_and_query.endsWith('/chat/completions')).at(-1);
    assert.deepEqual(
      last.headers.filter(([name]) => name === 'authorization').map(([, value]) => value),
      [`Bearer ${SECRET}`],
    );

    // After a reload: last used is shown, the secret is nowhere in the page.
    await page.reload();
    await row.locator('[data-status="active"]').waitFor();
    await until('last used shown', async () => !/never/.test(await row.textContent()));
    assert.doesNotMatch(await page.content(), new RegExp(SECRET));

    await page.getByRole('button', { name: 'Remove key prod of openai' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Remove key' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByText('No stored keys').waitFor();
  });

  test('a route is drawn as a graph; an invalid version is refused naming the element; deploy, roll back and the split observed', async () => {
    const GW = 'routes-e2e';
    assert.equal((await admin(stack, 'POST', '/accounts/local/ai-gateway/gateways', { id: GW })).status, 200);
    const elements = (model, fallback) => [
      { id: 'start', type: 'start', outputs: { next: { elementId: 'main' } } },
      {
        id: 'main',
        type: 'model',
        properties: { provider: 'openai', model, timeout: 30000, retries: 0 },
        outputs: { success: { elementId: 'end' }, ...(fallback ? { fallback: { elementId: fallback } } : {}) },
      },
      { id: 'end', type: 'end', outputs: {} },
    ];
    const ask = async () => {
      const sent = await postJson(
        `${stack.url}/v1/local/${GW}/compat/chat/completions`,
        { model: 'dynamic/support', messages: [{ role: 'user', content: 'route me' }] },
        { Authorization: `Bearer ${OPENAI_KEY}` },
      );
      assert.equal(sent.status, 200, sent.text);
      return sent.headers.get('cf-aig-model');
    };

    await go(`/gateways/${GW}`);
    await clickTab('Routes');
    await page.waitForURL('**/routes');
    await page.getByText('No routes yet').waitFor();

    // Create: the template is drawn as it is typed, then the route's live version.
    await page.fill('#route-name', 'support');
    await page.fill('#route-elements', JSON.stringify(elements('gpt-4o-mini')));
    await page.getByRole('img', { name: 'Graph of the new route' }).locator('[data-element-id="main"]').waitFor();
    await page.getByRole('button', { name: 'Create route' }).click();
    const graph = page.getByRole('img', { name: 'Graph of route support, live version' });
    await graph.locator('[data-element-id="main"]', { hasText: 'openai/gpt-4o-mini' }).waitFor();
    assert.equal(await graph.locator('[data-element-id]').count(), 3);
    assert.deepEqual(
      await graph.locator('.route-edge').evaluateAll((edges) => edges.map((e) => `${e.dataset.from}>${e.dataset.to}`)),
      ['start>main', 'main>end'],
    );
    await page.locator('tr[data-route="support"]').waitFor();
    assert.equal(await ask(), 'gpt-4o-mini');

    // Invalid: not JSON is said at once; the API's refusal names the element, next to the editor.
    const error = page.locator('#route-elements-error');
    await page.fill('#route-elements', '[{');
    await error.filter({ hasText: 'Not JSON' }).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Save version' }).isDisabled());
    await page.fill('#route-elements', JSON.stringify(elements('gpt-4.1-nano', 'ghost')));
    await page.getByRole('button', { name: 'Save version' }).click();
    await error.filter({ hasText: 'element "main"' }).waitFor();
    assert.match(await error.textContent(), /points to "ghost"/);
    assert.equal(await page.getByRole('textbox', { name: 'Elements (JSON)' }).getAttribute('aria-describedby'), 'route-elements-error');
    await page
      .getByRole('img', { name: 'Graph of the refused version' })
      .locator('[data-element-id="main"].route-node-marked')
      .waitFor();
    await shot('route-invalid-version');

    // A valid version is saved, and changes nothing until it is deployed.
    await page.fill('#route-elements', JSON.stringify(elements('gpt-4.1-nano')));
    await page.getByRole('button', { name: 'Save version' }).click();
    await page.getByText(/saved; deploy it to make it live/).waitFor();
    const versions = page.getByRole('table', { name: 'Versions' });
    await untilIs('two versions', () => versions.locator('tbody tr').count(), 2);
    assert.equal(await ask(), 'gpt-4o-mini');
    await versions.getByRole('button', { name: /^Deploy version / }).click();
    await graph.locator('[data-element-id="main"]', { hasText: 'openai/gpt-4.1-nano' }).waitFor();
    assert.equal(await ask(), 'gpt-4.1-nano');
    await shot('route-deployed');

    // One-click rollback: the first version is live again, on the proxy too.
    await versions.getByRole('button', { name: /^Roll back to version / }).click();
    await graph.locator('[data-element-id="main"]', { hasText: 'openai/gpt-4o-mini' }).waitFor();
    assert.equal(await ask(), 'gpt-4o-mini');
    const deployments = page.getByRole('list', { name: 'Deployments' });
    await untilIs('three deployments', () => deployments.locator('li').count(), 3);
    assert.match(await deployments.locator('li').first().textContent(), /rollback/);

    // The split observed: three calls to gpt-4o-mini and one to gpt-4.1-nano, as analytics count them.
    const split = page.getByRole('table', { name: 'Traffic split' });
    await until('the split counts every call', async () => {
      await page.locator('.route-split').getByRole('button', { name: 'Refresh' }).click();
      const calls = await split.locator('tr[data-model="openai/gpt-4o-mini"] [data-calls]').allTextContents();
      return calls[0] === '3';
    });
    assert.equal(await split.locator('tr[data-model="openai/gpt-4.1-nano"] [data-calls]').textContent(), '1');
    assert.equal(await split.locator('tr[data-model="openai/gpt-4o-mini"] [data-share]').textContent(), '75%');
    await shot('routes');
  });

  test('registers an MCP server on the gateway, turns it off and removes it, as the API has it', async () => {
    const servers = `/accounts/local/ai-gateway/gateways/${GATEWAY}/mcp_servers`;
    await go(`/gateways/${GATEWAY}`);
    await clickTab('MCP servers');
    await page.waitForURL('**/mcp');
    await page.getByRole('table', { name: 'MCP servers' }).waitFor();
    await page.getByText('No MCP servers registered here.').waitFor();

    // The API's message appears next to the field it names.
    await page.fill('#mcp-name', 'Bad_Name');
    await page.fill('#mcp-url', 'http://127.0.0.1:9/mcp');
    await page.click('text=Add server');
    await page.locator('#mcp-name-error', { hasText: 'a-z, 0-9' }).waitFor();

    // A price the API refuses is named next to its field; a valid one is shown in the table.
    await page.fill('#mcp-name', 'search');
    await page.fill('#mcp-price', '-1');
    await page.click('text=Add server');
    await page.locator('#mcp-price-error', { hasText: 'US dollars per tool call' }).waitFor();
    await page.fill('#mcp-price', '0.005');
    await page.click('text=Add server');
    const row = page.locator('tr', { hasText: 'search' });
    await row.locator('[data-enabled="true"]').waitFor();
    await page.getByText('its tools are search__<tool>').waitFor();
    let stored = (await admin(stack, 'GET', servers)).json.result;
    assert.deepEqual(
      stored.map((s) => [s.name, s.url, s.enabled, s.key, s.cost_per_call]),
      [['search', 'http://127.0.0.1:9/mcp', true, null, 0.005]],
    );
    assert.equal((await row.locator('[data-cost-per-call]').textContent()).trim(), '$0.005');
    await shot('mcp-servers');

    await page.getByRole('button', { name: 'Turn off MCP server search' }).click();
    await row.locator('[data-enabled="false"]').waitFor();
    stored = (await admin(stack, 'GET', servers)).json.result;
    assert.equal(stored[0].enabled, false);

    await page.getByRole('button', { name: 'Remove MCP server search' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Remove server' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByText('No MCP servers registered here.').waitFor();
    assert.deepEqual((await admin(stack, 'GET', servers)).json.result, []);
  });

  test('HTML and script in prompts, models and metadata are shown as inert text', async () => {
    assert.equal((await admin(stack, 'POST', '/accounts/local/ai-gateway/gateways', { id: 'xss' })).status, 200);
    const content = `${XSS_IMG}${XSS_SCRIPT} please summarise`;
    const model = `gpt-4o-mini${XSS_IMG}`;
    const res = await chat(stack, 'xss', {
      content,
      model,
      headers: { 'cf-aig-metadata': JSON.stringify({ note: XSS_IMG, tag: XSS_SCRIPT }) },
    });
    assert.equal(res.status, 200, res.text);

    const inert = async () => {
      const report = await watched.report();
      assert.deepEqual(report.csp, [], 'CSP violations');
      assert.deepEqual(report.dialogs, [], 'dialogs');
      assert.equal(await page.evaluate(() => typeof window.__pwned), 'undefined', 'no script ran');
      assert.equal(await page.locator('main img').count(), 0, 'no <img> element from data');
      assert.equal(await page.evaluate(() => document.querySelectorAll('script').length), 1, 'only the bundle');
      assert.equal(await page.evaluate(() => document.querySelectorAll('script:not([src])').length), 0);
    };

    await go('/gateways/xss/logs');
    await page.locator('tr[data-log-id]').first().waitFor();
    await page.waitForLoadState('networkidle');
    await inert();
    await page.locator('.chip', { hasText: `note: ${XSS_IMG}` }).waitFor();
    await page.locator('td.cell-model', { hasText: model }).waitFor();

    await page.locator('tr[data-log-id] a').first().click();
    const request = page.locator('[data-body="request"] pre');
    await request.waitFor();
    assert.ok((await request.textContent()).includes(JSON.stringify(content).slice(1, -1)), 'payload shown as text');
    await page.locator('.kv td', { hasText: XSS_SCRIPT }).waitFor();
    await page.locator('[data-body="request"]').getByRole('button', { name: 'Raw' }).click();
    await page.locator('[data-body="request"] button[aria-pressed="true"]', { hasText: 'Raw' }).waitFor();
    await inert();
    assert.ok((await page.locator('main').textContent()).includes(XSS_SCRIPT));

    await go('/gateways/xss/analytics');
    await page.locator('[data-metric="requests"]').waitFor();
    await until('model option', async () => (await page.locator('option', { hasText: model }).count()) === 1);
    await page.getByLabel('Model').selectOption(model);
    await untilIs('filtered by that model', () => metric('requests'), '1');
    await inert();
    await shot('xss-inert');
    // afterEach also checks: no dialog fired, no CSP report, no console error.
  });

  test('works on a phone, by keyboard, and in the dark theme', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await go(`/gateways/${GATEWAY}/logs`);
    await page.locator('tr[data-log-id]').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page does not scroll sideways (${overflow}px)`);
    await shot('phone-logs');
    await go(`/gateways/${GATEWAY}/analytics`);
    await page.locator('[data-chart="requests"] .uplot').waitFor();
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)) <= 1);
    const chartWidth = (await page.locator('[data-chart="requests"] canvas').boundingBox()).width;
    assert.ok(chartWidth <= 390, `chart fits (${chartWidth})`);
    await shot('phone-analytics');
    await page.setViewportSize({ width: 1280, height: 860 });

    // Keyboard: skip link first, then the main navigation; Enter follows links.
    await go('/');
    await page.getByRole('heading', { name: 'Gateways', level: 1 }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    const seen = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      seen.push(await page.evaluate(() => document.activeElement?.textContent?.trim()));
    }
    assert.ok(seen.includes('Run tokens'), `tab order: ${seen.join(' | ')}`);
    while ((await page.evaluate(() => document.activeElement?.textContent?.trim())) !== 'Run tokens') {
      await page.keyboard.press('Shift+Tab');
    }
    await page.keyboard.press('Enter');
    await page.waitForURL('**/tokens');
    // The confirm dialog is reachable and cancellable with the keyboard.
    await go('/');
    await page.getByRole('button', { name: 'Delete gateway xss' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });

    // Dark theme follows the system.
    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 120, `dark background (${bg})`);
    await go(`/gateways/${GATEWAY}/analytics`);
    await page.locator('[data-chart="requests"] .uplot').waitFor();
    await shot('dark-analytics');
    await go('/');
    await page.locator('tr[data-gateway]').first().waitFor();
    await shot('dark-gateways');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('lists gateways with today’s counts, and deletes one after confirmation', async () => {
    // "Today" starts at the browser's midnight: the API is asked for the same window, and a
    // run that crosses midnight while the page loads looks again.
    const midnight = () =>
      page.evaluate(() => {
        const day = new Date();
        day.setHours(0, 0, 0, 0);
        return day.toISOString();
      });
    const row = page.locator(`tr[data-gateway="${GATEWAY}"]`);
    let start;
    do {
      start = await midnight();
      await go('/');
      await row.waitFor();
    } while (start !== (await midnight()));
    const api = await admin(
      stack,
      'GET',
      `/accounts/local/ai-gateway/analytics?gateway_id=${GATEWAY}&group_by=gateway&start=${encodeURIComponent(start)}`,
    );
    assert.equal(await row.locator('[data-col="requests"]').textContent(), String(api.json.result.totals.requests));
    assert.equal(await row.locator('[data-col="errors"]').textContent(), String(api.json.result.totals.errors));
    assert.match(await row.locator('[data-col="cost"]').textContent(), /^\$/);
    await shot('gateways');

    await page.getByRole('button', { name: 'Delete gateway xss' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await admin(stack, 'GET', '/accounts/local/ai-gateway/gateways/xss')).status, 200, 'cancel keeps it');
    await page.getByRole('button', { name: 'Delete gateway xss' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete gateway' }).click();
    await page.getByText('Gateway xss deleted.').waitFor();
    await page.locator('tr[data-gateway="xss"]').waitFor({ state: 'detached' });
    assert.equal((await admin(stack, 'GET', '/accounts/local/ai-gateway/gateways/xss')).status, 404);
  });

  test('a realtime WebSocket session is one row in the logs, marked as a session', async () => {
    assert.equal((await admin(stack, 'POST', '/accounts/local/ai-gateway/gateways', { id: 'sessions' })).status, 200);
    // The browser's own WebSocket, the key in a subprotocol as browser clients send it.
    const url = `${stack.url.replace(/^http/, 'ws')}/v1/local/sessions/openai/realtime?model=gpt-realtime`;
    const closed = await page.evaluate(
      ([url, key]) =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(url, ['realtime', `openai-insecure-api-key.${key}`]);
          ws.onmessage = (event) => {
            const type = JSON.parse(event.data).type;
            if (type === 'session.created') ws.send(JSON.stringify({ type: 'response.create' }));
            if (type === 'response.done') ws.close(1000, 'done');
          };
          ws.onclose = (event) => resolve(event.code);
          ws.onerror = () => reject(new Error('the session failed'));
        }),
      [url, OPENAI_KEY],
    );
    assert.equal(closed, 1000);
    const logs = '/accounts/local/ai-gateway/gateways/sessions/logs';
    await until('the session row', async () => (await admin(stack, 'GET', logs)).json.result?.length === 1);
    const [session] = (await admin(stack, 'GET', logs)).json.result;
    assert.equal(session.status_code, 101);

    await go('/gateways/sessions/logs');
    const row = page.locator(`tr[data-log-id="${session.id}"]`);
    await row.locator('[data-kind="websocket"]', { hasText: 'WebSocket' }).waitFor();
    assert.match(await row.textContent(), new RegExp(`${session.tokens_in} / ${session.tokens_out}`));
    await row.locator('a').click();
    await page.waitForURL(`**/logs/${session.id}`);
    await page.locator('[data-kind="websocket"]').waitFor();
    assert.equal((await admin(stack, 'DELETE', '/accounts/local/ai-gateway/gateways/sessions')).status, 200);
  });

  test('signs out: the token is forgotten, in every tab; a refused token returns to the login', async () => {
    const other = await browser.context.newPage();
    await other.goto(`${stack.url}/tokens`);
    await other.getByRole('heading', { name: 'Run tokens', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#login-token').waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('tollgate.adminToken')), null);
    // The other tab of this browser signs out with it.
    await other.locator('#login-token').waitFor();
    await other.close();
    await go('/tokens');
    await page.locator('#login-token').waitFor();
    assert.equal(await page.locator('table').count(), 0);

    // A token the gateway no longer accepts (rotated, server restarted) ends the session.
    await page.evaluate(() => localStorage.setItem('tollgate.adminToken', 'a-token-that-was-rotated-away'));
    await go('/tokens');
    await page.getByText('The token was refused; sign in again.').waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('tollgate.adminToken')), null);
  });
});
