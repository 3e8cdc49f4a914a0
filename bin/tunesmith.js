#!/usr/bin/env node
// Entry for `tunesmith` / `npx tunesmith`: runs the compiled CLI from out/node.
import { existsSync } from 'node:fs';

const cli = new URL('../out/node/main/cli/index.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    'Tunesmith is not built yet. Run `npm install` (or `npm run build`) in its folder first.\n',
  );
  process.exit(1);
}
const { runCli } = await import(cli.href);
process.exitCode = await runCli(process.argv.slice(2));
