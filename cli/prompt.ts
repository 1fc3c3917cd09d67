// Questions to the user on the terminal: a confirmation, a line, a secret (not echoed), and stdin
// read whole (`login --password-stdin`).
import { Writable } from 'node:stream';
import { createInterface } from 'node:readline/promises';

export async function confirm(question: string): Promise<boolean> {
  return /^y(es)?$/i.test((await ask(question)).trim());
}

export async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** A line typed without echo: readline writes to a sink, so the keys never reach the screen. */
export async function askSecret(question: string): Promise<string> {
  process.stdout.write(question);
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const rl = createInterface({ input: process.stdin, output: sink, terminal: true });
  try {
    return await rl.question('');
  } finally {
    rl.close();
    process.stdout.write('\n');
  }
}

/** All of stdin, without its last line break (as `docker login --password-stdin` reads it). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
