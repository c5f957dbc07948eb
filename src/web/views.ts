import { readFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import ejs from 'ejs';
import type { Express, Response } from 'express';
import { chooseEncoding } from './assets.js';
import { escapeHtml } from './escape.js';

type Locals = Record<string, unknown>;
type Include = (child: string, values?: Locals) => string;
type Template = (locals: Locals, escapeFn: (value: unknown) => string, include: Include) => string;

/** ejs's own names in a compiled template, and the locals object itself: never read from the data. */
const OWN = new Set(['__append', '__output', 'escapeFn', 'include', 'locals', 'rethrow']);
const RESERVED = new Set(
  ('arguments await break case catch class const continue debugger default delete do else enum eval export extends false finally for ' +
    'function if implements import in instanceof interface let new null package private protected public return static super switch ' +
    'this throw true try typeof var void while with yield').split(' '),
);
/** A string literal of the compiled code (ejs writes the template's text as "…"; scriptlets may quote with '…'). */
const STRING = /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g;
const COMMENT = /\/\*[\s\S]*?\*\/|\/\/[^\n]*/g;
/** A name that is not a property (after a dot) nor part of a longer name or number. */
const NAME = /(?<![.\w$])[A-Za-z_$][\w$]*/g;
const DECLARED_FUNCTION = /\bfunction\s+([A-Za-z_$][\w$]*)/g;

/** Names no data can stand for: they are not writable on the global object. */
const FIXED = new Set(['undefined', 'NaN', 'Infinity', 'globalThis']);

/**
 * The names a template's code may read from its data: every name in its scriptlets but ejs's own,
 * JavaScript's words and the functions it declares (a `var` of the same name would overwrite the
 * hoisted function). A name that is only a parameter or a property key costs one read and is
 * shadowed or unused; a name missed would be a ReferenceError at render, which every page's test
 * would see. `globals` are the names the runtime defines (`Date`, `encodeURIComponent`): read from
 * the data only when the data has them, as `with` did.
 */
export function templateNames(source: string): { data: string[]; globals: string[] } {
  const code = source.replace(STRING, '""').replace(COMMENT, ' ');
  const functions = new Set(Array.from(code.matchAll(DECLARED_FUNCTION), (m) => m[1]!));
  const data = new Set<string>();
  const globals = new Set<string>();
  for (const [name] of code.matchAll(NAME)) {
    if (OWN.has(name) || RESERVED.has(name) || FIXED.has(name) || functions.has(name)) continue;
    (name in globalThis ? globals : data).add(name);
  }
  return { data: [...data], globals: [...globals] };
}

/**
 * Compiles a template to a function of (locals, escapeFn, include) that reads its data as plain
 * variables, each read once from `locals` at the start: ejs's default wraps the code in
 * `with (locals)`, and V8 looks every name up at run time inside a `with` (ejs's own `__append`
 * and `escapeFn` too, through the whole prototype chain of the locals first). The code between
 * the prologue and the return is ejs's, unchanged. `var`: the template's own `var`s may share a
 * name with its data, and a `var` again is no error (ejs's `destructuredLocals` declares with `let`).
 */
function compile(text: string, filename: string): Template {
  // No `compileDebug`: its line bookkeeping, one assignment per tag, was a tenth of a page's CPU;
  // an error names its view instead (render, below).
  const template = new (ejs as unknown as { Template: new (text: string, opts: ejs.Options) => { generateSource(): void; source: string } }).Template(text, {
    filename,
    compileDebug: false,
    _with: false,
  } as ejs.Options);
  template.generateSource();
  const names = templateNames(template.source);
  const reads = [...names.data.map((n) => `${n} = locals.${n}`), ...names.globals.map((n) => `${n} = "${n}" in locals ? locals.${n} : globalThis.${n}`)];
  const data = reads.length ? `  var ${reads.join(',\n    ')};\n` : '';
  const prologue = '  var __output = "";\n  function __append(s) { if (s !== undefined && s !== null) __output += s }\n' + data;
  return new Function('locals, escapeFn, include', `${prologue}${template.source}\n  return __output;\n`) as Template;
}

/**
 * The panel's templates, compiled once and rendered without copying their data (issue 36.1).
 *
 * Through `res.render`, Express merged app.locals, res.locals and the page's data into a new object,
 * then ejs copied it again for the page and three times more for each `include` (a page has up to
 * sixteen): a twentieth of a page's CPU went to copying the same forty names. Here a page's data
 * is one object whose prototype is the app's locals, and an include's own values are one object
 * more on top of it. The chain ends in a null prototype, so nothing added to Object.prototype can
 * be read as a template's value (what ejs's copies guard against by default).
 */
export class Views {
  private readonly compiled = new Map<string, Template>();

  constructor(private readonly dir: string) {}

  private template(name: string): Template {
    let template = this.compiled.get(name);
    if (!template) {
      const filename = path.join(this.dir, `${name.replace(/^\//, '')}.ejs`);
      if (!filename.startsWith(this.dir + path.sep)) throw new Error(`no view ${name}`);
      template = compile(readFileSync(filename, 'utf8'), filename);
      this.compiled.set(name, template);
    }
    return template;
  }

  /** Renders `name` over `locals`, whose chain must end in a null prototype (as renderWith makes it). */
  render(name: string, locals: Locals): string {
    // A template's `include(...)`: bound to the locals of the template that calls it, so nested
    // includes see their parents' values.
    const include: Include = (child, values) => this.render(child, values ? Object.assign(Object.create(locals) as Locals, values) : locals);
    try {
      return this.template(name)(locals, escapeHtml as (value: unknown) => string, include);
    } catch (err) {
      if (err instanceof Error && !(err as { view?: string }).view) Object.assign(err, { view: name, message: `${err.message} (in view ${name})` });
      throw err;
    }
  }
}

/**
 * Makes `res.render(view, data)` of this app render through `views`: the page's data over
 * res.locals over app.locals, sent with the status and Content-Type set before (HTML by default).
 * A template that throws goes to the error handlers, as Express's own render did.
 */
export function renderWith(app: Express, views: Views): void {
  let appLocals: Locals | undefined;
  app.response.render = function render(this: Response, view: string, data?: object | ((err: Error, html: string) => void)) {
    if (typeof data === 'function') throw new TypeError('render callbacks are not used here');
    appLocals ??= Object.assign(Object.create(null) as Locals, app.locals);
    const locals = Object.assign(Object.create(appLocals) as Locals, this.locals, data);
    let html: string;
    try {
      html = views.render(view, locals);
    } catch (err) {
      return void this.req.next!(err);
    }
    sendPage(this, html);
  } as Response['render'];
}

/** Below this, compressing saves less than it costs (compression's own default threshold). */
const COMPRESS_FROM = 1024;
/** Up to this, a page is compressed at once on the event loop; a larger one on libuv's pool. */
const AT_ONCE_UP_TO = 256 * 1024;
const BROTLI = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } };
/**
 * Gzip at level 3: for /account and the domain page it takes 24 and 30 us against brotli 4's 71
 * and 70 and gzip 6's 45 and 44, for 3.5% more bytes than gzip 6 (2,655 against 2,562 for /account).
 */
