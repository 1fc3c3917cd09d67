import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultTaskSpec } from '../../api/objects/index.js';
import { expandTaskSpec, expandTemplate, type TemplateContext } from './templates.js';

const ctx: TemplateContext = {
  node: { id: 'n1abc', hostname: 'node2' },
  service: { id: 's1', name: 'web' },
  task: { id: 't9', name: 'web.3.t9', slot: 3 },
};

test('templates expand every documented field, with or without spaces', () => {
  const cases: [string, string][] = [
    ['{{.Node.Hostname}}', 'node2'],
    ['{{ .Node.ID }}', 'n1abc'],
    ['{{.Service.Name}}-{{.Task.Slot}}', 'web-3'],
    ['{{.Task.Name}}', 'web.3.t9'],
    ['{{.Service.ID}}/{{.Task.ID}}', 's1/t9'],
    ['plain', 'plain'],
    ['', ''],
  ];
  for (const [input, want] of cases) assert.equal(expandTemplate(input, ctx), want, input);
});

test('an unknown field is an error that names it', () => {
  assert.throws(
    () => expandTemplate('{{.Node.Colour}}', ctx),
    /unknown template field \{\{\.Node\.Colour\}\}/,
  );
});

test('hostname, env and workdir of a spec are expanded; the rest is untouched', () => {
  const spec = {
    ...defaultTaskSpec('host', ['echo', '{{.Task.Slot}}']),
    hostname: '{{.Node.Hostname}}-{{.Task.Slot}}',
    env: ['SLOT={{.Task.Slot}}', 'X=1'],
    workdir: '/tmp/{{.Service.Name}}',
  };
  const out = expandTaskSpec(spec, ctx);
  assert.equal(out.hostname, 'node2-3');
  assert.deepEqual(out.env, ['SLOT=3', 'X=1']);
  assert.equal(out.workdir, '/tmp/web');
  assert.deepEqual(out.command, ['echo', '{{.Task.Slot}}']);
});
