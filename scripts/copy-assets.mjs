// tsc compiles TypeScript only. This copies what the build needs besides compiled code: the SQL
// migrations of both stores, and the panel's static files, made into `<outDir>/assets/` with a
// content hash in each name (served `immutable`) and compressed once here with brotli and gzip.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

/** The zxcvbn-ts language pack of each language of the panel. */
const ZXCVBN_PACKS = { en: 'en', fr: 'fr', de: 'de', es: 'es-es', pl: 'pl', nl: 'nl-be', it: 'it', 'pt-BR': 'pt-br' };

/** A script that puts a pack's translations where public/app.js looks for them. */
function feedbackScript(requireFrom, pack) {
  const dir = path.dirname(requireFrom.resolve(`@zxcvbn-ts/language-${pack}`));
  const file = ['translations.cjs', 'translations.js'].map((f) => path.join(dir, f)).find((f) => existsSync(f));
  const loaded = requireFrom(file);
  const translations = loaded.default ?? loaded;
  return `this.zxcvbnts = this.zxcvbnts || {};\nthis.zxcvbnts.feedback = ${JSON.stringify(translations)};\n`;
}

/** A script that puts a catalogue's `client.*` entries where the panel's scripts look for them. */
function wordsScript(root, lang) {
  const catalogue = JSON.parse(readFileSync(path.join(root, 'locales', `${lang}.json`), 'utf8'));
  const words = Object.fromEntries(Object.entries(catalogue).filter(([key]) => key.startsWith('client.')).map(([key, value]) => [key.slice('client.'.length), value]));
  return `this.mailpassWords = ${JSON.stringify(words)};\n`;
}

/** The panel's static files: the name templates ask for, and where each comes from. */
const SOURCES = [
  ['style.css', 'public/style.css'],
  ['app.js', 'public/app.js'],
  ['passkeys.js', 'public/passkeys.js'],
  ['favicon.svg', 'public/favicon.svg'],
  // The strength meter's estimator: the same builds and dictionaries the server scores with.
  ['zxcvbn-core.js', { package: '@zxcvbn-ts/core/dist/zxcvbn-ts.js' }],
  ['zxcvbn-common.js', { package: '@zxcvbn-ts/language-common/dist/zxcvbn-ts.js' }],
  ['zxcvbn-en.js', { package: '@zxcvbn-ts/language-en/dist/zxcvbn-ts.js' }],
  // SPEC §17: the strength meter's hints in each language, the translations of zxcvbn-ts's own
  // language packs (a few kB; their dictionaries stay out: the meter scores as the server does).
  ...Object.entries(ZXCVBN_PACKS).map(([lang, pack]) => [`zxcvbn-feedback-${lang}.js`, { generate: (requireFrom) => feedbackScript(requireFrom, pack) }]),
  // What public/app.js and passkeys.js say, the `client.*` entries of each catalogue: an immutable
  // file per language, cached by the browser, rather than the same JSON in every page.
  ...Object.keys(ZXCVBN_PACKS).map((lang) => [`words-${lang}.js`, { generate: (_requireFrom, root) => wordsScript(root, lang) }]),
  // The browser half of WebAuthn for passkeys, from the package's own bundle.
  ['simplewebauthn.js', { package: '@simplewebauthn/browser', then: '../dist/bundle/index.umd.min.js' }],
];

const TYPES = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml' };

/** Makes `<outDir>/assets/`: each file under its hashed name, with `.br` and `.gz` beside it, and manifest.json. */
export function buildAssets(root, outDir) {
  const requireFrom = createRequire(path.join(root, 'package.json'));
  const dir = path.join(outDir, 'assets');
  // A file whose hashed name is already built (here, or in the tree's own dist/) is not compressed again.
  const caches = [dir, path.join(root, 'dist', 'assets')];
  mkdirSync(dir, { recursive: true });
  const manifest = {};
  for (const [name, from] of SOURCES) {
    let bytes;
    if (typeof from !== 'string' && from.generate) bytes = Buffer.from(from.generate(requireFrom, root), 'utf8');
    else {
      const resolved = typeof from === 'string' ? path.join(root, from) : requireFrom.resolve(from.package);
      const file = typeof from !== 'string' && from.then ? path.resolve(path.dirname(resolved), from.then) : resolved;
      bytes = readFileSync(file);
    }
    const hash = createHash('sha256').update(bytes).digest('hex');
    const ext = path.extname(name);
    const hashed = `${path.basename(name, ext)}.${hash.slice(0, 12)}${ext}`;
    for (const [suffix, make] of [
      ['', () => bytes],
      ['.br', () => zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } })],
      ['.gz', () => zlib.gzipSync(bytes, { level: 9 })],
    ]) {
      const target = path.join(dir, hashed + suffix);
      if (existsSync(target)) continue;
      const cached = caches.map((c) => path.join(c, hashed + suffix)).find((f) => existsSync(f));
      writeFileSync(target, cached ? readFileSync(cached) : make());
    }
    manifest[name] = { file: hashed, type: TYPES[ext] };
  }
  writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Copies what the build needs besides compiled code from `root`'s sources into `outDir`. */
export function copyAssets(root, outDir) {
  for (const store of ['sqlite', 'postgres']) {
    cpSync(path.join(root, 'src/store', store, 'migrations'), path.join(outDir, 'store', store, 'migrations'), { recursive: true });
  }
  buildAssets(root, outDir);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  // `--assets-only`: the static files alone (the tests run the server from its sources).
  if (process.argv.includes('--assets-only')) buildAssets(process.cwd(), 'dist');
  else copyAssets(process.cwd(), 'dist');
}
