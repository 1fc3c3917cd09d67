// Docker's service templates (`--hostname '{{.Node.Hostname}}-{{.Task.Slot}}'`, `-e NAME={{.Task.Name}}`)
// and the built-in image: what the control API refuses at create/update and the worker relies on when
// it expands them on the node, so a typo is one clear error at create, never a task rejected on every
// node in a loop.
import { parseNormalizedNamed } from './image-reference.js';

/** The built-in image: the host's own files (worker/exec/task-plan.ts); no registry has it. */
export const BUILTIN_IMAGE = 'host';

/** Why `image` cannot name an image for a task (not a reference Docker would accept), or undefined. */
export function checkImage(image: string): string | undefined {
  if (image === BUILTIN_IMAGE) return undefined;
  try {
    parseNormalizedNamed(image);
    return undefined;
  } catch (err) {
    return `invalid image: ${(err as Error).message}`;
  }
}

/** The template fields a task spec may use (the values are only known on the node). */
export const TEMPLATE_FIELDS = [
  '.Node.ID',
  '.Node.Hostname',
  '.Service.ID',
  '.Service.Name',
  '.Task.ID',
  '.Task.Name',
  '.Task.Slot',
] as const;

/** `{{ .Field }}` with optional spaces. */
export const TEMPLATE_ACTION = /\{\{\s*([^}\s]+)\s*\}\}/g;

/**
 * Why a templated text cannot be expanded, or undefined: an unknown field, or a `{{` / `}}` that is
 * not part of a whole `{{ .Field }}` (`'{{.Bad'`).
 */
export function checkTemplate(flag: string, text: string): string | undefined {
  for (const m of text.matchAll(TEMPLATE_ACTION)) {
    if (!(TEMPLATE_FIELDS as readonly string[]).includes(m[1]!))
      return `invalid ${flag} template "${text}": unknown field {{${m[1]}}}; use one of ${TEMPLATE_FIELDS.join(', ')}`;
  }
  const rest = text.replace(TEMPLATE_ACTION, '');
  if (rest.includes('{{') || rest.includes('}}'))
    return `invalid ${flag} template "${text}": every {{ needs a field and a closing }}, e.g. {{.Task.Slot}}`;
  return undefined;
}
