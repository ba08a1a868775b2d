// docs/rules.md#file-mappings-and-their-precedence: where a mapped file lands. One rule for forms, the API and the precedence check, so
// that `/a//b/` and `/a/b` are the same destination everywhere.
import { nameProblem } from '../security/text-rules.js';

export const DESTINATION_PATH_MAX_BYTES = 4096;

export type ParsedPath = { ok: true; path: string } | { ok: false; error: string };

/** An absolute POSIX path, normalised (no empty or `.` segments, no trailing slash); `..` is refused, not resolved. */
export function parseDestinationPath(raw: string): ParsedPath {
  const text = raw.trim();
  if (text === '') return { ok: false, error: 'Destination Path is required, such as /home/kasm-user/notes.txt.' };
  const problem = nameProblem(text);
  if (problem) return { ok: false, error: `Destination Path ${problem}` };
  if (!text.startsWith('/')) return { ok: false, error: 'Destination Path must be absolute: it starts with /.' };
  if (Buffer.byteLength(text) > DESTINATION_PATH_MAX_BYTES) {
    return { ok: false, error: `Destination Path must be at most ${DESTINATION_PATH_MAX_BYTES} bytes.` };
  }
  const segments = text.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) return { ok: false, error: 'Destination Path must not contain "..".' };
  if (segments.length === 0) return { ok: false, error: 'Destination Path must name a file, not /.' };
  return { ok: true, path: `/${segments.join('/')}` };
}

/** The comparable form of a stored or given path (stored paths are already normalised). */
export function normalisedPath(path: string): string {
  const parsed = parseDestinationPath(path);
  return parsed.ok ? parsed.path : path;
}
