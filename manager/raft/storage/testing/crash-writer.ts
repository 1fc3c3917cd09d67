// Child process of the crash test: appends one entry per synced save from several concurrent writers
// and prints "ack <index>" as soon as each save resolved, until it is killed. Usage:
//   node crash-writer.js <dir> <writers>
// It first prints "ready <first index> <term>"; every entry it writes is fixtures.entry(index, term, 256).

import { writeSync } from 'node:fs';
import { DiskStorage } from '../disk-storage.js';
import { entry } from './fixtures.js';

const [dir, writersArg] = process.argv.slice(2);
const storage = await DiskStorage.open(dir);
const term = storage.initialState().hardState.term + 1; // a new term per run keeps terms rising
let next = storage.lastIndex() + 1;
writeSync(1, `ready ${next} ${term}\n`);

async function writer(): Promise<void> {
  for (;;) {
    const index = next++;
    await storage.save(
      { entries: [entry(index, term, 256)], hardState: { term, vote: 1, commit: index } },
      true,
    );
    // Synchronous write: the line leaves before anything else can run, as a Raft ack would.
    writeSync(1, `ack ${index}\n`);
  }
}

for (let i = 0; i < Number(writersArg); i++) void writer();
