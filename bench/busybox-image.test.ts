import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { findTool } from '../lib/exec.js';
import { BENCH_IMAGE, writeBenchImage } from './busybox-image.js';

interface Entry {
  type: string;
  linkname?: string | null;
  body: Buffer;
}

async function entries(archive: Buffer): Promise<Map<string, Entry>> {
  const ex = extract();
  const out = new Map<string, Entry>();
  const reading = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const { name, type, linkname } = entry.header;
      out.set(name, { type: type ?? 'file', linkname, body: Buffer.concat(chunks) });
    }
  })();
  ex.end(archive);
  await reading;
  return out;
}

test('the bench image is a docker-save archive of the system busybox, named by its config digest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-bench-image-test-'));
  try {
    const image = await writeBenchImage(dir);
    assert.equal(image.ref, BENCH_IMAGE);
    const files = await entries(readFileSync(image.file));
    const manifest = JSON.parse(files.get('manifest.json')!.body.toString()) as Array<{
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }>;
    assert.equal(manifest.length, 1);
    assert.deepEqual(manifest[0]!.RepoTags, [BENCH_IMAGE]);
    const config = files.get(manifest[0]!.Config)!.body;
    assert.equal(image.id, `sha256:${createHash('sha256').update(config).digest('hex')}`, 'Docker image ID');
    assert.equal(manifest[0]!.Layers.length, 1);
    const layer = await entries(files.get(manifest[0]!.Layers[0]!)!.body);
    assert.ok(layer.get('bin/busybox')!.body.equals(readFileSync(findTool('busybox'))), 'the same busybox');
    for (const applet of ['sh', 'sleep'])
      assert.deepEqual(
        [layer.get(`bin/${applet}`)?.type, layer.get(`bin/${applet}`)?.linkname],
        ['symlink', 'busybox'],
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
