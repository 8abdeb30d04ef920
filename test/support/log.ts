import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface CapturedLog {
  log: Logger;
  /** Every line written so far, parsed. */
  lines: Array<Record<string, unknown>>;
}

/** A pino logger at `level` whose JSON lines are kept in memory for assertions. */
export function captureLog(level = 'info'): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level }, stream), lines };
}
