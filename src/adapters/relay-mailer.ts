import { randomBytes } from 'node:crypto';
import type { Mailer, Relay, RelayVerdict } from '../core/ports.js';

/** One header line; a value never carries a line break into the header block, and is RFC 2047-encoded when not ASCII. */
const header = (name: string, value: string) => `${name}: ${encodeWords(value.replace(/[\r\n]+/g, ' '))}\r\n`;

/**
 * A header value as RFC 2047 encoded words when it is not plain ASCII (a subject in French or
 * Polish): base64 of at most 45 bytes of whole characters each, so that every word stays within
 * the 75 characters the RFC allows, folded onto continuation lines.
 */
function encodeWords(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  const words: string[] = [];
  let chunk = '';
  for (const ch of value) {
    if (Buffer.byteLength(chunk + ch, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

const accepted = (step: string, verdict: RelayVerdict | null) => {
  if (!verdict || verdict.code >= 300) throw new Error(`the relay refused ${step}: ${verdict ? `${verdict.code} ${verdict.text}` : 'no answer'}`);
};

/**
 * mailpass's own messages (login alerts) through SPEC §9's relay: plain text, from the null
 * sender (RFC 3834: nothing answers or bounces an automatic notice), marked Auto-Submitted.
 */
export function createRelayMailer(relay: Relay, hostname: string): Mailer {
  return {
    async send({ to, from, subject, text }) {
      const message =
        header('From', from) +
        header('To', to) +
        header('Subject', subject) +
        header('Date', new Date().toUTCString()) +
        header('Message-ID', `<${randomBytes(12).toString('hex')}@${hostname}>`) +
        header('Auto-Submitted', 'auto-generated') +
        header('MIME-Version', '1.0') +
        header('Content-Type', 'text/plain; charset=utf-8') +
        header('Content-Transfer-Encoding', '8bit') +
        '\r\n' +
        text.replace(/\r?\n/g, '\r\n') +
        '\r\n';
      const tx = await relay.begin();
      try {
        accepted('MAIL FROM', await tx.mailFrom(''));
        accepted('RCPT TO', await tx.rcptTo(to));
        accepted('the message', await tx.data((async function* () {
          yield Buffer.from(message, 'utf8');
        })(), () => true));
      } finally {
        tx.release();
      }
    },
  };
}
