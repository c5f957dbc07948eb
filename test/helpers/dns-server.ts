import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

/** The records of one name: TXT strings, SRV as `priority weight port target`, a CNAME target, addresses. */
export interface NameRecords {
  TXT?: string[];
  SRV?: string[];
  CNAME?: string;
  A?: string[];
  AAAA?: string[];
}

const TYPES = { A: 1, CNAME: 5, TXT: 16, AAAA: 28, SRV: 33 } as const;
type TypeName = keyof typeof TYPES;
const NAMES = new Map<number, TypeName>(Object.entries(TYPES).map(([k, v]) => [v, k as TypeName]));

const encodeName = (name: string) =>
  Buffer.concat([...name.replace(/\.$/, '').split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);

function rdataOf(type: TypeName, value: string): Buffer {
  switch (type) {
    case 'TXT': {
      // A TXT value longer than 255 bytes is several strings in one record (an RSA key is).
      const bytes = Buffer.from(value, 'utf8');
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length || i === 0; i += 255) {
        const part = bytes.subarray(i, i + 255);
        chunks.push(Buffer.from([part.length]), part);
      }
      return Buffer.concat(chunks);
    }
    case 'SRV': {
      const [priority, weight, port, target] = value.split(' ');
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(Number(priority), 0);
      fixed.writeUInt16BE(Number(weight), 2);
      fixed.writeUInt16BE(Number(port), 4);
      return Buffer.concat([fixed, encodeName(target === '.' ? '' : target!)]);
    }
    case 'CNAME':
      return encodeName(value);
    case 'A':
      return Buffer.from(value.split('.').map(Number));
    case 'AAAA': {
      // Expand `::` and write eight 16-bit groups.
      const [head, tail = ''] = value.split('::');
      const h = head ? head.split(':') : [];
      const t = tail ? tail.split(':') : [];
      const groups = value.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
      const out = Buffer.alloc(16);
      groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
      return out;
    }
  }
}

function record(owner: Buffer, type: TypeName, value: string): Buffer {
  const rdata = rdataOf(type, value);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPES[type], 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(60, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner, fixed, rdata]);
}

/**
 * A small authoritative DNS server on 127.0.0.1 (UDP) for the tests: it answers A, AAAA, CNAME, TXT
 * and SRV questions from `records` (name → its records; a bare array is TXT strings), follows a
 * CNAME within its own names, answers NXDOMAIN for names it does not have, and never answers
 * the names in `silent` (a resolver's timeout); `holdAnswers(ms)` delays every answer (a slow
 * server, so that a test can act while a lookup is under way). node:dgram suffices for that much of RFC 1035, and no
 * package is pulled in for it.
 */
export async function startDnsServer(records: Map<string, string[] | NameRecords>, { silent = new Set<string>() }: { silent?: Set<string> } = {}) {
  const socket = dgram.createSocket('udp4');
  const recordsOf = (name: string): NameRecords | undefined => {
    const r = records.get(name);
    return Array.isArray(r) ? { TXT: r } : r;
  };
  let questions = 0;
  let holdMs = 0;
  socket.on('message', (query, peer) => {
    if (query.length < 12) return;
    questions++;
    // The question: labels up to the zero byte, then its type and class.
    let offset = 12;
    const labels: string[] = [];
    while (offset < query.length && query[offset] !== 0) {
      const length = query[offset]!;
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString('latin1'));
      offset += length + 1;
    }
    const questionEnd = offset + 5;
    const type = NAMES.get(query.readUInt16BE(offset + 1));
    const name = labels.join('.').toLowerCase();
    if (silent.has(name)) return;
    const answers: Buffer[] = [];
    let owner = Buffer.from([0xc0, 0x0c]);
    let current = name;
    // Follow CNAMEs (a few hops) as an authoritative server does for its own names.
    for (let hop = 0; hop < 4 && type; hop++) {
      const here = recordsOf(current);
      if (!here) break;
      if (here.CNAME && type !== 'CNAME') {
        answers.push(record(owner, 'CNAME', here.CNAME));
        current = here.CNAME.replace(/\.$/, '').toLowerCase();
        owner = encodeName(current);
        continue;
      }
      const values = type === 'CNAME' ? (here.CNAME ? [here.CNAME] : []) : (here[type] ?? []);
      for (const v of values) answers.push(record(owner, type, v));
      break;
    }
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    // QR, AA, RD as asked; NXDOMAIN when the name is not known.
    header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | (records.has(name) ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const answer = Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
    const send = () => socket.send(answer, peer.port, peer.address);
    if (holdMs > 0) setTimeout(send, holdMs);
    else send();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port } = socket.address() as AddressInfo;
  return {
    port,
    records,
    /** Questions received so far. */
    questions: () => questions,
    /** Answers from now on wait `ms` (0: at once). */
    holdAnswers: (ms: number) => {
      holdMs = ms;
    },
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

