// The answer of GET /admin/users/:id/launch-plan.json: the launch plan as the caller may see it
// (docs/rules.md#workspaces-and-the-launch-plan). Listed in full: Fastify serializes by it.
import { Type, type TProperties } from 'typebox';
import { ApiErrorAnswer } from './api-responses.js';

const closed = <P extends TProperties>(properties: P) => Type.Object(properties, { additionalProperties: false });

const PlanOwner = closed({
  kind: Type.Union([Type.Literal('workspace'), Type.Literal('group'), Type.Literal('user')]),
  id: Type.String(),
  is_system: Type.Optional(Type.Boolean()),
});

export const LaunchPlanAnswer = closed({
  user: closed({ id: Type.String(), username: Type.String() }),
  workspace: closed({
    id: Type.String(),
    friendly_name: Type.String(),
    image: Type.String(),
    cores: Type.Number(),
    memory_mb: Type.Number(),
    run_config_override: Type.Unknown(),
  }),
  settings: Type.Array(
    closed({ key: Type.String(), value: Type.Unknown(), display: Type.String(), source: Type.String() }),
  ),
  file_mappings: Type.Array(
    closed({
      name: Type.String(),
      destination_path: Type.String(),
      mode: Type.String(),
      owner: Type.Union([Type.Literal('user'), Type.Literal('root')]),
      writable: Type.Boolean(),
      executable: Type.Boolean(),
      size: Type.Number(),
      sha256: Type.String(),
      source: Type.String(),
      content_base64: Type.String(),
      owned_by: Type.Optional(PlanOwner),
    }),
  ),
  skipped_file_mappings: Type.Array(
    closed({
      name: Type.String(),
      destination_path: Type.String(),
      source: Type.String(),
      reason: Type.String(),
      owned_by: Type.Optional(PlanOwner),
      shadowed_by: Type.Optional(PlanOwner),
    }),
  ),
  withheld_file_mappings: Type.Integer(),
  withheld_skipped_file_mappings: Type.Integer(),
});

export const LaunchPlanResponses = { 200: LaunchPlanAnswer, 404: ApiErrorAnswer };
