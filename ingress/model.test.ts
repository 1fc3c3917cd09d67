// Golden-file tests of the rendered rulesets (ingress/testdata/*.nft; regenerate with
// UPDATE_GOLDEN=1 after a deliberate change, then read the diff), plus the model's invariants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderIngressTable, renderPublishTable, renderVipTable } from './model.js';
import { assertOnlyTable } from './apply.js';
import { ownsTable, tableName } from './names.js';
import type { Backend, PublishedPort, RenderedTable } from './types.js';

// Compiled tests run from <outDir>/ingress/; the golden files stay in the source tree.
const GOLDEN_DIR = fileURLToPath(new URL('../../ingress/testdata/', import.meta.url));

function golden(name: string, table: RenderedTable): void {
  const path = `${GOLDEN_DIR}${name}.nft`;
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, table.text);
  assert.equal(table.text, readFileSync(path, 'utf8'), `${name}.nft differs (UPDATE_GOLDEN=1 to accept)`);
}

const WEB_5000: PublishedPort = { protocol: 'tcp', publishedPort: 5000, targetPort: 80, serviceId: 'web' };
const ingressBackends = (service: string, ...hosts: number[]): Backend[] =>
  hosts.map((h) => ({ serviceId: service, networkId: 'ingress', address: `10.255.0.${h}` }));

test('golden: one published service, three backends', () => {
  golden(
    'ingress-three-backends',
    renderIngressTable({
      prefix: 'swl',
      ingressNetworkId: 'ingress',
      published: [WEB_5000],
      backends: ingressBackends('web', 7, 5, 6),
    }),
  );
});

test('mode=host (masquerade off): the same balancing, nothing marked, no masquerade chain', () => {
  const on = renderIngressTable({
    prefix: 'swl',
    ingressNetworkId: 'ingress',
    published: [WEB_5000],
    backends: ingressBackends('web', 7),
  });
  const off = renderIngressTable({
    prefix: 'swl',
    ingressNetworkId: 'ingress',
    masquerade: false,
    published: [WEB_5000],
    backends: ingressBackends('web', 7),
  });
  assert.match(on.text, /masquerade/);
  assert.doesNotMatch(off.text, /masquerade|meta mark set/);
  assert.match(off.text, /dnat (ip )?to 10\.255\.0\.7/);
});

test('golden: a backend removed leaves only the other two', () => {
  golden(
    'ingress-backend-removed',
    renderIngressTable({
      prefix: 'swl',
      ingressNetworkId: 'ingress',
      published: [WEB_5000],
      backends: ingressBackends('web', 5, 7),
    }),
  );
});

test('golden: no backend puts the port in the reject set', () => {
  golden(
    'ingress-no-backend',
    renderIngressTable({ prefix: 'swl', ingressNetworkId: 'ingress', published: [WEB_5000], backends: [] }),
  );
});

test('golden: two services on the same port number, different protocols', () => {
  golden(
    'ingress-tcp-udp-same-port',
    renderIngressTable({
      prefix: 'swl',
      ingressNetworkId: 'ingress',
      published: [{ protocol: 'udp', publishedPort: 5000, targetPort: 53, serviceId: 'dns' }, WEB_5000],
      backends: [
        ...ingressBackends('web', 5, 6),
        ...ingressBackends('dns', 9),
        // the same service on another network is not an ingress backend
        { serviceId: 'web', networkId: 'appnet', address: '10.0.1.5' },
      ],
    }),
  );
});

test('golden: VIP balancing inside a task namespace on two networks', () => {
  golden(
    'vips-two-networks',
    renderVipTable({
      prefix: 'swl',
      networkIds: ['appnet', 'backnet'],
      vips: [
        { serviceId: 'web', networkId: 'appnet', address: '10.0.1.2' },
        { serviceId: 'db', networkId: 'backnet', address: '10.0.2.2' },
        { serviceId: 'cache', networkId: 'backnet', address: '10.0.2.10' },
        { serviceId: 'other', networkId: 'elsewhere', address: '10.0.9.2' },
      ],
      backends: [
        { serviceId: 'web', networkId: 'appnet', address: '10.0.1.4' },
        { serviceId: 'web', networkId: 'appnet', address: '10.0.1.3' },
        { serviceId: 'web', networkId: 'appnet', address: '10.0.1.5' },
        { serviceId: 'db', networkId: 'backnet', address: '10.0.2.3' },
        { serviceId: 'other', networkId: 'elsewhere', address: '10.0.9.3' },
      ],
    }),
  );
});

test('golden: the node forwards published ports to its ingress sandbox', () => {
  golden(
    'publish-to-sandbox',
    renderPublishTable({
      prefix: 'swl',
      published: [WEB_5000, { protocol: 'udp', publishedPort: 53, targetPort: 53, serviceId: 'dns' }],
      sandboxAddress: '172.18.0.2',
    }),
  );
});

test('golden: idle timeouts of their own for some published ports', () => {
  golden(
    'ingress-idle-timeouts',
    renderIngressTable({
      prefix: 'swl',
      ingressNetworkId: 'ingress',
      published: [
        { ...WEB_5000, idleTimeoutSeconds: 7200 },
        { protocol: 'tcp', publishedPort: 5432, targetPort: 5432, serviceId: 'db', idleTimeoutSeconds: 7200 },
        { protocol: 'udp', publishedPort: 4500, targetPort: 4500, serviceId: 'vpn', idleTimeoutSeconds: 600 },
        { protocol: 'tcp', publishedPort: 8080, targetPort: 80, serviceId: 'api' },
      ],
      backends: [...ingressBackends('web', 5), ...ingressBackends('db', 6), ...ingressBackends('vpn', 7)],
    }),
  );
  assert.throws(
    () =>
      renderIngressTable({
        prefix: 'swl',
        ingressNetworkId: 'ingress',
        published: [{ ...WEB_5000, idleTimeoutSeconds: 0 }],
        backends: [],
      }),
    /idle timeout of tcp 5000/,
  );
});

