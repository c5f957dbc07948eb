import { Writable } from 'node:stream';
import type { Logger } from '../../src/core/ports.js';
import { createLogger } from '../../src/log.js';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger at `level` whose JSON lines the test reads back, one object a line, in order. */
export function capturedLog(level: string): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  return { log: createLogger(level, stream), lines };
}
