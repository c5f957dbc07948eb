#!/usr/bin/env node
// CommonJS (bin/package.json): libuv sizes its thread pool from UV_THREADPOOL_SIZE the first time
// the pool is used, and loading an ES module entry already uses it. Set here, the size holds for
// the whole process, and for the workers WORKERS=N forks (they inherit the environment).
'use strict';
const { existsSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { threadPoolSize } = require('./threadpool.js');

process.env.UV_THREADPOOL_SIZE = threadPoolSize();
const entry = path.join(__dirname, '../dist/cli/index.js');
if (!existsSync(entry)) {
  process.stderr.write('mailpass is not built yet: run `npm run build` first\n');
  process.exit(1);
}
import(pathToFileURL(entry).href).then(async ({ main }) => {
  process.exitCode = await main(process.argv.slice(2));
});
