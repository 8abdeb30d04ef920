/** The ports from `serve`'s "pod-identity-webhook serving" log line, once its output holds it. */
export function servingPorts(output: string): { port: number; metricsPort: number } | undefined {
  const line = output.split('\n').find((l) => l.includes('"msg":"pod-identity-webhook serving"'));
  return line === undefined ? undefined : (JSON.parse(line) as { port: number; metricsPort: number });
}
