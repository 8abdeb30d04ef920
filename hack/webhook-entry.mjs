// The image's /webhook: the Go webhook's executable name. Its manifests run `command: [/webhook,
// --flags...]` with no subcommand, which the CLI takes as `serve` on the Go webhook's port.
// Distroless has no shell, so it is a Node script: hack/bundle.mjs writes it to dist/bundle/webhook
// and the Dockerfile copies it to / (mode 0755), beside the bundle in /app. A shebang passes
// everything after the interpreter as one argument, so it takes one Node flag at most: the
// ENTRYPOINT's young-generation limit, the one that saves most at 100,000 ServiceAccounts (see the
// Dockerfile); /webhook goes without --no-concurrent-recompilation (its peak under load is ~17 MiB
// higher). The ENTRYPOINT's --disable-warning silences a warning only `doctor` can cause, which
// /webhook (always `serve`) does not run. `import()` resolves against the script's own path:
// /webhook loads /app/cli.mjs.
export const WEBHOOK_SCRIPT = [
  '#!/nodejs/bin/node --max-semi-space-size=2',
  "// The Go webhook's entry point: `/webhook --flags...` is `serve --flags...` (hack/webhook-entry.mjs).",
  "import('./app/cli.mjs');",
  '',
].join('\n');
