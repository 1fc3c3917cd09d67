// The scheduler's public surface: constraint parsing (also used by the control API to validate service
// specs) and batch scheduling. The filters and node accounting are exported for tests and explanations.
export {
  parseConstraints,
  matchesConstraints,
  ConstraintError,
  type Constraint,
  type ConstraintField,
  type ConstraintOperator,
} from '../../api/constraints.js';
export { scheduleBatch, type SchedulingState, type BatchResult } from './schedule.js';
export {
  PIPELINE,
  readyFilter,
  availabilityFilter,
  resourceFilter,
  constraintFilter,
  hostPortFilter,
  firstRejection,
  explainNoSuitableNode,
  type Filter,
  type Requirements,
  type RejectionReason,
} from './filters.js';
export { buildNodeInfos, hostPortsOf, holdsNode, type NodeInfo, type TaskDemand } from './node-info.js';
