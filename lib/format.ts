// Output shapes shared by commands: docker-style aligned tables, and JSON for scripts.
import { UserError } from './errors.js';

export type OutputFormat = 'table' | 'json';

export function parseFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new UserError(`unknown --format '${value}': use table or json`, 2);
}

/** Columns padded to their widest cell plus three spaces, as `docker ... ls` prints them. */
export function renderTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
