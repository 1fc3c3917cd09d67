// Requests from the benchmark driver to its member processes over the fork() IPC channel: the driver
// needs only a handful of calls (status, set up, run, reference), so a numbered request/response pair
// is all; no gRPC service for something that never leaves the benchmark.
import type { ChildProcess } from 'node:child_process';

interface Request {
  rpc: number;
  method: string;
  args: unknown;
}

interface Response {
  rpc: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

// Handlers take their own argument shapes; the driver and the member agree on them by name.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handlers = Record<string, (args: any) => unknown>;

/** Member side: answers every request with its handler's (awaited) value or error message. */
export function serve(handlers: Handlers): void {
  process.on('message', (msg: Request) => {
    if (typeof msg?.rpc !== 'number') return;
    const handler = handlers[msg.method];
    void (async () => {
      try {
        if (!handler) throw new Error(`no method ${msg.method}`);
        const value = await handler(msg.args);
        process.send!({ rpc: msg.rpc, ok: true, value } satisfies Response);
      } catch (err) {
        process.send!({ rpc: msg.rpc, ok: false, error: (err as Error).stack ?? String(err) });
      }
    })();
  });
}

/** Driver side: one client per child process. */
export class MemberClient {
  private next = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  constructor(private readonly proc: ChildProcess) {
    proc.on('message', (msg: Response) => {
      const w = typeof msg?.rpc === 'number' ? this.waiting.get(msg.rpc) : undefined;
      if (!w) return;
      this.waiting.delete(msg.rpc);
      if (msg.ok) w.resolve(msg.value);
      else w.reject(new Error(msg.error));
    });
    proc.on('exit', (code, signal) => {
      for (const w of this.waiting.values()) w.reject(new Error(`member exited (${code ?? signal})`));
      this.waiting.clear();
    });
  }

  call<T>(method: string, args: unknown = {}): Promise<T> {
    const rpc = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(rpc, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ rpc, method, args } satisfies Request);
    });
  }
}
