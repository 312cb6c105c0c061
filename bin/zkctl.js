#!/usr/bin/env node
// zkctl launcher: no logic here (see src/cli/fast-path.ts and src/commands/).
import { fastPath, importOclif } from '../dist/cli/fast-path.js';

if (!fastPath(process.argv.slice(2))) {
  const { execute } = await importOclif();
  await execute({ dir: import.meta.url });
}
// Commands end by returning; exit now so no stray handle can keep the process alive.
process.exit(process.exitCode ?? 0);
