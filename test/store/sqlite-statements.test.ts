import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// SQLite built with STAT4 plans with a bound LIMIT's value, so a statement with a bare `LIMIT ?`
// is prepared again every time it runs with a new binding (7 µs a run; two such lists were a
// tenth of the admin domain page's CPU, issue 36.1). The store writes `LIMIT CAST(? AS INTEGER)`.
test('no statement of the SQLite store binds a bare LIMIT', () => {
  const dir = fileURLToPath(new URL('../../src/store/sqlite/', import.meta.url));
  const offenders = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(dir + f, 'utf8').matchAll(/LIMIT\s+[?@$:]\w*/gi)].map((m) => `${f}: ${m[0]}`));
  assert.deepEqual(offenders, []);
});
