/**
 * Which pager long output goes through: $ZKCTL_PAGER, else $PAGER, else `less -FRX` (quits at
 * once when the text fits the screen, keeps colours, leaves the text on the screen). An empty
 * value, --no-pager, or a stdout that is not a terminal: no pager.
 */
export function pagerCommand(opts: { isTTY: boolean; noPager?: boolean; env?: NodeJS.ProcessEnv }): string | undefined {
  if (!opts.isTTY || opts.noPager) return undefined;
  const env = opts.env ?? process.env;
  const cmd = env.ZKCTL_PAGER ?? env.PAGER ?? 'less -FRX';
  return cmd.trim() === '' ? undefined : cmd;
}
