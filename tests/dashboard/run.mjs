// Runs the dashboard tests with Node's test runner, prints the spec report and a last line
// `N passed, N failed` (exit status 1 on any failure, or when no test ran).

import { dirname, join } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const files = [join(here, 'dashboard.test.mjs')];

let passed = 0;
let failed = 0;
let skipped = 0;

const stream = run({ files, concurrency: 1, timeout: 10 * 60_000 });
stream.on('test:pass', (data) => {
  if (data.details?.type === 'suite') return;
  if (data.skip || data.todo) skipped++;
  else passed++;
});
stream.on('test:fail', (data) => {
  if (data.details?.type === 'suite' && data.details?.error?.failureType === 'subtestsFailed') return;
  failed++;
});
stream.on('end', () => {
  const tail = skipped ? `, ${skipped} skipped` : '';
  process.stdout.write(`\n${passed} passed, ${failed} failed${tail}\n`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
});
stream.compose(spec).pipe(process.stdout);
