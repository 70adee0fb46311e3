export { caseWorkflow } from './case-workflow';
export { policyFanoutWorkflow } from './policy-fanout-workflow';
