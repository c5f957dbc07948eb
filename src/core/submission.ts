import { randomBytes } from 'node:crypto';
import { headerFromAddresses } from './header-from.js';
import { HeaderBlock, LineEndings } from './message-checks.js';
import type { Clock, Logger, MessageSpool, Relay, RelayTransaction, RelayVerdict } from './ports.js';
import { receivedHeader } from './received-header.js';
import type { EffectiveLimits, LimitedLogin, SendLimits } from './send-limits.js';

/**
 * SPEC §6, §9, §14 and §15's submission, as one use case: who may send as whom, the header
 * check, the sending limits, the relay or the spool, DKIM. The SMTP edge feeds it the commands
 * of a session and translates its refusals into replies; it decides nothing itself.
 */

/** A logged-in sender (an app password's login is its mailbox's). */
export type Sender = LimitedLogin;

/** Where a session comes from: its id (for logs), the client's address and what it said in EHLO. */
export interface SubmissionClient {
  id: string;
  ip: string;
  helo: string;
}

export type RefusalReason =
  | 'sender-not-allowed'
  | 'header-from-not-allowed'
  | 'header-too-long'
  | 'bare-line-ending'
  | 'too-large'
  | 'too-many-recipients'
  | 'limit-reached'
  | 'relay-unavailable';

/** The use case refuses a command; the edge says why in its protocol's words. */
export class SubmissionRefused extends Error {
  constructor(readonly reason: RefusalReason) {
    super(reason);
    this.name = 'SubmissionRefused';
  }
}

/** The relay refused a command: its verdict is the client's, as it is. */
export class RelayRefused extends Error {
  constructor(readonly verdict: RelayVerdict) {
    super(verdict.text);
    this.name = 'RelayRefused';
  }
}

/** As Postfix's sender-login checks: a mailbox sends as itself, a credential as any address of its domain. */
export function mayUseSender(sender: Sender, address: string): boolean {
  const from = address.toLowerCase();
  if (sender.kind === 'mailbox') return from === sender.login;
  return from.slice(from.lastIndexOf('@') + 1) === sender.domainName;
}

/**
 * Each From: of the message must be an address the login may send as, or any other address could
 * be forged past the envelope check. A message without one is let through (RFC 5322 wants one,
 * but refusing is the receiver's call).
 */
const headersAllowed = (sender: Sender) => (headers: string) => headerFromAddresses(headers).every((address) => mayUseSender(sender, address));

export interface SubmissionDeps {
  /** SPEC §9: the relay accepted mail goes to, command by command; null: it is spooled. */
  relay: Relay | null;
  spool: MessageSpool;
  limits: SendLimits;
  /** SPEC §14: a DKIM signer of the sender's domain, or null when it has no keys. */
  signerFor: (domain: string) => Promise<((message: Buffer) => Promise<string>) | null>;
  clock: Clock;
  log: Logger;
  maxMessageBytes: number;
  /** The name in the Received: header of relayed mail. */
  hostname: string;
  /** SMTP_TRACE_CLIENT_IP: the client's address in that header. */
  traceClientIp: boolean;
  /** SPEC §19: the relay could not be reached, or refused a message at its end (`relay.failed`). */
  relayFailed?: (sender: Sender, ip: string, reason: string) => void;
}

/** One client session's mail, message by message. */
export interface SubmissionSession {
  /** MAIL FROM: a new message (whatever the one before left unfinished is given back). */
  mailFrom(address: string): Promise<void>;
  /** RCPT TO: within the message's and the login's limits, and accepted by the relay. */
  rcptTo(address: string): Promise<void>;
  /**
   * DATA: the message's lines as the client sent them (unstuffed); `sizeExceeded` is the edge's
   * own count past SMTP_MAX_MESSAGE_BYTES. Resolves to the text of the 250 reply.
   */
  data(message: AsyncIterable<Buffer>, sizeExceeded: () => boolean, envelope: { mailFrom: string; rcptTo: string[] }): Promise<string>;
  /** The session ended: an open relay transaction is released, recipients of an unfinished message are given back. */
  close(): void;
}

