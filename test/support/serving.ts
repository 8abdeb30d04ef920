/** The ports from `serve`'s "pod-identity-webhook serving" log line, once its output holds it. */
export function servingPorts(output: string): { port: number; metricsPort: number } | undefined {
  const line = output.split('\n').find((l) => l.includes('"msg":"pod-identity-webhook serving"'));
  return line === undefined ? undefined : (JSON.parse(line) as { port: number; metricsPort: number });
}

/** `serve` on free ports (0) with the given certificate files: the CLI's arguments. */
export function serveArgs(certs: { certFile: string; keyFile: string }): string[] {
  return [
    'serve',
    '--port',
    '0',
    '--metrics-port',
    '0',
    '--tls-cert',
    certs.certFile,
    '--tls-key',
    certs.keyFile,
  ];
}
