import pino from 'pino';

/**
 * Structured JSON logs, one object a line, written by pino: `{"level":"info","time":"<ISO 8601>",
 * ...fields,"message":"..."}`. Callers pass ids (case id, request id), never personal data: no CPR number,
 * name or citizen reference is ever a field here. The redaction below is defence in depth, not the rule.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** Fields that would hold personal data or a secret if a caller ever passed them, at the top or one level down. */
const REDACTED = ['citizenRef', 'cpr', 'cprNumber', 'authorization', 'apiKey', 'headers.authorization'];

/**
 * `write` receives each line without its newline (tests capture lines with it). Without it, lines go to
 * stdout synchronously: a line logged just before process.exit() (the API's stop, a failed start) is never
 * lost, and at this volume (a line per request) writing as it comes costs nothing worth an async buffer.
 */
export function createLogger(level: LogLevel = 'info', base: LogFields = {}, write?: (line: string) => void): Logger {
  const destination = write
    ? { write: (chunk: string) => write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) }
    : pino.destination({ dest: 1, sync: true });
  return wrap(
    pino(
      {
        level,
        base,
        messageKey: 'message',
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        // An Error under either name becomes { type, message, stack } instead of {}.
        serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
        redact: { paths: REDACTED.flatMap((p) => [p, `*.${p}`]), censor: '[redacted]' },
      },
      destination,
    ),
  );
}

function wrap(logger: pino.Logger): Logger {
  return {
    debug: (message, fields = {}) => logger.debug(fields, message),
    info: (message, fields = {}) => logger.info(fields, message),
    warn: (message, fields = {}) => logger.warn(fields, message),
    error: (message, fields = {}) => logger.error(fields, message),
    child: (fields) => wrap(logger.child(fields)),
  };
}
