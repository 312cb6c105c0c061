#!/usr/bin/env node
// zkctl launcher: no logic here (see src/cli/fast-path.ts and src/commands/).
import { fastPath, importOclif, oclifLoadOptions } from '../dist/cli/fast-path.js';

const argv = process.argv.slice(2);
if (!fastPath(argv)) {
  const { execute } = await importOclif();
  await execute({ args: argv, loadOptions: oclifLoadOptions(argv, import.meta.url) });
}
// Commands end by returning; exit now so no stray handle can keep the process alive.
process.exit(process.exitCode ?? 0);
