// docs/rules.md#file-mappings-and-their-precedence: a file mapping's fields as a form (or the API) gives them, checked in one place.
import crypto from 'node:crypto';
import { nameProblem } from '../security/text-rules.js';
import { parseDestinationPath } from './destination-path.js';

export const CONTENT_MAX_BYTES = 5 * 1024 * 1024;
export const CONTENT_LIMIT_LABEL = '5 MB';
/**
 * The largest form body the mapping pages take: a 5 MB file, and room for the other fields at
 * their longest (about 120 KB in UTF-8), part headers and CRLF line ends of typed text.
 */
export const FORM_MAX_BYTES = CONTENT_MAX_BYTES + 512 * 1024;

/** The fields a form takes: each name with its longest value in characters (null: a file). */
export type FormFields = ReadonlyMap<string, number | null>;

/**
 * What is wrong with one part of a multipart form, checked as it arrives (before the next is
 * read): a field the form does not take, a file where text belongs or the reverse, or text longer
 * than its field allows. Null when the part is fine.
 */
export function formPartProblem(
  fields: FormFields,
  name: string,
  part: { file: true } | { file: false; length: number },
): string | null {
  const shown = JSON.stringify(name.slice(0, 64));
  if (!fields.has(name)) return `This form has no field ${shown}; nothing was stored.`;
  const longest = fields.get(name)!;
  if (part.file !== (longest === null))
    return `The field ${shown} must be ${longest === null ? 'a file' : 'text'}; nothing was stored.`;
  if (!part.file && longest !== null && part.length > longest)
    return `The field ${shown} is longer than ${longest.toLocaleString('en')} characters; nothing was stored.`;
  return null;
}

/** A file that came with a multipart form, read up to the limit (made only by the upload reader). */
export class UploadedFile {
  constructor(
    readonly fileName: string,
    readonly data: Buffer,
    /** More than CONTENT_MAX_BYTES were sent: `data` holds only the start and must not be stored. */
    readonly tooLarge: boolean,
  ) {}
}

export interface MappingInput {
  name: string;
  description: string;
  destinationPath: string;
  writable: boolean;
  executable: boolean;
  /** New content, or null to keep the stored content (an edit that changes only the fields). */
  content: { bytes: Buffer; fileName: string } | null;
}

export type MappingFormBody = Partial<
  Record<'name' | 'description' | 'destination_path' | 'content' | 'writable' | 'executable', string>
> & {
  file?: unknown;
};

export type MappingValidation = { ok: true; value: MappingInput } | { ok: false; errors: Record<string, string> };

/**
 * Content comes from an uploaded file when one was chosen, else from the text box. Text typed
 * in a browser arrives with CRLF line ends (HTML form rules), so it is stored with LF; an
 * uploaded file is kept byte for byte. `hasContent`: an edit may leave the content as it is.
 */
export function validateMapping(
  body: MappingFormBody,
  options: { hasContent: boolean; keepsText: boolean },
): MappingValidation {
  const errors: Record<string, string> = {};
  const name = (body.name ?? '').trim();
  const description = (body.description ?? '').trim();
  const nameIssue = nameProblem(name);
  if (name === '') errors.name = 'Name is required.';
  else if ([...name].length > 255) errors.name = 'Name must be at most 255 characters.';
  else if (nameIssue) errors.name = `Name ${nameIssue}`;
  if ([...description].length > 10_000) errors.description = 'Description must be at most 10,000 characters.';
  else if (description.includes('\u0000')) errors.description = 'Description must not contain a NUL character.';
  const path = parseDestinationPath(body.destination_path ?? '');
  if (!path.ok) errors.destination_path = path.error;

  const upload =
    body.file instanceof UploadedFile && (body.file.data.length > 0 || body.file.tooLarge) ? body.file : null;
  const text = body.content ?? '';
  let content: MappingInput['content'] = null;
  if (upload) {
    if (upload.tooLarge)
      errors.file = `The file is larger than ${CONTENT_LIMIT_LABEL}; nothing was stored. Choose a smaller file.`;
    else content = { bytes: upload.data, fileName: upload.fileName.replace(/\p{Cc}/gu, '').slice(0, 255) || 'upload' };
  } else if (text !== '' || options.keepsText) {
    const bytes = Buffer.from(text.replace(/\r\n?/g, '\n'), 'utf8');
    if (bytes.length > CONTENT_MAX_BYTES) errors.content = `The text is larger than ${CONTENT_LIMIT_LABEL}.`;
    else if (text === '' && !options.hasContent) errors.content = 'Type the content, or upload a file.';
    else content = { bytes, fileName: '' };
  } else if (!options.hasContent) {
    errors.content = `Type the content, or upload a file of at most ${CONTENT_LIMIT_LABEL}.`;
  }
  if (Object.keys(errors).length > 0 || !path.ok) return { ok: false, errors };
  return {
    ok: true,
    value: {
      name,
      description,
      destinationPath: path.path,
      writable: body.writable !== undefined,
      executable: body.executable !== undefined,
      content,
    },
  };
}

export const sha256Hex = (bytes: Uint8Array) => crypto.createHash('sha256').update(bytes).digest('hex');

/** Whether bytes read as UTF-8 text (so they can be edited in the text box). */
export function isText(bytes: Buffer): boolean {
  return !bytes.includes(0) && Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

/** A warning for an executable text script with Windows line endings (a Linux shell stops at the \r). */
export function lineEndingWarning(bytes: Buffer, executable: boolean): string | null {
  if (!executable || !isText(bytes) || !bytes.includes('\r\n')) return null;
  return 'This executable script has Windows line endings (CRLF): Linux runs it as "#!/bin/sh\\r" and fails with "bad interpreter". Save it with LF line endings.';
}

/** "1.2 MB", "340 bytes". */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}
