/**
 * The work's result, or a rejection with `message` once `ms` have passed (the work itself is not stopped).
 * The timer neither keeps the process alive nor outlives the work.
 */
export function within<T>(ms: number, work: Promise<T>, message = `no answer within ${ms} ms`): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms).unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
