// What every command prints when it cannot go on, and the collector of repeatable flags.

/** One line on stderr, `pod-identity-webhook: <what is wrong>`, then exit with `status`. */
export function fail(error: unknown, status = 1): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`pod-identity-webhook: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(status);
}

/** A repeatable option's collector: every value, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
