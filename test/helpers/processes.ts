import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A port that was free a moment ago on 127.0.0.1 (for servers that cannot listen on port 0 and say which). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** Ends a server this process started, by its PID: SIGTERM, then SIGKILL if it is still there after 5 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (!running(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid!, 'SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  if (running(child)) process.kill(child.pid!, 'SIGKILL');
}

/**
 * Polls `port` until what `child` serves there greets (its first bytes pass `greeting`), for 10 s
 * at most; throws with `what` and the log when the child exits first or the time is up.
 */
export async function waitForGreeting(port: number, child: ChildProcess, { what, log, greeting = () => true }: { what: string; log: () => string; greeting?: (first: string) => boolean }): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (!running(child)) throw new Error(`${what} exited with ${child.exitCode ?? child.signalCode}: ${log()}`);
    const greeted = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      const done = (ok: boolean) => {
        s.destroy();
        resolve(ok);
      };
      s.once('data', (d: Buffer) => done(greeting(d.toString('latin1')))).once('error', () => done(false));
    });
    if (greeted) return;
    if (Date.now() > deadline) throw new Error(`${what} did not greet on ${port} within 10 s: ${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
