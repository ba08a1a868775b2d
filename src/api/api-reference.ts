// The reference page's view of the call table: each call's fields read from its body schema,
// and an example curl command. Pure.
import type { ApiCall } from './api-calls.js';
import { isReadCall } from './api-calls.js';

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  required?: string[];
  description?: string;
  enum?: string[];
  anyOf?: SchemaNode[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
}

export interface ReferenceField {
  name: string;
  type: string;
  required: boolean;
  description: string;
}

function typeOf(node: SchemaNode): string {
  if (node.enum) return node.enum.join(' | ');
  if (node.anyOf) return node.anyOf.map(typeOf).join(' | ');
  const type = [node.type ?? 'any'].flat().join(' | ');
  if (node.minimum !== undefined && node.maximum !== undefined) return `${type} (${node.minimum}–${node.maximum})`;
  return type;
}

/** Every field of a body, nested ones as parent.child, without the credentials. */
export function fieldsOf(schema: SchemaNode, prefix = ''): ReferenceField[] {
  return Object.entries(schema.properties ?? {}).flatMap(([name, node]) => {
    if (prefix === '' && (name === 'api_key' || name === 'api_key_secret')) return [];
    const path = `${prefix}${name}`;
    const field = {
      name: path,
      type: node.properties ? 'object' : typeOf(node),
      required: (schema.required ?? []).includes(name),
      description: node.description ?? '',
    };
    return node.properties ? [field, ...fieldsOf(node, `${path}.`)] : [field];
  });
}

export function referenceOf(calls: readonly ApiCall[], origin: string) {
  return calls.map((call) => {
    const example = JSON.stringify({ api_key: 'KEY', api_key_secret: 'SECRET', ...call.example });
    return {
      name: call.name,
      tag: call.tag,
      permission: call.permission,
      readOnlyAllowed: isReadCall(call.name),
      summary: call.summary,
      fields: fieldsOf(call.body as SchemaNode),
      curl: `curl -sS -X POST ${origin}/api/public/${call.name} -H 'Content-Type: application/json' -d '${example}'`,
    };
  });
}
