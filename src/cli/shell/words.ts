/** Shell-like word splitting and path resolution for the interactive shell. */
import { UsageError } from '../../core/errors.js';

/**
 * Split a command line into words: blanks separate words; '...' is literal;
 * "..." allows \" and \\ escapes; a backslash outside quotes escapes the next
 * character; a word starting with # begins a comment.
 */
export function splitWords(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      i++;
      continue;
    }
    if (c === '#' && !inWord) break;
    inWord = true;
    if (c === "'") {
      const j = line.indexOf("'", i + 1);
      if (j < 0) throw new UsageError('unterminated quote (\')');
      cur += line.slice(i + 1, j);
      i = j + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new UsageError('unterminated quote (")');
        const d = line[i];
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < line.length && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          cur += line[i + 1];
          i += 2;
        } else if (d === '\\' && line[i + 1] === 'n') {
          cur += '\n';
          i += 2;
        } else {
          cur += d;
          i++;
        }
      }
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[i + 1];
      i += 2;
    } else {
      cur += c;
      i++;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** Resolve `p` against `cwd` (absolute or relative, with . and ..; trailing slashes dropped). */
export function resolvePath(cwd: string, p: string | undefined): string {
  if (p === undefined || p === '') return cwd;
  const parts = p.startsWith('/') ? [] : cwd.split('/').filter(Boolean);
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

/** Quote a word for display / completion when it needs it. */
export function quoteWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Split off a `| CMD` tail: the first | outside quotes (and before a # comment) ends the
 * zkctl command; the rest goes to /bin/sh as it is. No | : pipe is undefined.
 */
export function splitPipe(line: string): { command: string; pipe?: string } {
  let quote: string | undefined;
  let wordStart = true;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '#' && wordStart) break;
    else if (c === '|') return { command: line.slice(0, i), pipe: line.slice(i + 1) };
    wordStart = c === ' ' || c === '\t';
  }
  return { command: line };
}