const GZIP = { level: 3 };
const COMPRESSIBLE = /^(?:text\/|application\/(?:xml|json)\b)/;

/**
 * A rendered page, compressed as the client accepts: gzip when it takes gzip, brotli (quality 4)
 * when it takes only brotli. The whole page is there, so it is compressed in one call rather than
 * through a stream, whose hand-offs to libuv's pool and back cost the event loop more than
 * compressing a page of 7 KB does (issue 36.1). BREACH: every page's CSRF token is masked afresh
 * (app.ts). No ETag: a page is made for one session and carries a fresh token, so it is never the
 * same twice, and Express's SHA-1 of every body was CPU for nothing (the API keeps its ETags).
 */
function sendPage(res: Response, html: string): void {
  const type = res.get('Content-Type') ?? 'text/html';
  if (!/;\s*charset=/i.test(type)) res.setHeader('Content-Type', `${type}; charset=utf-8`);
  res.vary('Accept-Encoding');
  const coding = html.length >= COMPRESS_FROM && COMPRESSIBLE.test(type) ? chooseEncoding(res.req.headers['accept-encoding'], 'gzip') : 'identity';
  const raw = Buffer.from(html);
  const end = (body: Buffer) => {
    if (coding !== 'identity') res.setHeader('Content-Encoding', coding);
    res.setHeader('Content-Length', body.length);
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };
  if (coding === 'identity') return end(raw);
  if (raw.length <= AT_ONCE_UP_TO) return end(coding === 'br' ? zlib.brotliCompressSync(raw, BROTLI) : zlib.gzipSync(raw, GZIP));
  const compressed = (err: Error | null, out: Buffer) => (err ? res.req.next!(err) : end(out));
  if (coding === 'br') zlib.brotliCompress(raw, BROTLI, compressed);
  else zlib.gzip(raw, GZIP, compressed);
}
