// The worker-thread side of unpackLayerFile (unpack.ts): unpacks one layer blob and posts the size,
// or the error in a form the calling thread rebuilds as the same class.
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { sendable, unpackLayer, type UnpackJob, type UnpackResult } from './unpack.js';

const job = workerData as UnpackJob;
const post = (result: UnpackResult) => parentPort?.postMessage(result);
unpackLayer(createReadStream(job.blobPath, { highWaterMark: 1 << 20 }), job.root, job.diffId, job.what).then(
  (bytes) => post({ ok: true, bytes }),
  (err: unknown) => post({ ok: false, error: sendable(err) }),
);
