import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import ts from 'typescript';
import { copyAssets } from '../../scripts/copy-assets.mjs';
import { loadConfig } from '../../src/config.js';
import { healthUrl } from '../../src/healthcheck.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { TEST_ENV, tempDataDir } from '../helpers/env.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };

// --- A small Dockerfile reader: instructions, continuation lines, comments, stages. ---

interface Instruction {
  name: string;
  args: string;
  /** --flag=value options in front of the arguments (COPY --from, HEALTHCHECK --interval…). */
  flags: Record<string, string>;
  /** The arguments after the flags: a JSON array (exec form) as its items, else split on spaces. */
  words: string[];
  /** True for the JSON (exec) form. */
  exec: boolean;
}

interface Stage {
  image: string;
  name: string | null;
  instructions: Instruction[];
}

function parseArgs(text: string): Pick<Instruction, 'flags' | 'words' | 'exec'> {
  const flags: Record<string, string> = {};
  let rest = text.trim();
  for (let m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest); m; m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)) {
    flags[m[1]!] = m[2] ?? 'true';
    rest = rest.slice(m[0].length);
  }
  if (rest.startsWith('[')) {
    const words = JSON.parse(rest) as unknown;
    assert.ok(Array.isArray(words) && words.every((w) => typeof w === 'string'), `bad exec form: ${rest}`);
    return { flags, words, exec: true };
  }
  return { flags, words: rest.split(/\s+/).filter(Boolean), exec: false };
}

function parseDockerfile(text: string): { globalArgs: Record<string, string>; stages: Stage[] } {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    // Comments go, also in the middle of a continued instruction (Docker drops them there too).
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    if (whole) lines.push(whole);
  }
  assert.equal(pending, '', 'the last instruction ends with a line continuation');

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^([A-Za-z]+)\s+(.*)$/s.exec(line);
    assert.ok(m, `not an instruction: ${line}`);
    const name = m[1]!.toUpperCase();
    const args = m[2]!;
    if (name === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(from, `bad FROM: ${args}`);
      const image = from[1]!.replace(/\$\{?(\w+)\}?/g, (_, v: string) => globalArgs[v] ?? '');
      stages.push({ image, name: from[2] ?? null, instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      assert.equal(name, 'ARG', `${name} before the first FROM`);
      const [k, v = ''] = args.split('=');
      globalArgs[k!] = v;
      continue;
    }
    stages.at(-1)!.instructions.push({ name, args, ...parseArgs(args) });
  }
  return { globalArgs, stages };
}

const all = (stage: Stage, name: string) => stage.instructions.filter((i) => i.name === name);
const last = (stage: Stage, name: string) => all(stage, name).at(-1);
const runs = (stage: Stage) => all(stage, 'RUN').flatMap((i) => i.args.split(/&&|;/).map((c) => c.trim().replace(/\s+/g, ' ')));
const envOf = (stage: Stage) => {
  const env: Record<string, string> = {};
  for (const i of all(stage, 'ENV')) for (const [, k, v] of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[k!] = v!.replace(/^"|"$/g, '');
  return env;
};

/** Where tsc puts a source file, from tsconfig's rootDir and outDir. */
function compiledPath(source: string): string {
  const { compilerOptions } = JSON.parse(read('tsconfig.json')) as { compilerOptions: { rootDir: string; outDir: string } };
  const rel = path.posix.relative(compilerOptions.rootDir, source).replace(/\.ts$/, '.js');
  return path.posix.join(compilerOptions.outDir, rel);
}

/** .dockerignore as Docker reads it: the last pattern that matches a path or one of its parents wins. */
function dockerIgnored(patterns: string[], file: string): boolean {
  const toRegExp = (p: string) =>
    new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]').replace(/\u0000/g, '.*')}$`);
  const parts = path.posix.normalize(file).replace(/\/$/, '').split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = path.posix.normalize(negate ? raw.slice(1) : raw).replace(/\/$/, '');
    if (candidates.some((c) => toRegExp(pattern).test(c))) ignored = !negate;
  }
  return ignored;
}

