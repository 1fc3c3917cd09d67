// Docker's service templates, expanded by the agent just before a task starts (the values are only known
// on the node): `--hostname '{{.Node.Hostname}}-{{.Task.Slot}}'`, `-e NAME={{.Task.Name}}`.
import type { TaskSpec } from '../../api/objects/index.js';
import { TEMPLATE_ACTION, TEMPLATE_FIELDS } from '../../api/task-templates.js';

export interface TemplateContext {
  node: { id: string; hostname: string };
  service: { id: string; name: string };
  task: { id: string; name: string; slot: number };
}

const FIELDS: Record<(typeof TEMPLATE_FIELDS)[number], (c: TemplateContext) => string> = {
  '.Node.ID': (c) => c.node.id,
  '.Node.Hostname': (c) => c.node.hostname,
  '.Service.ID': (c) => c.service.id,
  '.Service.Name': (c) => c.service.name,
  '.Task.ID': (c) => c.task.id,
  '.Task.Name': (c) => c.task.name,
  '.Task.Slot': (c) => String(c.task.slot),
};

/** Expands every `{{ .Field }}`; an unknown field is an error naming it (the task is rejected). */
export function expandTemplate(text: string, ctx: TemplateContext): string {
  return text.replace(TEMPLATE_ACTION, (_all, field: string) => {
    const value = (FIELDS as Record<string, ((c: TemplateContext) => string) | undefined>)[field];
    if (!value) {
      throw new Error(`unknown template field {{${field}}}: use one of ${Object.keys(FIELDS).join(', ')}`);
    }
    return value(ctx);
  });
}

/** The spec with its hostname, env and workdir templates expanded. */
export function expandTaskSpec(spec: TaskSpec, ctx: TemplateContext): TaskSpec {
  return {
    ...spec,
    hostname: expandTemplate(spec.hostname, ctx),
    env: spec.env.map((e) => expandTemplate(e, ctx)),
    workdir: expandTemplate(spec.workdir, ctx),
  };
}
