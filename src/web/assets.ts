import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';

interface Entry {
  file: string;
  type: string;
}

/** Bodies of one file as built: as it is, brotli and gzip. */
interface Bodies {
  identity: Buffer;
  br: Buffer;
  gzip: Buffer;
}

const YEAR = 365 * 86_400;

/** The coding a client takes, best first (brotli, gzip, none); `q=0` refuses one. */
export function chooseEncoding(accept: string | undefined, preferred: 'br' | 'gzip' = 'br'): 'br' | 'gzip' | 'identity' {
  const taken = new Set<string>();
  for (const part of (accept ?? '').toLowerCase().split(',')) {
    const [coding, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (coding && !(q && Number(q.slice(2)) === 0)) taken.add(coding.trim());
  }
  const gzip = taken.has('gzip') || taken.has('*');
  if (taken.has('br') && !(preferred === 'gzip' && gzip)) return 'br';
  return gzip ? 'gzip' : 'identity';
}

/**
 * The panel's static files, as `npm run build` made them (scripts/copy-assets.mjs): each under a
 * name with its content hash, so a browser keeps it for a year and asks again only when it changed,
 * and compressed once at build time rather than on every request.
 */
export function loadAssets(dir: string) {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) throw new Error(`the panel's static files are not built (${manifestFile} is missing): run npm run build`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, Entry>;
  const byFile = new Map(Object.values(manifest).map((e) => [e.file, e]));
  // Read on first request, then held: 2.6 MB for every file and coding.
  const bodies = new Map<string, Bodies>();
  const bodiesOf = (file: string): Bodies => {
    let b = bodies.get(file);
    if (!b) {
      const at = path.join(dir, file);
      b = { identity: readFileSync(at), br: readFileSync(`${at}.br`), gzip: readFileSync(`${at}.gz`) };
      bodies.set(file, b);
    }
    return b;
  };

  /** GET and HEAD /assets/<hashed name>. */
  const handler: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const entry = byFile.get(req.path.slice(1));
    if (!entry) return next();
    const coding = chooseEncoding(req.headers['accept-encoding']);
    const etag = `"${entry.file}-${coding}"`;
    res.set({
      'Content-Type': entry.type,
      'Cache-Control': `public, max-age=${YEAR}, immutable`,
      Vary: 'Accept-Encoding',
      ETag: etag,
    });
    if (req.headers['if-none-match'] === etag) return void res.status(304).end();
    const body = bodiesOf(entry.file)[coding];
    if (coding !== 'identity') res.set('Content-Encoding', coding);
    res.set('Content-Length', String(body.length));
    res.status(200).end(req.method === 'HEAD' ? undefined : body);
  };

  return {
    /** The URL of a static file by its source name (`style.css`, `zxcvbn-en.js`…). */
    url(name: string): string {
      const entry = manifest[name];
      if (!entry) throw new Error(`no static file ${name} in the build`);
      return `/assets/${entry.file}`;
    },
    handler,
  };
}