export function createSubmission({ relay, spool, limits, signerFor, clock, log, maxMessageBytes, hostname, traceClientIp, relayFailed }: SubmissionDeps) {
  /** What a relay's error tells: it could not be reached (or dropped us), or refused the message at its end. */
  const failureOf = (err: unknown, atEnd: boolean): string | null => {
    if (err instanceof SubmissionRefused) return null;
    if (err instanceof RelayRefused) return atEnd ? err.verdict.text.slice(0, 200) : null;
    return `unreachable: ${(err as Error).message}`.slice(0, 200);
  };
  return {
    /** Whatever accepting mail needs before the first client (the spool's directories). */
    ready: () => spool.ready(),

    /** The session of an authenticated `sender`. */
    open(sender: Sender, client: SubmissionClient): SubmissionSession {
      let tx: RelayTransaction | null = null;
      // The limits of the message under way (read at its MAIL FROM) and its recipients counted so far.
      let effective: EffectiveLimits = limits.defaults;
      let counted: Array<{ minute: number }> = [];

      const endTransaction = () => {
        const t = tx;
        tx = null;
        t?.release();
      };
      /**
       * Recipients counted for a message that was not sent are given back. The next message of the
       * session waits for it (its own recipients are checked against the counts without them).
       */
      const giveBack = async () => {
        const byMinute = new Map<number, number>();
        for (const { minute } of counted) byMinute.set(minute, (byMinute.get(minute) ?? 0) + 1);
        counted = [];
        await Promise.all(
          [...byMinute].map(([minute, n]) =>
            limits.release(sender.accountId, minute, n).catch((err: unknown) => log.warn({ err, login: sender.login }, 'sending count not given back')),
          ),
        );
      };
      const told = (err: unknown, atEnd: boolean) => {
        const reason = failureOf(err, atEnd);
        if (reason !== null) relayFailed?.(sender, client.ip, reason);
      };
      const verdictOf = (v: RelayVerdict) => {
        if (v.code >= 400) throw new RelayRefused(v);
      };

      /**
       * DATA through the relay: the header block is read first and checked (the relay never sees
       * a refused message); then DATA, the trace header and the message go to the relay as they
       * arrive, and the relay's reply to the end of data is the client's. A message found bad at
       * its end (a bare LF, too large) is never ended on the relay, which then discards it.
       */
      const relayData = async (chunks: AsyncIterator<Buffer>, sizeExceeded: () => boolean, mailFrom: string) => {
        if (!tx) throw new SubmissionRefused('relay-unavailable');
        const endings = new LineEndings();
        const head = new HeaderBlock();
        let bytes = 0;
        const feed = (chunk: Buffer) => {
          endings.feed(chunk);
          head.feed(chunk);
          bytes += chunk.length;
          return bytes <= maxMessageBytes;
        };
        const first: Buffer[] = [];
        while (!head.done) {
          const r = await chunks.next();
          if (r.done) break;
          if (feed(r.value)) first.push(r.value);
        }
        // Nothing goes to the relay (and so nothing is signed) that the From: check did not read whole.
        if (head.tooLong) throw new SubmissionRefused('header-too-long');
        if (endings.bad) throw new SubmissionRefused('bare-line-ending');
        if (!headersAllowed(sender)(head.text)) throw new SubmissionRefused('header-from-not-allowed');
        const trace = receivedHeader({
          helo: client.helo,
          clientIp: traceClientIp ? client.ip : null,
          hostname,
          id: randomBytes(8).toString('hex'),
          date: new Date(clock.now() * 1000),
        });
        async function* message() {
          yield Buffer.from(trace, 'latin1');
          yield* first;
          // Past a bare CR or LF nothing more goes to the relay: the message is refused at its end anyway.
          for (let r = await chunks.next(); !r.done; r = await chunks.next()) if (feed(r.value) && !endings.bad) yield r.value;
          endings.end();
        }
        const complete = () => !endings.bad && !sizeExceeded() && bytes <= maxMessageBytes;
        // SPEC §14: mail of a domain with DKIM keys is held whole (at most SMTP_MAX_MESSAGE_BYTES)
        // and goes out with its signatures on top; other mail streams through as it comes.
        async function* signed(sign: (message: Buffer) => Promise<string>) {
          const parts: Buffer[] = [];
          for await (const part of message()) parts.push(part);
          const whole = Buffer.concat(parts);
          const signatures = complete() ? await sign(whole).catch((err: unknown) => (log.warn({ err }, 'DKIM signing failed'), '')) : '';
          if (signatures) yield Buffer.from(signatures, 'latin1');
          yield whole;
        }
        const senderDomain = mailFrom.slice(mailFrom.lastIndexOf('@') + 1);
        const signer = senderDomain === '' ? null : await signerFor(senderDomain);
        const verdict = await tx.data(signer ? signed(signer) : message(), complete);
        if (verdict === null) throw new SubmissionRefused(endings.bad ? 'bare-line-ending' : 'too-large');
        verdictOf(verdict);
        log.info({ session: client.id, bytes, login: sender.login, relay: verdict.text }, 'message relayed');
        return verdict.text;
      };

      const spoolData = async (chunks: AsyncIterable<Buffer>, sizeExceeded: () => boolean, envelope: { mailFrom: string; rcptTo: string[] }) => {
        const result = await spool.accept(
          chunks,
          sizeExceeded,
          { mailFrom: envelope.mailFrom, rcptTo: envelope.rcptTo, login: sender.login, clientAddress: client.ip, receivedAt: clock.now() },
          headersAllowed(sender),
        );
        if (!result.ok) throw new SubmissionRefused(result.reason === 'sender-not-allowed' ? 'header-from-not-allowed' : result.reason);
        log.info({ session: client.id, spoolId: result.id, bytes: result.bytes, login: sender.login }, 'message spooled');
        return `2.0.0 Message queued as ${result.id}`;
      };

      return {
        async mailFrom(address) {
          await giveBack();
          if (!mayUseSender(sender, address)) throw new SubmissionRefused('sender-not-allowed');
          effective = await limits.effective(sender.accountId);
          if (!relay) return;
          try {
            if (!tx) tx = await relay.begin();
            verdictOf(await tx.mailFrom(address));
          } catch (err) {
            told(err, false);
            endTransaction();
            throw err;
          }
        },

        async rcptTo(address) {
          if (effective.maxRecipients > 0 && counted.length >= effective.maxRecipients) throw new SubmissionRefused('too-many-recipients');
          const { refused, minute } = await limits.reserve(sender.accountId, 1, effective);
          if (refused) {
            await limits.reached(sender, refused, refused === 'hour' ? effective.perHour : effective.perDay, client.ip);
            throw new SubmissionRefused('limit-reached');
          }
          if (!relay) {
            counted.push({ minute });
            return;
          }
          try {
            if (!tx) throw new SubmissionRefused('relay-unavailable');
            verdictOf(await tx.rcptTo(address));
            counted.push({ minute });
          } catch (err) {
            told(err, false);
            // A recipient the relay refused is not counted.
            await limits.release(sender.accountId, minute, 1).catch((e: unknown) => log.warn({ err: e, login: sender.login }, 'sending count not given back'));
            if (!(err instanceof RelayRefused)) endTransaction();
            throw err;
          }
        },

        async data(message, sizeExceeded, envelope) {
          const chunks = message[Symbol.asyncIterator]();
          let sent = false;
          try {
            // The spool's pipeline may end what it reads early; the client's stream is never ended by it.
            async function* rest() {
              for (let r = await chunks.next(); !r.done; r = await chunks.next()) yield r.value;
            }
            const text = relay ? await relayData(chunks, sizeExceeded, envelope.mailFrom) : await spoolData(rest(), sizeExceeded, envelope);
            sent = true;
            return text;
          } catch (err) {
            if (relay) told(err, true);
            throw err;
          } finally {
            // Whatever the client sent is read to its end, so that the next command is read as one.
            for (let r = await chunks.next(); !r.done; r = await chunks.next());
            if (sent) counted = [];
            else await giveBack();
            endTransaction();
          }
        },

        close() {
          void giveBack();
          endTransaction();
        },
      };
    },
  };
}

export type Submission = ReturnType<typeof createSubmission>;
