import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { HeaderBlock, LineEndings } from '../core/message-checks.js';
import type { MessageSpool } from '../core/ports.js';

/** The checks of message-checks.ts as stream stages of the spool's pipeline. */
class Checks extends Transform {
  readonly endings = new LineEndings();
  readonly headers = new HeaderBlock();
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void) {
    this.endings.feed(chunk);
    this.headers.feed(chunk);
    cb(null, chunk);
  }
  override _flush(cb: (err?: Error | null) => void) {
    this.endings.end();
    cb();
  }
}

/** fsync of a file, or of a directory so that a rename in it is durable. */
async function fsyncPath(target: string) {
  const fh = await open(target, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * One fsync shared by everyone who asks while it is pending (group commit): each caller is answered
 * by a call of `sync` that started after it asked, so whatever it did before asking (a rename in a
 * directory) is covered. Asked while one runs, a caller waits for the next, which starts when the
 * running one ends and serves everyone who asked meanwhile. An error reaches every caller it covers.
 */
export function sharedSync(sync: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const start = () =>
    (running = sync().finally(() => {
      running = null;
    }));
  return () => {
    if (next) return next;
    if (!running) return start();
    // Its outcome is its own callers'; the next one starts either way.
    next = running
      .catch(() => {})
      .then(() => {
        next = null;
        return start();
      });
    return next;
  };
}

/** `maxBytes`: past it the rest of the data is read and dropped, never written. */
export function createSpool(dataDir: string, maxBytes: number): MessageSpool {
  const dir = path.join(dataDir, 'spool');
  const tmp = path.join(dir, 'tmp');
  // Made when the SMTP server starts: a process that never receives mail (a CLI command) makes nothing.
  let made: Promise<unknown> | null = null;
  const ready = async () => void (await (made ??= mkdir(tmp, { recursive: true, mode: 0o700 })));
  // Messages that end together share the directory's fsync (under load, several per fsync).
  const syncDir = sharedSync(() => fsyncPath(dir));
  return {
    dir,
    ready,
    async accept(data, sizeExceeded, envelope, headersAllowed) {
      await ready();
      const id = randomUUID();
      const tmpEml = path.join(tmp, `${id}.eml`);
      const tmpJson = path.join(tmp, `${id}.json`);
      const check = new Checks();
      let bytes = 0;
      let spooled = false;
      try {
        await pipeline(
          data,
          check,
          async function* count(source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              bytes += chunk.length;
              if (bytes <= maxBytes) yield chunk;
            }
          },
          // flush: fsync before the close, in the stream's own open-write-close (no second open to sync).
          createWriteStream(tmpEml, { mode: 0o600, flush: true }),
        );
        if (sizeExceeded() || bytes > maxBytes) return { ok: false, reason: 'too-large' };
        if (check.endings.bad) return { ok: false, reason: 'bare-line-ending' };
        if (check.headers.tooLong) return { ok: false, reason: 'header-too-long' };
        if (headersAllowed && !headersAllowed(check.headers.text)) return { ok: false, reason: 'sender-not-allowed' };
        const meta = JSON.stringify({ id, ...envelope, size: bytes });
        await writeFile(tmpJson, meta, { mode: 0o600, flush: true });
        await rename(tmpEml, path.join(dir, `${id}.eml`));
        await rename(tmpJson, path.join(dir, `${id}.json`));
        await syncDir();
        spooled = true;
        return { ok: true, id, bytes };
      } finally {
        // What a refused or failed message left behind; a spooled one has no temporary files left.
        if (!spooled) {
          await rm(tmpEml, { force: true });
          await rm(tmpJson, { force: true });
        }
      }
    },
  };
}
