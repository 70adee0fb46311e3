// Loaded into a real worker process by NODE_OPTIONS=--require (test/support/fault-scenarios.ts): kills the
// process (SIGKILL) the moment Postgres has committed the first read-model write of the case named by
// SFE_KILL_AFTER_WRITE_OF, before the worker can report the write to Temporal. What it patches is pg's own
// client, which the worker's pool uses; nothing in the engine knows it is there.
'use strict';
const pg = require('pg');

const target = process.env.SFE_KILL_AFTER_WRITE_OF;
const die = () => {
  process.kill(process.pid, 'SIGKILL');
};
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, ...rest) {
  const isTarget =
    target &&
    config &&
    config.name === 'write-case-snapshots' &&
    Array.isArray(config.values) &&
    String(config.values[0]).includes(`"case_id":${JSON.stringify(target)}`);
  if (!isTarget) return query.call(this, config, ...rest);
  // pg-pool passes a callback; a direct caller gets a promise. Either way: die once the statement committed.
  const callback = typeof rest[rest.length - 1] === 'function' ? rest.pop() : null;
  if (callback) return query.call(this, config, ...rest, (err, res) => (err ? callback(err, res) : die()));
  return query.call(this, config, ...rest).then(() => {
    die();
    return new Promise(() => undefined);
  });
};