const { stages } = parseDockerfile(read('Dockerfile'));
const final = stages.at(-1)!;
const dockerignore = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

describe('Dockerfile', () => {
  test('is multi-stage, every stage on node:20-bookworm-slim (Node 20 LTS, as package.json engines allow)', () => {
    assert.ok(stages.length >= 2, `${stages.length} stage(s)`);
    for (const s of stages) assert.equal(s.image, 'node:20-bookworm-slim');
    assert.match(JSON.parse(read('package.json')).engines.node, /^>=\s*20/);
  });

  test('the build stage runs npm ci, then the README build (npm run build), then drops dev dependencies', () => {
    const copiedFrom = all(final, 'COPY').filter((c) => c.flags.from).map((c) => c.flags.from);
    const build = stages.find((s) => s.name !== null && copiedFrom.includes(s.name));
    assert.ok(build, 'the runtime copies from a named build stage');
    const commands = runs(build);
    const ci = commands.findIndex((c) => /^npm ci\b/.test(c));
    const compile = commands.findIndex((c) => c === 'npm run build');
    const prune = commands.findIndex((c) => /^npm prune\b.*--omit=dev/.test(c));
    assert.ok(ci >= 0 && compile > ci && prune > compile, commands.join('\n'));
    assert.ok(pkg.scripts.build, 'package.json has a build script');
    assert.match(read('README.md'), /npm run build/);
    // argon2 and better-sqlite3 are native: with --ignore-scripts they must be rebuilt explicitly.
    if (/--ignore-scripts/.test(commands[ci]!)) assert.ok(commands.some((c) => /^npm rebuild\b.*\bargon2\b/.test(c) && /\bbetter-sqlite3\b/.test(c)));
  });

  test('the runtime stage has production dependencies only, never installs dev ones', () => {
    for (const c of runs(final)) {
      if (/^npm (ci|install|i)\b/.test(c)) assert.match(c, /--omit=dev/, c);
    }
    const modules = all(final, 'COPY').find((c) => c.words[0]?.replace(/\/$/, '').endsWith('node_modules'));
    assert.ok(modules?.flags.from, 'node_modules comes from the build stage');
    assert.equal(envOf(final).NODE_ENV, 'production');
  });

  test('the image listens on 2587 and 2465 and tells clients 587 and 465, the ports it is published on (SPEC §14)', () => {
    const env = envOf(final);
    assert.deepEqual([env.SMTP_PORT, env.SMTPS_PORT, env.PUBLIC_SMTP_PORT, env.PUBLIC_SMTPS_PORT], ['2587', '2465', '587', '465']);
  });

  test('the runtime stage has what the server reads at run time: package.json (ESM), dist (with the built static files), views, locales, bin', () => {
    const copied = all(final, 'COPY').flatMap((c) => c.words.slice(0, -1).map((w) => w.replace(/^\/app\//, '').replace(/\/$/, '')));
    for (const needed of ['package.json', 'node_modules', 'dist', 'views', 'locales', 'bin']) assert.ok(copied.includes(needed), needed);
    // The build makes dist/assets/ from public/: the build stage needs public/ before `npm run build`.
    const build = stages.find((s) => s !== final && runs(s).includes('npm run build'))!;
    assert.ok(all(build, 'COPY').some((c) => c.words[0]?.replace(/\/$/, '') === 'public'), 'the build stage copies public/');
  });

  test('every file copied from the build context exists and is not excluded by .dockerignore', () => {
    for (const c of stages.flatMap((s) => all(s, 'COPY').concat(all(s, 'ADD'))).filter((c) => !c.flags.from)) {
      for (const src of c.words.slice(0, -1)) {
        assert.ok(existsSync(path.join(ROOT, src)), `${src} does not exist`);
        assert.ok(!dockerIgnored(dockerignore, src), `${src} is excluded by .dockerignore`);
        if (statSync(path.join(ROOT, src)).isDirectory()) {
          for (const f of readdirSync(path.join(ROOT, src), { recursive: true }) as string[]) assert.ok(!dockerIgnored(dockerignore, path.posix.join(src, f)), f);
        }
      }
    }
    for (const secret of ['node_modules', 'dist', 'data', 'data/mailpass.db', 'data/tls/key.pem', '.git', 'test/ops/dockerfile.test.ts']) {
      assert.ok(dockerIgnored(dockerignore, secret), `${secret} is in the build context`);
    }
  });

  test('runs as a user that is not root, with /data as a volume and the data directory', () => {
    const user = last(final, 'USER')?.words[0];
    assert.ok(user, 'no USER');
    assert.ok(!['root', '0', '0:0', 'root:root'].includes(user), user);
    const volumes = all(final, 'VOLUME').flatMap((v) => v.words);
    assert.ok(volumes.includes('/data'), volumes.join(' '));
    const env = envOf(final);
    assert.equal(env.DATA_DIR, '/data');
    assert.equal(env.HOST, '0.0.0.0');
  });

  test('exposes the web, STARTTLS and implicit TLS ports, the same as the defaults', () => {
    const exposed = all(final, 'EXPOSE').flatMap((e) => e.words.map((w) => Number(w.replace(/\/tcp$/, ''))));
    const defaults = loadConfig({});
    const config = loadConfig(envOf(final));
    for (const port of [8080, 2587, 2465]) assert.ok(exposed.includes(port), String(port));
    assert.deepEqual([config.port, config.smtpPort, config.smtpsPort], [defaults.port, defaults.smtpPort, defaults.smtpsPort]);
    assert.deepEqual(exposed.sort(), [config.port, config.smtpPort, config.smtpsPort].sort());
  });

  test('CMD runs `mailpass serve` through bin/mailpass.js in exec form (node is PID 1 and gets SIGTERM)', () => {
    const cmd = last(final, 'CMD')!;
    assert.ok(cmd.exec, 'CMD in exec form');
    // Through the CLI, which sizes libuv's thread pool before anything uses it (bin/threadpool.js).
    assert.deepEqual(cmd.words, ['node', 'bin/mailpass.js', 'serve']);
    // The CLI in the image (bin/mailpass) loads the same build tree.
    assert.match(read('bin/mailpass.js'), new RegExp(`\\.\\./${compiledPath('src/cli/index.ts').replace(/\./g, '\\.')}`));
  });

  test('npm start runs the same command as the image', () => {
    const started = /\bnode\s+(.+?)\s*$/.exec(pkg.scripts.start ?? '')?.[1];
    assert.equal(started, last(final, 'CMD')!.words.slice(1).join(' '));
  });
});

describe('the HEALTHCHECK command', () => {
  let server: TestServer;
  before(async () => (server = await startTestServer({}, { smtp: true })));
  after(() => server.stop());

  const healthcheck = () => {
    const h = last(final, 'HEALTHCHECK')!;
    assert.equal(h.words[0], 'CMD');
    const argv = h.exec ? h.words.slice(1) : JSON.parse(h.args.slice(h.args.indexOf('CMD') + 3)) as string[];
    return { h, argv };
  };
  // The runtime stage's ENV, as the check sees it inside the container.
  const imageEnv = Object.fromEntries(
    final.instructions.filter((i) => i.name === 'ENV').flatMap((i) => i.words.map((w) => w.split('=', 2) as [string, string])),
  );
  // Asynchronously: the server under test answers from this very process. The image runs the
  // compiled dist/X.js from /app; here its source src/X.ts runs through tsx.
  const runCheck = (argv: string[], env: Record<string, string>) =>
    new Promise<number | null>((resolve, reject) => {
      const script = /^dist\/(.+)\.js$/.exec(argv[1] ?? '');
      assert.ok(argv[0] === 'node' && script, `node and a compiled script: ${argv.join(' ')}`);
      const args = ['--import', 'tsx', path.join('src', `${script[1]}.ts`), ...argv.slice(2)];
      const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH, ...imageEnv, ...env }, stdio: 'ignore', timeout: 10_000 });
      child.once('error', reject);
      child.once('exit', (code) => resolve(code));
    });

  test('uses node itself (no curl in a slim image) on the compiled check, with a timeout', () => {
    const { h, argv } = healthcheck();
    assert.deepEqual(argv, ['node', 'dist/healthcheck.js']);
    assert.ok(h.flags.timeout, 'a timeout');
  });

  test('exits 0 against a healthy server and 1 when nothing answers', async () => {
    const { argv } = healthcheck();
    assert.equal(imageEnv.HOST, '0.0.0.0', 'the image listens on every address');
    assert.equal(await runCheck(argv, { PORT: String(server.httpPort) }), 0);
    assert.equal(await runCheck(argv, { PORT: '1' }), 1);
  });

  test('asks HOST itself when HOST is a specific address, not 127.0.0.1', async () => {
    const { argv } = healthcheck();
    assert.equal(await runCheck(argv, { HOST: '127.0.0.1', PORT: String(server.httpPort) }), 0);
    // The server listens on 127.0.0.1 only: a check that asked 127.0.0.1 whatever HOST says would pass.
    assert.equal(await runCheck(argv, { HOST: '::1', PORT: String(server.httpPort) }), 1);
    assert.equal(healthUrl({ host: '10.0.0.5', port: 8080 }), 'http://10.0.0.5:8080/healthz');
    assert.equal(healthUrl({ host: '::', port: 8080 }), 'http://127.0.0.1:8080/healthz');
    assert.equal(healthUrl({ host: 'fd00::5', port: 8080 }), 'http://[fd00::5]:8080/healthz');
  });
});

