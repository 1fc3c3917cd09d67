// Waking on what happens in a task's folder (the supervisor writing `created` or `exit`, the folder
// being removed) instead of reading the folder's files every few ms: with 100 tasks starting or
// running on a node, polling each at 10 Hz was a thousand status reads a second. A change seen
// between two waits is kept; a backstop timer covers what inotify does not report (a supervisor
// SIGKILLed writes nothing) and machines without inotify.
import { watch, type FSWatcher } from 'node:fs';

export interface FolderChanges {
  /** Resolves at the next change (or at once if one came since the last call), after ms at most, or on abort. */
  next(ms: number, signal?: AbortSignal): Promise<void>;
  /** Counts as a change (the launcher's exit, seen as a process event). */
  poke(): void;
  close(): void;
}

export function folderChanges(dir: string): FolderChanges {
  let changed = false;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, () => {
      changed = true;
      wake?.();
    });
    watcher.on('error', () => undefined); // the folder went away: the backstop alone is left
  } catch {
    // no inotify here: the backstop alone
  }
  return {
    next: (ms, signal) =>
      new Promise<void>((resolve) => {
        if (changed || signal?.aborted) {
          changed = false;
          return resolve();
        }
        const timer = setTimeout(done, ms);
        signal?.addEventListener('abort', done, { once: true });
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          wake = undefined;
          changed = false;
          resolve();
        }
        wake = done;
      }),
    poke: () => {
      changed = true;
      wake?.();
    },
    close: () => watcher?.close(),
  };
}
