// Golden-file interaction tests: every testdata/*.txt is a script of commands, each followed by the
// output it must produce. A file is a sequence of blocks:
//
//   # comments (kept as they are)
//   command arg key=value ...
//   ----
//   expected output lines
//   <blank line>
//
// Rewrite the expected output after an intended change with SWARMLITE_UPDATE_GOLDEN=1, and review
// the diff. The compiled test runs from dist-*/, so the files are found in the source tree.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InteractionEnv, parseCommand } from './interaction-env.js';

function testdataDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'manager', 'raft', 'core', 'testdata');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find manager/raft/core/testdata above the test file');
    dir = up;
  }
}

interface Block {
  /** Lines before the command (comments, blank lines). */
  preamble: string[];
  command: string;
  line: number;
  expected: string[];
}

function parse(text: string): { blocks: Block[]; trailer: string[] } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const l = lines[i];
    if (l.trim() === '' || l.startsWith('#')) {
      preamble.push(l);
      i++;
      continue;
    }
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 1}: command "${l}" must be followed by ----`);
    const expected: string[] = [];
    let j = i + 2;
    while (j < lines.length && lines[j] !== '') expected.push(lines[j++]);
    if (j < lines.length) j++; // the blank line that ends the block
    blocks.push({ preamble, command: l, line: i + 1, expected });
    preamble = [];
    i = j;
  }
  return { blocks, trailer: preamble };
}

const dir = testdataDir();
const update = process.env.SWARMLITE_UPDATE_GOLDEN === '1';

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort()) {
  test(`raft interaction ${file}`, () => {
    const path = join(dir, file);
    const { blocks, trailer } = parse(readFileSync(path, 'utf8'));
    const env = new InteractionEnv();
    const rewritten: string[] = [];
    for (const b of blocks) {
      const actual = env.run(parseCommand(b.command));
      if (update) {
        rewritten.push(...b.preamble, b.command, '----', ...(actual.length > 0 ? actual : ['ok']), '');
      } else {
        assert.deepEqual(
          actual.length > 0 ? actual : ['ok'],
          b.expected,
          `${file}:${b.line}: output of "${b.command}" differs (SWARMLITE_UPDATE_GOLDEN=1 rewrites)`,
        );
      }
    }
    if (update) {
      while (trailer.length > 0 && trailer[trailer.length - 1] === '') trailer.pop();
      while (rewritten.length > 0 && rewritten[rewritten.length - 1] === '') rewritten.pop();
      writeFileSync(path, [...rewritten, ...trailer].join('\n') + '\n');
    }
  });
}
