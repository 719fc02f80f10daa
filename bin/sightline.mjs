#!/usr/bin/env node
// Runs the production build (dist/, from `npm run build`) when it is there; otherwise the
// TypeScript sources through tsx (a devDependency), so `npx sightline` also works right after `npm ci`.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
let main;
if (existsSync(built)) {
  ({ main } = await import(built.href));
} else {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    process.stderr.write('Sightline is not built and tsx is not installed: run `npm run build` (or `npm ci` for the development tools).\n');
    process.exit(1);
  }
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
