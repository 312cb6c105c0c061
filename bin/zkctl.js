#!/usr/bin/env node
// zkctl launcher: no logic here (see src/).
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
// Commands end by returning; exit now so no stray handle can keep the process alive.
process.exit(process.exitCode ?? 0);
