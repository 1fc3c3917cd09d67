// A task's /etc/resolv.conf is its own (the embedded DNS at 127.0.0.11, its --dns-search and
// --dns-option), bound in the task's mount namespace only: the host's file and mounts are untouched.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { resolvConf } from '../../dns/resolv-conf.js';
import { collectLogs, hostSpec, launchOf, leftovers, runTask, testRuntime } from './test-fixtures.js';

const resolvMounts = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' /etc/resolv.conf '));

test("a task sees its own resolv.conf; the host's is unchanged", async (t) => {
  const { rt } = testRuntime(t);
  const hostBefore = readFileSync('/etc/resolv.conf', 'utf8');
  const mountsBefore = resolvMounts();
  const dns = { nameservers: ['198.18.0.53'], search: ['corp.example'], options: ['timeout:1'] };
  // As an unprivileged user: the file must be readable by whoever the task runs as.
  const { id } = await runTask(
    rt,
    hostSpec(['sh', '-c', 'cat /etc/resolv.conf; sleep 30'], { dns, user: 'nobody' }),
  );
  const want = resolvConf(dns).trimEnd().split('\n');
  let got: string[] = [];
  for (let i = 0; i < 250 && got.length < want.length; i++) {
    got = (await collectLogs(rt, id)).map((l) => l.line);
    if (got.length < want.length) await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(got, want);
  assert.ok(got.includes('nameserver 127.0.0.11') && got.includes('options ndots:0 timeout:1'));
  assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), hostBefore);
  assert.deepEqual(resolvMounts(), mountsBefore, 'no mount on the host');
  await rt.stop(id, 1000);
});

test('a bad --dns-search or --dns-option is refused at prepare, leaving nothing', async (t) => {
  const { rt, prefix, root } = testRuntime(t);
  const bad = hostSpec(['true'], {
    dns: { nameservers: [], search: ['a.example\nnameserver 6.6.6.6'], options: [] },
  });
  await assert.rejects(
    rt.prepare(launchOf(bad)),
    /^Error: invalid DNS search domain "a\.example\nnameserver 6\.6\.6\.6": use a domain name/,
  );
  const badOpt = hostSpec(['true'], { dns: { nameservers: [], search: [], options: ['ndots 2'] } });
  await assert.rejects(rt.prepare(launchOf(badOpt)), /invalid DNS option "ndots 2"/);
  assert.deepEqual(leftovers(prefix, root), []);
});
