// Starts the real binaries (`tollgate-mock`, `tollgate serve`) and headless Chromium for the
// dashboard tests. Each process listens on port 0 and announces its address on the first line
// of stdout, which is read here: no fixed ports, no sleeping until ready.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const ADMIN_TOKEN = 'dashboard-tests-admin-token-0123456789';
export const OPENAI_KEY = 'sk-dashboard-test-openai-key';
export const ANTHROPIC_KEY = 'sk-ant-dashboard-test-key';
export const GEMINI_KEY = 'gemini-dashboard-test-key';
/** A bound on failures (a process that never announces itself), not a readiness wait. */
const STARTUP_TIMEOUT_MS = 60_000;

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function binary(envVar, name) {
  const path = process.env[envVar] || join(process.env.CARGO_TARGET_DIR || join(REPO, 'target'), 'debug', name);
  if (!existsSync(path)) {
    throw new Error(`${envVar}=${path} does not exist; build it (cargo build -p tollgate -p tollgate-mock-upstream)`);
  }
  return path;
}

/** The environment without Tollgate configuration variables, plus `extra`. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!(k.startsWith('TOLLGATE_') && k.includes('__'))) env[k] = v;
  }
  return { ...env, ...extra };
}

/** A child whose first stdout line starts with `prefix` followed by its URL. */
async function startProcess(name, argv, env, prefix) {
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no address line within ${STARTUP_TIMEOUT_MS} ms; stderr:\n${stderr}`)), STARTUP_TIMEOUT_MS);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolveLine(line);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name}: exited with ${code} before announcing its address; stderr:\n${stderr}`));
    });
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  lines.on('line', () => {});
  // Never leave a child behind, even when the test process dies.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  if (!first.startsWith(prefix)) {
    child.kill('SIGKILL');
    throw new Error(`${name}: expected a first line starting with ${JSON.stringify(prefix)}, got ${JSON.stringify(first)}`);
  }
  return {
    name,
    url: first.slice(prefix.length).trim().replace(/\/$/, ''),
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Where the dashboard links a log's trace; `{trace_id}` is replaced. */
export const TRACE_URL = 'http://traces.example.test/trace/{trace_id}';

/** The mock provider and a gateway in front of it, with its own temporary data dir. */
export async function startStack() {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-dashboard-'));
  const mock = await startProcess('tollgate-mock', [binary('TOLLGATE_MOCK_BIN', 'tollgate-mock'), '--listen', '127.0.0.1:0'], cleanEnv(), 'listening on ');
  const config = join(dataDir, 'tollgate.toml');
  writeFileSync(
    config,
    `[providers.openai]\nbase_url = "${mock.url}/v1"\n\n[providers.anthropic]\nbase_url = "${mock.url}"\n\n` +
      `[providers.google-ai-studio]\nbase_url = "${mock.url}"\n\n` +
      // Every request is traced to the mock (an OTLP endpoint too); the log detail links traces.
      `[otel]\nendpoint = "${mock.url}/v1/traces"\ntrace_url = "${TRACE_URL}"\n`,
  );
  let gateway;
  try {
    gateway = await startProcess(
      'tollgate',
      [binary('TOLLGATE_BIN', 'tollgate'), 'serve', '--listen', '127.0.0.1:0', '--data-dir', join(dataDir, 'data'), '--config', config],
      cleanEnv({ TOLLGATE_SERVER__ADMIN_TOKEN: ADMIN_TOKEN, TOLLGATE_LOG: 'warn' }),
      'tollgate listening on ',
    );
  } catch (e) {
    await mock.stop();
    throw e;
  }
  return {
    mock,
    gateway,
    url: gateway.url,
    async stop() {
      await gateway.stop();
      await mock.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A management API call with the admin token; returns the v4 envelope. */
export async function admin(stack, method, path, body) {
  const res = await fetch(`${stack.url}/client/v4${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

/** One chat completion through the gateway (OpenAI format); returns status, headers and body. */
export async function chat(stack, gateway, { content = 'Hello', model = 'gpt-4o-mini', headers = {}, stream = false } = {}) {
  const res = await fetch(`${stack.url}/v1/local/${gateway}/openai/chat/completions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${OPENAI_KEY}`, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({
      model,
      messages: [{ role: 'user', content }],
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export async function anthropic(stack, gateway, content = 'Hello Claude', extra = {}) {
  const res = await fetch(`${stack.url}/v1/local/${gateway}/anthropic/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': ANTHROPIC_KEY, 'anthropic-version': '2023-06-01', 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'claude-3-5-haiku-latest', max_tokens: 64, messages: [{ role: 'user', content }], ...extra }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A streamed Gemini generateContent (`alt=sse`) through the gateway's native route. */
export async function geminiStream(stack, gateway, text) {
  const res = await fetch(`${stack.url}/v1/local/${gateway}/google-ai-studio/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, {
    method: 'POST',
    headers: { 'x-goog-api-key': GEMINI_KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }] }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A POST of `body` (JSON) to a gateway URL: the unified (compat) and universal endpoints. */
export async function postJson(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/**
 * Debian's Chromium with a fresh profile directory (Playwright passes it as --user-data-dir).
 * One persistent context; pages change viewport and colour scheme themselves.
 */
export async function launchBrowser({ viewport = { width: 1280, height: 860 } } = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'tollgate-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    colorScheme: 'light',
    acceptDownloads: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A page that records everything that must never happen: CSP violations, console errors,
 * uncaught exceptions, dialogs (alert/confirm/prompt), and requests to other origins.
 */
export async function watchedPage(context, origin) {
  const page = await context.newPage();
  const problems = { csp: [], console: [], errors: [], dialogs: [], offsite: [] };
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.console.push(msg.text());
  });
  page.on('pageerror', (err) => problems.errors.push(String(err)));
  page.on('dialog', async (dialog) => {
    problems.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss().catch(() => {});
  });
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) problems.offsite.push(url);
  });
  return {
    page,
    problems,
    /** Everything recorded so far, CSP reports from the page included. */
    async report() {
      const csp = await page.evaluate(() => window.__cspViolations ?? []).catch(() => []);
      return { ...problems, csp: [...problems.csp, ...csp] };
    },
  };
}

export function screenshotDir() {
  const dir = process.env.TOLLGATE_SCREENSHOTS_DIR || join(REPO, 'target', 'dashboard-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