// --- The runtime stage without Docker: the compiled server with production packages only. ---

/** What tsc would emit, file by file (verbatimModuleSyntax keeps every import that is not `import type`). */
function transpileTree(outDir: string): string[] {
  const { options } = ts.convertCompilerOptionsFromJson(JSON.parse(read('tsconfig.json')).compilerOptions, ROOT);
  // One file at a time TypeScript cannot see package.json's "type": "module"; NodeNext emits ESM for it.
  const compilerOptions = { ...options, module: ts.ModuleKind.ESNext, sourceMap: false };
  const emitted: string[] = [];
  for (const rel of readdirSync(path.join(ROOT, 'src'), { recursive: true }) as string[]) {
    if (!rel.endsWith('.ts') || rel.endsWith('.d.ts')) continue;
    const { outputText } = ts.transpileModule(read(path.join('src', rel)), { compilerOptions, fileName: rel });
    const out = path.join(outDir, rel.replace(/\.ts$/, '.js'));
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, outputText);
    emitted.push(outputText);
  }
  // What `npm run build` copies besides code: the SQL migrations of both stores.
  copyAssets(ROOT, outDir);
  return emitted;
}

/** The module specifiers a compiled file loads: import and export declarations, and import('literal') calls (not text in strings). */
function importedSpecifiers(js: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile('emitted.js', js, ts.ScriptTarget.ES2022, false, ts.ScriptKind.JS));
  return found;
}

