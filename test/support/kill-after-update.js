// Loaded into a real worker process by NODE_OPTIONS=--require (test/support/fault-scenarios.ts): kills the
// process (SIGKILL) the moment the fan-out's Update of the case whose workflow id is SFE_KILL_AFTER_UPDATE_OF
// has completed, before the snapshot it answered is written to the read model. What it patches is the
// Temporal client's own Update call, which the fan-out's activity uses; nothing in the engine knows it is there.
'use strict';
const { WorkflowClient } = require('@temporalio/client');

const target = process.env.SFE_KILL_AFTER_UPDATE_OF;
const UPDATE = 'applyPolicyWrittenByCaller';
let armed = false;
const die = () => {
  process.kill(process.pid, 'SIGKILL');
  return new Promise(() => undefined);
};
const startUpdate = WorkflowClient.prototype._startUpdateHandler;
WorkflowClient.prototype._startUpdateHandler = async function (waitForStage, input) {
  const started = await startUpdate.call(this, waitForStage, input);
  if (input.updateName === UPDATE && input.workflowExecution.workflowId === target) {
    // The server answers a completed Update at once, or the client polls for its outcome below.
    if (started.outcome) return die();
    armed = true;
  }
  return started;
};
const poll = WorkflowClient.prototype._pollForUpdateOutcome;
WorkflowClient.prototype._pollForUpdateOutcome = async function (updateId, execution) {
  const outcome = await poll.call(this, updateId, execution);
  if (armed && execution.workflowId === target) return die();
  return outcome;
};
