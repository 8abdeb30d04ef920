import { pino, type Logger, type LevelWithSilent } from 'pino';

export const LOG_LEVELS: LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** JSON lines on stdout. Reviews are logged by summary only: never a Pod body, token or key. */
export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino({ level, base: { service: 'pod-identity-webhook' } });
}