const packageOf = (specifier: string) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);

describe('the runtime stage, simulated', () => {
  const { dir, cleanup } = tempDataDir();
  after(cleanup);
  let emitted: string[] = [];
  before(() => {
    emitted = transpileTree(path.join(dir, 'dist'));
    writeFileSync(path.join(dir, 'package.json'), read('package.json'));
    symlinkSync(path.join(ROOT, 'views'), path.join(dir, 'views'));
    symlinkSync(path.join(ROOT, 'locales'), path.join(dir, 'locales'));
    // Copied, not linked: bin/mailpass.js finds dist/ beside itself.
    cpSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'), { recursive: true });
    // What `npm ci --omit=dev` installs: the lock's top-level packages that are not dev-only.
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean }> };
    for (const [key, entry] of Object.entries(lock.packages)) {
      const name = key.slice('node_modules/'.length);
      if (!key.startsWith('node_modules/') || name.includes('/node_modules/') || entry.dev) continue;
      if (!existsSync(path.join(ROOT, key))) continue;
      mkdirSync(path.dirname(path.join(dir, key)), { recursive: true });
      symlinkSync(path.join(ROOT, key), path.join(dir, key), 'dir');
    }
  });

  test('every package the compiled code imports is a production dependency', () => {
    const imported = new Set<string>();
    for (const js of emitted) {
      for (const spec of importedSpecifiers(js)) {
        if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
        imported.add(packageOf(spec));
      }
    }
    assert.ok(imported.has('express') && imported.has('better-sqlite3'), [...imported].join(' '));
    for (const name of imported) assert.ok(pkg.dependencies[name], `${name} is imported at run time but is ${pkg.devDependencies[name] ? 'a dev dependency' : 'not a dependency'}`);
    // Loaded by name, not imported: Express requires the view engine itself.
    assert.ok(pkg.dependencies.ejs);
  });

  /** The image's CMD in the simulated tree, until its panel listens: its port and pid, and `stop` (SIGTERM, its exit code). */
  const startImage = async (env: Record<string, string> = {}) => {
    // --preserve-symlinks: every package resolves its own imports inside this tree, as in the image.
    const child = spawn(process.execPath, ['--preserve-symlinks', ...last(final, 'CMD')!.words.slice(1)], {
      cwd: dir,
      env: { PATH: process.env.PATH, ...TEST_ENV, NODE_ENV: 'production', DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening within 30 s: ${stderr}`)), 30_000);
      child.once('exit', () => reject(new Error(`exited early: ${stderr}`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const entry = (line.startsWith('{') ? JSON.parse(line) : {}) as { msg?: string; port?: number };
        if (entry.msg !== 'web panel listening') return;
        clearTimeout(timer);
        resolve(entry.port!);
      });
    }).catch((err: unknown) => {
      child.kill('SIGTERM');
      throw err;
    });
    return {
      port,
      pid: child.pid!,
      stop: async () => {
        child.kill('SIGTERM');
        return { code: await exited, stderr };
      },
    };
  };

  test('the image\'s CMD starts with NODE_ENV=production and only those packages, serves, and stops on SIGTERM', async () => {
    const image = await startImage();
    try {
      const base = `http://127.0.0.1:${image.port}`;
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const login = await fetch(`${base}/login`);
      assert.equal(login.status, 200);
      const html = await login.text();
      assert.match(html, /Email address/);
      // Its static files come from the build (dist/assets), without public/.
      const style = /href="(\/assets\/style\.[0-9a-f]{12}\.css)"/.exec(html)![1]!;
      assert.equal((await fetch(`${base}${style}`)).status, 200);
    } finally {
      const { code, stderr } = await image.stop();
      assert.equal(code, 0, stderr);
    }
  });

  // Issue 36: a thread a core for argon2 and one more for files and DNS (argon2-hasher.ts).
  test('libuv\'s thread pool has a thread a core plus one unless UV_THREADPOOL_SIZE says otherwise', async () => {
    const threads = async (env: Record<string, string>) => {
      const image = await startImage(env);
      const count = readdirSync(`/proc/${image.pid}/task`).length;
      assert.equal((await image.stop()).code, 0);
      return count;
    };
    const chosen = Math.max(2, availableParallelism() + 1);
    // A first start prepares the data directory (the first admin's password goes through the
    // strength checker's worker thread), so that the three starts counted do the same work.
    await threads({});
    const [unset, four, six] = [await threads({}), await threads({ UV_THREADPOOL_SIZE: '4' }), await threads({ UV_THREADPOOL_SIZE: '6' })];
    assert.equal(unset - four, chosen - 4);
    // What the operator sets is kept.
    assert.equal(six - four, 2);
  });
});
