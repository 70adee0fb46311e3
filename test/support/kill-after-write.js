// Loaded into a real worker process by NODE_OPTIONS=--require (test/support/fault-scenarios.ts): kills the
// process (SIGKILL) the moment Postgres has committed the first read-model write of the case named by
// SFE_KILL_AFTER_WRITE_OF, before the worker can report the write to Temporal. What it patches is pg's own
// client, which the worker's pool uses; nothing in the engine knows it is there.
'use strict';
const pg = require('pg');

const target = process.env.SFE_KILL_AFTER_WRITE_OF;
const armed = Symbol('kill after the next COMMIT');
const die = () => {
  process.kill(process.pid, 'SIGKILL');
  return new Promise(() => undefined);
};
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, ...rest) {
  const text = typeof config === 'string' ? config : config && config.text;
  const isTarget =
    target && config && config.name === 'write-case-snapshots' && Array.isArray(config.values) && String(config.values[0]).includes(`"case_id":${JSON.stringify(target)}`);
  if (isTarget) this[armed] = true;
  if (!(this[armed] && text === 'COMMIT')) return query.call(this, config, ...rest);
  // The write's transaction ends here: die once Postgres has committed it. pg-pool passes a callback; a
  // transaction's client calls without one and gets a promise.
  const callback = typeof rest[rest.length - 1] === 'function' ? rest.pop() : null;
  if (callback) return query.call(this, config, ...rest, (err, res) => (err ? callback(err, res) : die()));
  return query.call(this, config, ...rest).then(die);
};
