// What the image verbs print, as Docker prints it: pull/push progress (a line per layer redrawn in
// place on a terminal, a line per status change otherwise), `image ls` rows, and sizes in Docker's
// decimal units. Pure functions and a display that only writes to the function it is given.
import { renderTable } from '../lib/format.js';
import { humanDuration } from './service-format.js';

export interface ProgressMessage {
  id: string;
  status: string;
  progressDetail?: { current: number; total: number } | null;
}

/** Docker's units.HumanSizeWithPrecision(n, 3): `4.26MB`, `1.24kB`, `527B`. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) [v, u] = [v / 1000, u + 1];
  return `${Number(v.toPrecision(3))}${units[u]}`;
}

const BAR_WIDTH = 50;

/** `[=====>      ]  1.2MB/4.26MB`, as Docker draws a layer's transfer on a terminal. */
export function progressBar(current: number, total: number): string {
  const done = total > 0 ? Math.min(BAR_WIDTH, Math.floor((current / total) * BAR_WIDTH)) : 0;
  const bar =
    done >= BAR_WIDTH ? '='.repeat(BAR_WIDTH) : `${'='.repeat(done)}>${' '.repeat(BAR_WIDTH - done - 1)}`;
  return `[${bar}] ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

function lineOf(m: ProgressMessage, withBar: boolean): string {
  const text = m.id ? `${m.id}: ${m.status}` : m.status;
  const d = m.progressDetail;
  return withBar && d && d.total > 0 ? `${text} ${progressBar(d.current, d.total)}` : text;
}

/**
 * Pull/push progress. On a terminal each layer keeps its line and is redrawn in place (the cursor is
 * moved up to it and back); otherwise a line is printed each time a layer's status changes, so a log
 * shows every step and no byte counts.
 */
export class ProgressDisplay {
  private readonly lines: string[] = [];
  private readonly lastStatus = new Map<string, string>();

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
  ) {}

  show(m: ProgressMessage): void {
    if (m.status === '') return;
    if (!this.tty) {
      if (m.id && this.lastStatus.get(m.id) === m.status) return;
      if (m.id) this.lastStatus.set(m.id, m.status);
      this.write(`${lineOf(m, false)}\n`);
      return;
    }
    const index = m.id ? this.lines.indexOf(m.id) : -1;
    if (index < 0) {
      // A line of its own (a new layer, or a whole-image message, which is never redrawn).
      this.lines.push(m.id || `\0${this.lines.length}`);
      this.write(`${lineOf(m, true)}\n`);
      return;
    }
    const up = this.lines.length - index;
    this.write(`\x1b[${up}A\r\x1b[2K${lineOf(m, true)}\x1b[${up}B\r`);
  }
}

export interface ImageRow {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  created: number;
  size: number;
}

/** `sha256:a416a98b71e2...` → `a416a98b71e2`. */
export const shortImageId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** `localhost:5000/app:v1` → [`localhost:5000/app`, `v1`] (the colon of a port is not a tag's). */
export function splitTag(familiar: string): [string, string] {
  const colon = familiar.lastIndexOf(':');
  return colon > familiar.lastIndexOf('/')
    ? [familiar.slice(0, colon), familiar.slice(colon + 1)]
    : [familiar, '<none>'];
}

/** `docker image ls`: a row per tag, `<none>` for an untagged image (under its repository if known). */
export function imageTable(images: ImageRow[], nowMs: number): string {
  const rows: string[][] = [];
  for (const img of images) {
    const created = img.created > 0 ? `${humanDuration(nowMs - img.created * 1000)} ago` : 'N/A';
    const names: [string, string][] = img.repoTags.length
      ? img.repoTags.map(splitTag)
      : [[img.repoDigests[0]?.split('@')[0] ?? '<none>', '<none>']];
    for (const [repo, tag] of names)
      rows.push([repo, tag, shortImageId(img.id), created, humanSize(img.size)]);
  }
  return renderTable(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows);
}