test('golden: a port that keeps the client address is DNATed without the masquerade mark', () => {
  const table = renderIngressTable({
    prefix: 'swl',
    ingressNetworkId: 'ingress',
    published: [
      { ...WEB_5000, preserveClientAddress: true },
      { protocol: 'tcp', publishedPort: 8080, targetPort: 80, serviceId: 'web' },
      { protocol: 'udp', publishedPort: 5353, targetPort: 53, serviceId: 'dns', preserveClientAddress: true },
    ],
    backends: [...ingressBackends('web', 5, 6), ...ingressBackends('dns', 9)],
  });
  golden('ingress-preserve-client', table);
  // Exactly the masqueraded port's chain sets the mark.
  assert.equal(table.text.match(/meta mark set meta mark \| 0x00800000/g)?.length, 1);
  // `false` is the default, rendered as if absent.
  const plain = (preserveClientAddress?: boolean) =>
    renderIngressTable({
      prefix: 'swl',
      ingressNetworkId: 'ingress',
      published: [{ ...WEB_5000, ...(preserveClientAddress === undefined ? {} : { preserveClientAddress }) }],
      backends: ingressBackends('web', 5),
    }).text;
  assert.equal(plain(false), plain());
});

test('output does not depend on input order, and duplicate backends count once', () => {
  const published: PublishedPort[] = [
    WEB_5000,
    { protocol: 'udp', publishedPort: 7000, targetPort: 7, serviceId: 'echo' },
    { protocol: 'tcp', publishedPort: 443, targetPort: 8443, serviceId: 'tls' },
  ];
  const backends = [
    ...ingressBackends('web', 3, 1, 2),
    ...ingressBackends('tls', 20, 10),
    ...ingressBackends('echo', 4),
  ];
  const a = renderIngressTable({ prefix: 'swl', ingressNetworkId: 'ingress', published, backends });
  const b = renderIngressTable({
    prefix: 'swl',
    ingressNetworkId: 'ingress',
    published: [...published].reverse(),
    backends: [...backends, ...backends].reverse(),
  });
  assert.equal(a.text, b.text);
  assert.match(a.text, /numgen random mod 3 /);
  // ports sorted numerically, not as text
  assert.ok(a.text.indexOf('tcp . 443') < a.text.indexOf('tcp . 5000'));
});

test('bad inputs are refused, not rendered', () => {
  const base = { prefix: 'swl', ingressNetworkId: 'ingress', backends: [] };
  assert.throws(
    () => renderIngressTable({ ...base, published: [WEB_5000, { ...WEB_5000, serviceId: 'api' }] }),
    /published by both web and api/,
  );
  assert.throws(
    () => renderIngressTable({ ...base, published: [{ ...WEB_5000, publishedPort: 0 }] }),
    /bad port/,
  );
  assert.throws(
    () => renderIngressTable({ ...base, published: [{ ...WEB_5000, protocol: 'sctp' as 'tcp' }] }),
    /bad protocol/,
  );
  assert.throws(
    () => renderIngressTable({ ...base, published: [{ ...WEB_5000, serviceId: 'a b;' }] }),
    /chain name/,
  );
  assert.throws(() => renderIngressTable({ ...base, prefix: 'Bad_', published: [] }), /prefix/);
  assert.throws(
    () =>
      renderVipTable({
        prefix: 'swl',
        networkIds: ['n'],
        vips: [
          { serviceId: 'a', networkId: 'n', address: '10.0.0.2' },
          { serviceId: 'b', networkId: 'n', address: '10.0.0.2' },
        ],
        backends: [],
      }),
    /belongs to both a and b/,
  );
  assert.throws(
    () =>
      renderVipTable({
        prefix: 'swl',
        networkIds: ['n'],
        vips: [{ serviceId: 'a', networkId: 'n', address: '10.0.0.300' }],
        backends: [],
      }),
    /VIP of a/,
  );
});

test('ownership is by exact table name', () => {
  assert.ok(ownsTable('swl', 'swl_ingress'));
  assert.ok(ownsTable('swl', 'swl_vips'));
  assert.ok(ownsTable('swl', 'swl_return'));
  assert.ok(!ownsTable('swl', 'swl_gw'), "the overlay driver's table is not the mesh's");
  assert.ok(!ownsTable('swl', 'swl2_ingress'));
  assert.ok(!ownsTable('sw', 'swl_ingress'));
  assert.equal(tableName('swl', 'publish'), 'swl_publish');
});

test('every rendered table names only itself, and the check catches text that does not', () => {
  const t = renderIngressTable({
    prefix: 'swl',
    ingressNetworkId: 'ingress',
    published: [WEB_5000],
    backends: [],
  });
  assertOnlyTable(t);
  assert.throws(
    () => assertOnlyTable({ name: t.name, text: `${t.text}\ndelete table ip swl_gw\n` }),
    /swl_gw/,
  );
  assert.throws(
    () => assertOnlyTable({ name: t.name, text: `flush table inet filter\n${t.text}` }),
    /inet filter/,
  );
});
