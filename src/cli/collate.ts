/**
 * `a.localeCompare(b)` for command ids without ICU when it can: the first `localeCompare` of a
 * process builds ICU's collator, which costs a one-shot command more than all of its own work
 * (~70M instructions, 6-30 ms), and oclif sorts a plugin's commands with it on every run.
 *
 * For strings made only of `_ - : .`, digits and lowercase ASCII letters, ICU's root collation
 * is plain lexicographic order of the characters ranked `_-:.0-9a-z` (all of them have distinct
 * primary weights and nothing else: no contractions, no ignorables, no case), a prefix first.
 * Anything else goes to `localeCompare`. scripts/bundle-vendor.mjs inlines this function (its
 * source text: it must not refer to anything outside itself) into the @oclif/core bundle, for
 * the sort in Plugin.load; test/cli/startup.test.ts checks it against `localeCompare`.
 */
export function compareIds(a: string, b: string): number {
  const order = '_-:.0123456789abcdefghijklmnopqrstuvwxyz';
  const n = Math.max(a.length, b.length);
  let result = 0;
  for (let i = 0; i < n; i++) {
    const x = i < a.length ? order.indexOf(a[i]) : -2;
    const y = i < b.length ? order.indexOf(b[i]) : -2;
    if (x === -1 || y === -1) return a.localeCompare(b);
    if (result === 0 && x !== y) result = x < y ? -1 : 1; // a shorter string (-2) first; keep checking the rest is in the alphabet
  }
  return result;
}
