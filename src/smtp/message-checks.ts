/**
 * What mailpass checks in message data as it streams past, whether it is spooled or relayed:
 * line endings (SMTP smuggling) and the header block (the From: check).
 */

/**
 * Watches message data for a bare LF or a bare CR. A message that has one is refused whole:
 * different servers end lines (and so the data) differently, which is how SMTP smuggling
 * splits one message into two.
 */
export class LineEndings {
  bad = false;
  private prev = 0;
  feed(chunk: Buffer) {
    if (this.bad) return;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if ((c === 0x0a && this.prev !== 0x0d) || (this.prev === 0x0d && c !== 0x0a)) {
        this.bad = true;
        return;
      }
      this.prev = c;
    }
  }
  end() {
    if (this.prev === 0x0d) this.bad = true;
  }
}

/** The header block is read up to here; a longer one is cut (its From: is in the part kept, or missing). */
export const MAX_HEADER_BYTES = 64 * 1024;

/** Keeps the message's header block (up to the first empty line) as chunks stream past. */
export class HeaderBlock {
  private chunks: Buffer[] = [];
  private size = 0;
  done = false;
  feed(chunk: Buffer) {
    if (this.done) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    const joined = Buffer.concat(this.chunks);
    const end = joined.indexOf('\r\n\r\n');
    if (end >= 0 || this.size > MAX_HEADER_BYTES) {
      this.chunks = [joined.subarray(0, end >= 0 ? end + 2 : MAX_HEADER_BYTES)];
      this.done = true;
    } else {
      this.chunks = [joined];
    }
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}
