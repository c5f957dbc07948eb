'use strict';
const { availableParallelism } = require('node:os');

/**
 * The size of libuv's thread pool (argon2, file writes and fsyncs, compression) when the operator
 * did not set UV_THREADPOOL_SIZE: one thread a core for argon2 and one more for the rest
 * (src/adapters/argon2-hasher.ts runs argon2 on all but one thread). Issue 36: a pool of one
 * thread a core left argon2 one thread on two cores, and cold SMTP logins kept the machine only
 * 1.36-1.40 of 2 cores busy (96-107 logins/s); with three threads, 1.79-1.87 (111-143/s).
 */
function threadPoolSize(env = process.env, cores = availableParallelism()) {
  return env.UV_THREADPOOL_SIZE || String(Math.max(2, cores + 1));
}

module.exports = { threadPoolSize };
