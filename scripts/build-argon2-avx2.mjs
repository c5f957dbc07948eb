// A second build of the argon2 package's native module, from the package's own sources, with AVX2.
//
// The package compiles argon2's optimised code for SSE2 only (`-msse -msse2`): on a core with AVX2
// a verification then costs about 1.7 times the CPU that the same code built with `-mavx2` needs
// (28 against 16 ms for m=19456, t=2, p=1, two at a time on one core).
// This builds `dist/native/argon2-avx2.node`; src/adapters/argon2-binding.ts loads it only on a
// processor that reports AVX2, and only after it has given the same hash as the package's module.
// Where it cannot be built (no compiler, another architecture) the package's own build serves, and
// this prints one line and exits 0. A build for the same argon2 version and Node ABI is kept.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist', 'native');
const out = path.join(outDir, 'argon2-avx2.node');
const stamp = path.join(outDir, 'argon2-avx2.json');
const say = (text) => console.log(`argon2 (AVX2 build): ${text}`);

if (process.arch !== 'x64') {
  say(`not built on ${process.arch}; the package's own build serves`);
  process.exit(0);
}
const requireFrom = createRequire(path.join(root, 'package.json'));
const pkgDir = path.dirname(requireFrom.resolve('argon2/package.json'));
const { version } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
const wanted = { argon2: version, abi: process.versions.modules, napi: process.versions.napi, flags: '-mavx2', memory: createHash('sha256').update(readFileSync(path.join(root, 'scripts', 'argon2-memory.h'))).digest('hex').slice(0, 16) };
if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === JSON.stringify(wanted)) process.exit(0);

// node-gyp as npm runs it for install scripts (npm names it to scripts), else npm's own copy.
const gyp = [process.env.npm_config_node_gyp, path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')].find(
  (f) => f && existsSync(f),
);
if (!gyp) {
  say("node-gyp not found; the package's own build serves");
  process.exit(0);
}
// The sources in a directory of the project, so that binding.gyp finds node-addon-api from there.
const work = path.join(root, 'node_modules', '.mailpass-argon2-avx2');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
for (const f of ['binding.gyp', 'argon2.cpp', 'argon2', 'package.json']) cpSync(path.join(pkgDir, f), path.join(work, f), { recursive: true });
// argon2's working memory from mailpass's own allocator (argon2-memory.h: one block a hash running
// at once, not one kept in every pool thread's malloc arena).
const binding = readFileSync(path.join(work, 'argon2.cpp'), 'utf8');
const NO_ALLOCATOR = /ctx\.allocate_cbk = nullptr;(\s*)ctx\.free_cbk = nullptr;/;
if (!NO_ALLOCATOR.test(binding)) {
  say(`not built (argon2 ${version} sets its allocator otherwise); the package's own build serves`);
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}
cpSync(path.join(root, 'scripts', 'argon2-memory.h'), path.join(work, 'argon2-memory.h'));
writeFileSync(
  path.join(work, 'argon2.cpp'),
  `#include "argon2-memory.h"\n${binding.replace(NO_ALLOCATOR, 'ctx.allocate_cbk = mailpass::allocate_block;$1ctx.free_cbk = mailpass::free_block;')}`,
);
// Node's headers: npm's nodedir, else those installed beside this node (Debian's nodejs, the official
// tarballs); without either node-gyp would try to download them.
const prefix = path.resolve(path.dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir || (existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
const built = spawnSync(process.execPath, [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], {
  cwd: work,
  env: { ...process.env, CFLAGS: `${process.env.CFLAGS ?? ''} -mavx2`.trim() },
  encoding: 'utf8',
});
const result = path.join(work, 'build', 'Release', 'argon2.node');
if (built.status !== 0 || !existsSync(result)) {
  const why = `${built.stderr ?? ''}`.split('\n').find((l) => /error/i.test(l)) ?? `node-gyp exited with ${built.status}`;
  say(`not built (${why.trim()}); the package's own build serves`);
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}
mkdirSync(outDir, { recursive: true });
cpSync(result, out);
writeFileSync(stamp, JSON.stringify(wanted));
rmSync(work, { recursive: true, force: true });
say(`built ${path.relative(root, out)} from argon2 ${version}`);
