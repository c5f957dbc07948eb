import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { loadConfig, SETTING_NAMES } from '../../src/config.js';

/** The rows of the `| variable | default | meaning |` table of a Markdown file: names and default cell. */
function settingsTable(file: string) {
  const lines = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').split('\n');
  const start = lines.findIndex((l) => /^\| variable \| default \| meaning \|$/.test(l));
  assert.ok(start >= 0, `${file} has a settings table`);
  const rows: Array<{ names: string[]; defaultCell: string }> = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [, first = '', defaultCell = ''] = line.split('|').map((c) => c.trim());
    rows.push({ names: [...first.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]!), defaultCell });
  }
  return rows;
}

/** Each default a table shows as a value is the default the server uses. */
function checkDefaults(rows: ReturnType<typeof settingsTable>, atLeast: number) {
  const defaults = loadConfig({});
  let checked = 0;
  for (const { names, defaultCell } of rows) {
    const literal = /^`([^`]+)`$/.exec(defaultCell)?.[1];
    // Only a single value; `HOST` as the default of SMTP_HOST names another setting.
    if (names.length !== 1 || literal === undefined || SETTING_NAMES.includes(literal)) continue;
    assert.deepEqual(loadConfig({ [names[0]!]: literal }), defaults, `${names[0]}=${literal} is not the default`);
    checked++;
  }
  assert.ok(checked >= atLeast, `checked ${checked} defaults`);
}

describe('docs/operations.md settings table', () => {
  const rows = settingsTable('docs/operations.md');

  test('lists every setting the server reads, and nothing else', () => {
    const documented = rows.flatMap((r) => r.names).sort();
    assert.deepEqual(documented, [...SETTING_NAMES].sort());
  });

  test('each default it shows as a value is the default the server uses', () => checkDefaults(rows, 20));
});

describe("README.md's settings table (the ones most installations set)", () => {
  const rows = settingsTable('README.md');

  test('names only settings the server reads, each once, and links to the full table', () => {
    const names = rows.flatMap((r) => r.names);
    assert.deepEqual(names.filter((n) => !SETTING_NAMES.includes(n)), []);
    assert.equal(new Set(names).size, names.length);
    assert.match(readFileSync(new URL('../../README.md', import.meta.url), 'utf8'), /\(docs\/operations\.md#settings\)/);
  });

  test('each default it shows as a value is the default the server uses', () => checkDefaults(rows, 8));
});

test('the README stays short: at most 250 lines (issue 30); the detail is in docs/', () => {
  const lines = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').split('\n').length;
  assert.ok(lines <= 250, `README.md has ${lines} lines`);
});
