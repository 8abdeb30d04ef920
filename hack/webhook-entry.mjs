// The image's /webhook: the Go webhook's executable name. Its manifests run `command: [/webhook,
// --flags...]` with no subcommand, which the CLI takes as `serve` on the Go webhook's port.
// Distroless has no shell, so it is a Node script: hack/bundle.mjs writes it to dist/bundle/webhook
// and the Dockerfile copies it to / (mode 0755), beside the bundle in /app. Its one Node flag is
// the ENTRYPOINT's (a shebang passes everything after the interpreter as one argument, so one flag
// at most). `import()` resolves against the script's own path: /webhook loads /app/cli.mjs.
export const WEBHOOK_SCRIPT = [
  '#!/nodejs/bin/node --disable-warning=DEP0169',
  "// The Go webhook's entry point: `/webhook --flags...` is `serve --flags...` (hack/webhook-entry.mjs).",
  "import('./app/cli.mjs');",
  '',
].join('\n');
