// Placement constraints: `node.<attribute> == value` / `!= value`, parsed once and matched against nodes.
//
// Semantics follow Docker (SwarmKit's constraint package): the attribute name (`node.id`, `node.LABELS.`)
// is case-insensitive, the label name after `node.labels.` is case-sensitive, and values compare
// case-insensitively. A label the node does not carry reads as the empty string, so `!=` matches it and
// `==` does not. Where Docker silently accepts an expression that can never match (an unknown attribute,
// `node.role==boss`), we refuse it at parse time: the control API can then reject the service instead of
// leaving its tasks pending forever.
import type { Node } from './objects/index.js';

export type ConstraintOperator = '==' | '!=';

/** The node attributes an expression can name; `label` means `node.labels.<label>`. */
export type ConstraintField = 'id' | 'hostname' | 'role' | 'platform.os' | 'platform.arch' | 'label';

export interface Constraint {
  /** The expression as the user wrote it, for messages. */
  readonly expression: string;
  readonly field: ConstraintField;
  /** The label name (case-sensitive) when field is 'label'; '' otherwise. */
  readonly label: string;
  readonly operator: ConstraintOperator;
  /** Trimmed; compared case-insensitively. */
  readonly value: string;
}

export class ConstraintError extends Error {
  constructor(
    /** The offending expression, as given. */
    readonly expression: string,
    /** Its position in the list handed to parseConstraints. */
    readonly index: number,
    problem: string,
  ) {
    super(`invalid constraint ${JSON.stringify(expression)}: ${problem}`);
    this.name = 'ConstraintError';
  }
}

const LABEL_PREFIX = 'node.labels.';
const FIELDS: Readonly<Record<string, ConstraintField>> = {
  'node.id': 'id',
  'node.hostname': 'hostname',
  'node.role': 'role',
  'node.platform.os': 'platform.os',
  'node.platform.arch': 'platform.arch',
};
const SUPPORTED =
  'node.id, node.hostname, node.role, node.platform.os, node.platform.arch or node.labels.<name>';
// Label names as Docker writes them (com.example.zone, rack_1, tier-a); '/' and spaces are not allowed.
const LABEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
// Characters that are (or may become) operators: a value holding one is almost always a typo such as
// `node.role===manager` or `node.labels.a==b==c`.
const OPERATOR_CHARS = /[=!<>~]/;

/**
 * Parses every expression or returns the first error. Callers keep the result: matching never
 * re-parses.
 */
export function parseConstraints(expressions: readonly string[]): Constraint[] | ConstraintError {
  const constraints: Constraint[] = [];
  for (let i = 0; i < expressions.length; i++) {
    const parsed = parseOne(expressions[i]!);
    if (typeof parsed === 'string') return new ConstraintError(expressions[i]!, i, parsed);
    constraints.push(parsed);
  }
  return constraints;
}

function parseOne(expression: string): Constraint | string {
  const eq = expression.indexOf('==');
  const ne = expression.indexOf('!=');
  if (eq < 0 && ne < 0) {
    return expression.includes('=')
      ? 'expected == or != (a single = is not an operator)'
      : 'expected an operator, == or !=';
  }
  // The first operator splits key from value, so `a==b!=c` is key `a`, value `b!=c` (then refused).
  const at = ne < 0 || (eq >= 0 && eq < ne) ? eq : ne;
  const operator: ConstraintOperator = at === eq ? '==' : '!=';
  const key = expression.slice(0, at).trim();
  const value = expression.slice(at + 2).trim();

  if (key === '') return 'the attribute before the operator is empty';
  if (value === '') return 'the value after the operator is empty';
  if (OPERATOR_CHARS.test(value)) return `the value ${JSON.stringify(value)} holds an operator character`;

  const lowerKey = key.toLowerCase();
  if (lowerKey.startsWith(LABEL_PREFIX)) {
    const label = key.slice(LABEL_PREFIX.length);
    if (!LABEL_NAME.test(label)) return `label name ${JSON.stringify(label)} is empty or malformed`;
    return { expression, field: 'label', label, operator, value };
  }
  if (lowerKey.startsWith('engine.labels.')) {
    return 'engine labels are not supported (swarmlite nodes carry node.labels only)';
  }
  const field = FIELDS[lowerKey];
  if (field === undefined) return `unknown attribute ${JSON.stringify(key)}; expected ${SUPPORTED}`;
  if (field === 'role' && !['manager', 'worker'].includes(value.toLowerCase())) {
    return 'node.role must be manager or worker';
  }
  return { expression, field, label: '', operator, value };
}

function attributeOf(node: Node, c: Constraint): string {
  switch (c.field) {
    case 'id':
      return node.id;
    case 'hostname':
      return node.description.hostname;
    case 'role':
      // The observed role: a node being promoted runs tasks as a worker until the promotion took effect.
      return node.role;
    case 'platform.os':
      return node.description.platform.os;
    case 'platform.arch':
      return node.description.platform.arch;
    case 'label':
      // Object.hasOwn: a label named "constructor" must not read Object.prototype.
      return Object.hasOwn(node.spec.labels, c.label) ? node.spec.labels[c.label]! : '';
  }
}

/** Whether the node satisfies every constraint (an empty list matches every node). */
export function matchesConstraints(node: Node, constraints: readonly Constraint[]): boolean {
  for (const c of constraints) {
    const equal = attributeOf(node, c).toLowerCase() === c.value.toLowerCase();
    if (equal !== (c.operator === '==')) return false;
  }
  return true;
}
