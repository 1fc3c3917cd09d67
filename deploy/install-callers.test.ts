// deploy/install.sh and its callers agree: the Vagrantfile (which cannot run here: it is checked to
// parse with `ruby -c`) and the VM lab's first-boot script call it only with options it has, each
// with the value it needs; and the script's usage text documents exactly the options it parses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../lib/repo.js';
import { firstbootScript } from './vmlab/image-files.js';

const deploy = join(packageRoot(), 'deploy');
const installScript = readFileSync(join(deploy, 'install.sh'), 'utf8');
const vagrantfile = readFileSync(join(deploy, 'Vagrantfile'), 'utf8');

interface InstallOption {
  flag: string;
  takesValue: boolean;
}

/** The options install.sh's argument loop parses: `--flag)` arms; `shift` inside takes a value. */
function parsedOptions(script: string): InstallOption[] {
  const loop = /while \[ \$# -gt 0 \]; do\n([\s\S]*?)\ndone/.exec(script)?.[1] ?? '';
  return [...loop.matchAll(/^\s+(--[a-z-]+)(?: \| -h)?\)(.*)$/gm)].map((m) => ({
    flag: m[1]!,
    takesValue: /\bshift\b/.test(m[2]!),
  }));
}

/** The options the usage text documents, with whether it shows a value (`--flag VALUE`). */
function documentedOptions(script: string): InstallOption[] {
  const usage = /cat <<'EOF'\n([\s\S]*?)\nEOF/.exec(script)?.[1] ?? '';
  return [...usage.matchAll(/^ {2}(--[a-z-]+)( [A-Z]+)?/gm)].map((m) => ({
    flag: m[1]!,
    takesValue: !!m[2],
  }));
}

/** Each `.../install.sh ARGS` call in a text's code (comments left out), as its list of arguments. */
function installCalls(text: string): string[][] {
  const code = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');
  return [...code.matchAll(/\/install\.sh((?: [^\s"'#]+)*)/g)].map((m) =>
    m[1]!.trim().split(/\s+/).filter(Boolean),
  );
}

function checkCall(args: string[], options: InstallOption[], where: string): void {
  for (let i = 0; i < args.length; i++) {
    const option = options.find((o) => o.flag === args[i]);
    assert.ok(option, `${where}: install.sh has no option ${args[i]}`);
    if (option.takesValue) {
      const value = args[++i];
      assert.ok(value && !value.startsWith('--'), `${where}: ${option.flag} needs a value`);
    }
  }
}

test('install.sh documents exactly the options it parses', () => {
  const parsed = parsedOptions(installScript);
  assert.ok(
    parsed.length >= 6,
    `expected install.sh's options, found ${parsed.map((o) => o.flag).join(' ')}`,
  );
  assert.deepEqual(
    documentedOptions(installScript).sort((a, b) => a.flag.localeCompare(b.flag)),
    parsed.sort((a, b) => a.flag.localeCompare(b.flag)),
  );
});

test('the Vagrantfile parses and provisions with install.sh options that exist', () => {
  const ruby = spawnSync('ruby', ['-c', join(deploy, 'Vagrantfile')], { encoding: 'utf8' });
  assert.equal(ruby.error, undefined, 'ruby is needed (deploy/setup.sh installs it)');
  assert.equal(ruby.status, 0, ruby.stderr);
  assert.match(ruby.stdout, /Syntax OK/);
  const calls = installCalls(vagrantfile);
  assert.ok(calls.length >= 1, 'the Vagrantfile provisions with deploy/install.sh');
  for (const call of calls) checkCall(call, parsedOptions(installScript), 'Vagrantfile');
  // Every VM runs the install provisioner: the manager and each worker.
  assert.equal(vagrantfile.match(/provision "install", type: "shell", inline: INSTALL/g)?.length, 2);
  assert.match(vagrantfile, /WORKERS = \[\{ name: "worker1".*\{ name: "worker2"/);
});

test("the VM lab's first boot calls install.sh with options that exist", () => {
  const script = firstbootScript({ lab: 'vmt', nodeTarball: 'node.tgz' });
  const calls = installCalls(script);
  assert.equal(calls.length, 1);
  checkCall(calls[0]!, parsedOptions(installScript), 'firstboot.sh');
});

test('a call with an unknown option or a missing value is caught', () => {
  const options = parsedOptions(installScript);
  assert.throws(() => checkCall(['--sauce', '/vagrant'], options, 't'), /no option --sauce/);
  assert.throws(() => checkCall(['--source'], options, 't'), /--source needs a value/);
  assert.throws(() => checkCall(['--source', '--no-firewall'], options, 't'), /needs a value/);
});
