import { Type } from 'typebox';
import { Checkbox, EmptyForm, FormText, formBody, IdParams, queryString, StringEnum, Uuid } from './common.js';

export const WorkspaceParams = IdParams;

/** The workspace form (docs/rules.md#workspaces-and-the-launch-plan); validateWorkspace gives the friendly messages. */
export const WorkspaceForm = formBody({
  friendly_name: Type.Optional(FormText(1024)),
  image: Type.Optional(FormText(2048)),
  description: Type.Optional(FormText(20_000)),
  cores: Type.Optional(FormText(64)),
  memory_mb: Type.Optional(FormText(64)),
  enabled: Checkbox,
  run_config_override: Type.Optional(FormText(100_000)),
  /** Sent by the "Disable anyway" button once the admin has seen who uses the workspace. */
  confirm: Type.Optional(StringEnum(['disable'])),
});

/** A file mapping of a workspace, group or user: the owner's id and the mapping's. */
export const MappingParams = Type.Object({ id: Uuid, mappingId: Uuid });

/**
 * The file mapping form, urlencoded or multipart. `file` is whatever the upload reader made of
 * the uploaded file (the handler accepts only its own UploadedFile; anything else is ignored).
 */
export const MappingForm = formBody({
  name: Type.Optional(FormText(1024)),
  description: Type.Optional(FormText(20_000)),
  destination_path: Type.Optional(FormText(8192)),
  content: Type.Optional(FormText(6 * 1024 * 1024)),
  file: Type.Optional(Type.Unsafe<unknown>({})),
  writable: Checkbox,
  executable: Checkbox,
});

/** Launch Now from a list: which workspace (none: the default one). */
export const LaunchForm = formBody({ workspace_id: Type.Optional(Uuid) });

export const WorkspaceSessionParams = IdParams;

/** Preview and JSON plan: for which workspace (none: the user's default). */
export const LaunchPreviewQuery = queryString({ workspace: Type.Optional(Uuid) });

/** An admin setting a user's Default Workspace Image. */
export const UserDefaultImageForm = formBody({
  value: Type.Optional(FormText(64)),
  action: Type.Optional(StringEnum(['save', 'reset'])),
});

export { EmptyForm };
