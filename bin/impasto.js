#!/usr/bin/env node
// The `impasto` command. Runs the compiled CLI (dist/, built by `npm ci` through the prepare
// script, or `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));
if (!existsSync(compiled)) {
  process.stderr.write("error: impasto is not built (dist/cli/bin.js is missing); run 'npm run build' in the package folder\n");
  process.exit(1);
}
await import(compiled);
