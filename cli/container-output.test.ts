import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container__Output } from '../api/gen/swarmlite/local/v1/Container.js';
import {
  commandText,
  humanDuration,
  inspectObject,
  psRows,
  renderTemplate,
  statusText,
} from './container-output.js';

const NOW = Date.parse('2026-12-07T06:10:00Z');

function container(state: Partial<Container__Output['state'] & object> = {}): Container__Output {
  return {
    id: 'ab'.repeat(32),
    name: 'web',
    created: '2026-12-07T06:00:00Z',
    config: {
      image: 'busybox',
      entrypointSet: false,
      entrypoint: [],
      cmd: ['sleep', '3600'],
      env: ['A=1'],
      workdir: '',
      user: '',
      hostname: '',
    },
    hostConfig: {
      restartPolicy: 'on-failure:3',
      autoRemove: false,
      memoryBytes: 0,
      nanoCpus: 0,
      networkMode: 'none',
      portBindings: [{ protocol: 'tcp', containerPort: 80, hostPort: 8080, hostIp: '' }],
      publishAllPorts: false,
      networkAliases: [],
      dns: [],
    },
    networkSettings: {
      networkId: 'b'.repeat(64),
      networkName: 'bridge',
      ipAddress: '172.17.0.2/16',
      gateway: '172.17.0.1',
      macAddress: '02:42:ac:11:00:02',
      ports: [{ protocol: 'tcp', containerPort: 80, hostPort: 8080, hostIp: '' }],
      interface: 'eth0',
      aliases: [],
    },
    networks: [],
    state: {
      status: 'running',
      pid: 42,
      exitCode: 0,
      error: '',
      oomKilled: false,
      startedAt: '2026-12-07T06:09:55Z',
      finishedAt: '',
      restartCount: 0,
      ...state,
    },
  };
}

test("humanDuration in Docker's words", () => {
  const rows: [number, string][] = [
    [200, 'Less than a second'],
    [1000, '1 second'],
    [5000, '5 seconds'],
    [61_000, 'About a minute'],
    [5 * 60_000, '5 minutes'],
    [3600_000, 'About an hour'],
    [3 * 3600_000, '3 hours'],
    [3 * 86400_000, '3 days'],
  ];
  for (const [ms, want] of rows) assert.equal(humanDuration(ms), want, String(ms));
});

test('ps status and command columns', () => {
  assert.equal(statusText(container(), NOW), 'Up 5 seconds');
  assert.equal(
    statusText(container({ status: 'exited', exitCode: 3, finishedAt: '2026-12-07T06:07:00Z' }), NOW),
    'Exited (3) 3 minutes ago',
  );
  assert.equal(statusText(container({ status: 'created' }), NOW), 'Created');
  assert.equal(
    statusText(container({ status: 'restarting', exitCode: 1, finishedAt: '2026-12-07T06:09:58Z' }), NOW),
    'Restarting (1) 2 seconds ago',
  );
  assert.equal(commandText(container(), false), '"sleep 3600"');
  const long = container();
  long.config!.cmd = ['sh', '-c', 'while true; do date; sleep 1; done'];
  assert.equal(commandText(long, false), '"sh -c while true; d…"');
  assert.equal(commandText(long, true), '"sh -c while true; do date; sleep 1; done"');
  assert.deepEqual(psRows([container()], NOW, false)[0], [
    'abababababab',
    'busybox',
    '"sleep 3600"',
    '10 minutes ago',
    'Up 5 seconds',
    '0.0.0.0:8080->80/tcp',
    'web',
  ]);
  assert.equal(psRows([container({ status: 'exited' })], NOW, false)[0]![5], '');
});

test('inspect object and templates', () => {
  const o = inspectObject(container());
  assert.equal(renderTemplate('{{.Id}}', o), 'ab'.repeat(32));
  assert.equal(renderTemplate('{{.Name}} {{.State.Status}} {{.State.Pid}}', o), '/web running 42');
  assert.equal(
    renderTemplate('{{ .HostConfig.RestartPolicy.Name }}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', o),
    'on-failure:3',
  );
  assert.equal(
    renderTemplate(
      '{{.NetworkSettings.IPAddress}}/{{.NetworkSettings.IPPrefixLen}} via {{.NetworkSettings.Gateway}}',
      o,
    ),
    '172.17.0.2/16 via 172.17.0.1',
  );
  assert.equal(
    renderTemplate('{{json .NetworkSettings.Ports}}', o),
    '{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}',
  );
  assert.equal(renderTemplate('{{.NetworkSettings.Networks.bridge.MacAddress}}', o), '02:42:ac:11:00:02');
  assert.equal(
    renderTemplate('{{json .HostConfig.PortBindings}} {{.HostConfig.PublishAllPorts}}', o),
    '{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]} false',
  );
  // On a user network Docker leaves the top-level fields empty: the address is under Networks.
  const user = inspectObject({
    ...container(),
    networkSettings: { ...container().networkSettings!, networkName: 'appnet' },
  });
  assert.equal(renderTemplate('{{.NetworkSettings.IPAddress}}', user), '');
  assert.equal(renderTemplate('{{.NetworkSettings.Networks.appnet.IPAddress}}', user), '172.17.0.2');
  // Several networks (network connect): each under its name, aliases with it; the top-level fields
  // still the default bridge's.
  const two = inspectObject({
    ...container(),
    networks: [
      container().networkSettings!,
      {
        ...container().networkSettings!,
        networkId: 'c'.repeat(64),
        networkName: 'n2',
        ipAddress: '172.20.0.3/16',
        gateway: '172.20.0.1',
        ports: [],
        interface: 'eth1',
        aliases: ['db'],
      },
    ],
  });
  assert.equal(
    renderTemplate(
      '{{.NetworkSettings.Networks.bridge.IPAddress}} {{.NetworkSettings.Networks.n2.IPAddress}}',
      two,
    ),
    '172.17.0.2 172.20.0.3',
  );
  assert.equal(renderTemplate('{{json .NetworkSettings.Networks.n2.Aliases}}', two), '["db"]');
  assert.equal(renderTemplate('{{json .NetworkSettings.Networks.bridge.Aliases}}', two), 'null');
  assert.equal(renderTemplate('{{.NetworkSettings.IPAddress}}', two), '172.17.0.2');
  assert.equal(renderTemplate('{{json .Config.Env}}', o), '["A=1"]');
  assert.equal(renderTemplate('{{.Config.Entrypoint}}', o), '<nil>');
  assert.equal(renderTemplate('{{.Nope.Deeper}}', o), '<no value>');
  assert.equal(renderTemplate('{{.State.Running}}', o), 'true');
  assert.equal(JSON.parse(renderTemplate('{{json .}}', o)).Id, o.Id);
  assert.throws(
    () => renderTemplate('{{range .Mounts}}x{{end}}', o),
    /unsupported action '\{\{range \.Mounts\}\}'/,
  );
  assert.throws(() => renderTemplate('{{.Id', o), /unbalanced braces/);
  assert.throws(() => renderTemplate('{{index .Config.Env 0}}', o), /unsupported action/);
});
