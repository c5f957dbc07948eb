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

/**
 * The longest header block that is checked; a message whose header block is longer is refused
 * whole, since a From: past the part read could not be checked and would still be relayed and
 * DKIM-signed (Postfix's header_size_limit is 100 KiB by default; 64 KiB holds any real message's).
 */
export const MAX_HEADER_BYTES = 64 * 1024;

/** Keeps the message's header block (up to the first empty line) as chunks stream past. */
export class HeaderBlock {
  private chunks: Buffer[] = [];
  private size = 0;
  done = false;
  /** The header block is longer than MAX_HEADER_BYTES: it cannot be checked, and the message is refused. */
  tooLong = false;
  feed(chunk: Buffer) {
    if (this.done) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    const joined = Buffer.concat(this.chunks);
    const end = joined.indexOf('\r\n\r\n');
    if (end >= 0 && end + 2 <= MAX_HEADER_BYTES) {
      this.chunks = [joined.subarray(0, end + 2)];
      this.done = true;
    } else if (end >= 0 || this.size > MAX_HEADER_BYTES) {
      this.chunks = [];
      this.done = true;
      this.tooLong = true;
    } else {
      this.chunks = [joined];
    }
  }
  /** The whole header block; empty when it was too long to keep (see `tooLong`). */
  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}
