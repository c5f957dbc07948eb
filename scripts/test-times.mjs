// A node:test reporter that writes each test file's time (its top-level tests' durations added
// up) as `<ms> <file>` lines; scripts/run-tests.mjs prints the slowest after each half.
import path from 'node:path';

export default async function* fileTimes(source) {
  const times = new Map();
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0 && event.data.file) {
      const file = path.relative(process.cwd(), event.data.file);
      times.set(file, (times.get(file) ?? 0) + (event.data.details?.duration_ms ?? 0));
    }
  }
  for (const [file, ms] of times) yield `${Math.round(ms)} ${file}\n`;
}
