// Labs for e2e tests: built by the same code as `swarmlite lab up`, each with a name unique to the
// test, so test files run concurrently without colliding, and torn down when the test ends, pass or fail.
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { labDown, labUp } from '../../deploy/lab/lab.js';
import type { LabState } from '../../deploy/lab/state.js';

/** 'e' + 7 random base-36 characters: a valid lab name no other test run will pick. */
export function uniqueLabName(): string {
  const n = randomBytes(5).readUIntBE(0, 5);
  return 'e' + n.toString(36).padStart(7, '0').slice(-7);
}

export async function createTestLab(t: TestContext, nodes: number): Promise<LabState> {
  const name = uniqueLabName();
  // Registered first, so even a failure half-way through up() is cleaned.
  t.after(() => labDown(name));
  return labUp({ name, nodes });
}

export const isRoot = process.getuid?.() === 0;
