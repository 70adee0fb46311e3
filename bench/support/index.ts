/**
 * What the benchmarks share: their command line and output (options.ts), the stack they run against
 * (stack.ts), what they measure (measure.ts), and the cases and policies they open and count (cases.ts).
 */
export * from './cases';
export * from './measure';
export * from './options';
export * from './stack';
