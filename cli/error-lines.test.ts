// Issue 18, fault 9: commander's lowercase usage errors are one line in the CLI's style.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unexpectedErrorLine, usageErrorLine } from './error-lines.js';

/** [commander's message, its code, the command, its usage, the line shown] */
const CASES: [string, string, string, string, string][] = [
  [
    "error: unknown command 'frobnicate'",
    'commander.unknownCommand',
    'swarmlite',
    '[options] [command]',
    "Error: unknown command 'frobnicate' (see 'swarmlite --help')",
  ],
  [
    "error: unknown command 'infoo'\n(Did you mean info?)",
    'commander.unknownCommand',
    'swarmlite',
    '[options] [command]',
    "Error: unknown command 'infoo'; did you mean info? (see 'swarmlite --help')",
  ],
  [
    "error: unknown option '--bogus'",
    'commander.unknownOption',
    'swarmlite info',
    '[options]',
    "Error: unknown option '--bogus' (see 'swarmlite info --help')",
  ],
  [
    "error: missing required argument 'image'",
    'commander.missingArgument',
    'swarmlite service create',
    '[options] <image> [command...]',
    "Error: missing required argument 'image' (usage: swarmlite service create [options] <image> [command...])",
  ],
  [
    "error: too many arguments for 'info'. Expected 0 arguments but got 1.",
    'commander.excessArguments',
    'swarmlite info',
    '[options]',
    "Error: too many arguments for 'info'. Expected 0 arguments but got 1 (usage: swarmlite info [options])",
  ],
  [
    "error: required option '--token <token>' not specified",
    'commander.missingMandatoryOptionValue',
    'swarmlite join',
    '[options] <host:port>',
    "Error: required option '--token <token>' not specified (usage: swarmlite join [options] <host:port>)",
  ],
];

test("commander's usage errors: one line, 'Error: ', the suggestion folded in, where to look next", () => {
  for (const [message, code, name, usage, shown] of CASES) {
    const line = usageErrorLine(message, code, name, usage);
    assert.equal(line, shown);
    assert.doesNotMatch(line, /\n|^error:/);
  }
});

test('an error no command expected: one line, no stack unless SWARMLITE_DEBUG=1, no raw gRPC code', () => {
  const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
  const line = unexpectedErrorLine(bug, {});
  assert.equal(
    line,
    "Error: swarmlite failed unexpectedly: Cannot read properties of undefined (reading 'id') (a bug: run again with SWARMLITE_DEBUG=1 for the details, and report it)",
  );
  assert.match(unexpectedErrorLine(bug, { SWARMLITE_DEBUG: '1' }), /\n\s+at /);
  const status = Object.assign(
    new Error('14 UNAVAILABLE: No connection established. Last error: null. Resolution note: '),
    {
      code: 14,
      details: 'No connection established. Last error: null. Resolution note: ',
    },
  );
  assert.equal(unexpectedErrorLine(status, {}), 'Error: the connection could not be established');
});
