'use strict';
const { availableParallelism } = require('node:os');

/**
 * The size of libuv's thread pool (argon2, file writes and fsyncs, compression) when the operator
 * did not set UV_THREADPOOL_SIZE: one thread a core, from 2 up to libuv's default of 4. On two
 * cores, four pool threads beside the event loop oversubscribe the processor: under
 * `npm run bench:load`, a pool of 2 cut the loop's p99 delay by a fifth to a third and resident
 * memory by 30-80 MiB (fewer threads keep argon2's 19 MiB in a malloc arena of their own).
 */
function threadPoolSize(env = process.env, cores = availableParallelism()) {
  return env.UV_THREADPOOL_SIZE || String(Math.min(4, Math.max(2, cores)));
}

module.exports = { threadPoolSize };
