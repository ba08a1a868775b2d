// Building blocks of the route schemas. The schemas turn away what no form of Roster sends
// (repeated keys, arrays for strings, huge values, control characters in a query, ids that are
// not ids) with a 400 before a handler runs; the friendly per-field messages for what a person
// can type stay with the domain validators (validateUser, validateGroup, the settings parser).
import { Type, type TProperties } from 'typebox';

/** A route id: a UUID. Anything else is answered 404 (see the error handler in app.ts). */
export const Uuid = Type.String({ format: 'uuid' });
export const IdParams = Type.Object({ id: Uuid });

/** One query-string value: a single string (a repeated key is a 400), bounded, no control characters. */
export const QueryText = (maxLength: number) => Type.String({ maxLength, pattern: '^\\P{Cc}*$' });

/** A whole number in a query string, bounded both ways. */
export const QueryInteger = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum });

/** One of `values` (an OpenAPI-friendly enum, as the TypeBox docs recommend over unions of literals). */
export const StringEnum = <const T extends readonly string[]>(values: T) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });

/** A form field: one string, bounded well above what the friendly validators allow. */
export const FormText = (maxLength: number) => Type.String({ maxLength });

/** A checkbox: absent when unticked. */
export const Checkbox = Type.Optional(Type.String({ maxLength: 16 }));

/** A query string with only the named keys; any other key is dropped. */
export const queryString = <P extends TProperties>(properties: P) =>
  Type.Object(properties, { additionalProperties: false });

/** What a route that reads no query string declares (app.ts gives it to every such route). */
export const NoQuery = queryString({});

/** A form body (urlencoded, or the same as JSON) with its CSRF field; unknown fields are dropped. */
export const formBody = <P extends TProperties>(properties: P) =>
  Type.Object(
    { _csrf: Type.Optional(Type.String({ maxLength: 128 })), ...properties },
    { additionalProperties: false },
  );

/** The body of a one-button form: nothing but the CSRF field. */
export const EmptyForm = formBody({});

/** A keyset cursor in a query string (base64url, see encodeCursor in db/sql-helpers). */
export const QueryCursor = Type.String({ maxLength: 2048, pattern: '^[A-Za-z0-9_-]*$' });

/** Settings keys, in URLs and forms. */
export const SettingKey = Type.String({ pattern: '^[a-z0-9_]{1,64}$' });

/**
 * The body of an action that asks first: without `confirm=yes` the route answers its confirm
 * page (JavaScript off); htmx sends it after its own hx-confirm question.
 */
export const ConfirmForm = formBody({ confirm: Type.Optional(StringEnum(['yes'])) });
