import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker module `name` beside this file: the compiled .js, or the .ts source when
 * running under tsx (tests and benchmarks), whose loader a worker thread must be given explicitly.
 */
export function spawnWorker(name: string, options: Pick<WorkerOptions, 'workerData'> = {}): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, import.meta.url);
  return fromSource
    ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`, { ...options, eval: true })
    : new Worker(url, options);
}
