// The launch plan as a workspace session records it (and the JSON view serves it). The shape lives
// with the record, below launches/, which builds it (docs/rules.md#workspaces-and-the-launch-plan).
import type { SettingValue } from '../settings/catalogue.js';
import type { OwnerRef } from '../security/view-access.js';

/** A mapping's owner as the plan records it. */
export interface PlanOwner {
  kind: OwnerRef['kind'];
  id: string;
  is_system?: boolean;
}

/** The plan as recorded and as served to a runtime (JSON; file content in base64). */
export interface LaunchPlan {
  user: { id: string; username: string };
  workspace: {
    id: string;
    friendly_name: string;
    image: string;
    cores: number;
    memory_mb: number;
    run_config_override: unknown;
  };
  settings: Array<{ key: string; value: SettingValue; display: string; source: string }>;
  file_mappings: Array<{
    name: string;
    destination_path: string;
    /** Octal permission bits: writable files belong to the session user, others to root and are read-only. */
    mode: string;
    owner: 'user' | 'root';
    writable: boolean;
    executable: boolean;
    size: number;
    sha256: string;
    source: string;
    content_base64: string;
    /** Missing in plans recorded before owners were: such an entry is shown to global admins only. */
    owned_by?: PlanOwner;
  }>;
  skipped_file_mappings: Array<{
    name: string;
    destination_path: string;
    source: string;
    reason: string;
    owned_by?: PlanOwner;
    /** The owner of the mapping that won the path (the reason names it). */
    shadowed_by?: PlanOwner;
  }>;
}
