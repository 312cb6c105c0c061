#!/usr/bin/env node
// zkctl launcher: no logic here (see src/cli/argv.ts, src/cli/fast-path.ts, src/output/stdio.ts and src/commands/).
import { rewriteProcessArgv } from '../dist/cli/argv.js';
import { fastPath, importOclif, oclifLoadOptions } from '../dist/cli/fast-path.js';
import { exitWhenFlushed, guardStdio } from '../dist/output/stdio.js';

guardStdio();
const given = process.argv.slice(2);
if (!fastPath(given)) {
  const r = rewriteProcessArgv(given, new URL('../dist/commands', import.meta.url).pathname);
  if (r.kind === 'error') {
    process.stderr.write(`zkctl: ${r.message}\n`);
    process.exitCode = r.exitCode;
  } else {
    const { execute } = await importOclif();
    guardStdio(); // again: drop the stdout 'error' listener oclif adds, which rethrows (a stack trace on > /dev/full)
    await execute({ args: r.argv, loadOptions: oclifLoadOptions(r.argv, import.meta.url) });
  }
}
// Commands end by returning. Exit once stdout and stderr are flushed (a slow pipe reader gets every
// byte; a reader that takes nothing is given up on after a deadline), so no stray handle keeps the process alive.
await exitWhenFlushed();
