// docs/rules.md#file-mappings-and-their-precedence: which file mappings a user's workspace receives. Pure: the launch plan, the preview
// and the tests call it with rows already read.
import { normalisedPath } from './destination-path.js';

export type MappingOrigin =
  | { type: 'workspace'; name: string }
  | { type: 'group'; name: string; priority: number }
  | { type: 'user'; name: string };

export interface MappingCandidate {
  id: string;
  name: string;
  destinationPath: string;
  origin: MappingOrigin;
}

export interface SkippedMapping<M> {
  mapping: M;
  shadowedBy: M;
  reason: string;
}

export interface EffectiveMappings<M> {
  applied: M[];
  skipped: Array<SkippedMapping<M>>;
}

const ORDER = { workspace: 0, group: 1, user: 2 } as const;

/** The order mappings are considered in: workspace, groups by priority (lowest number first), user. */
function considerationOrder(a: MappingCandidate, b: MappingCandidate): number {
  const byOwner = ORDER[a.origin.type] - ORDER[b.origin.type];
  if (byOwner !== 0) return byOwner;
  if (a.origin.type === 'group' && b.origin.type === 'group') {
    // Priorities are unique; the name and id only make the order total should two ever tie.
    const byPriority = a.origin.priority - b.origin.priority;
    if (byPriority !== 0) return byPriority;
    const byGroup = a.origin.name.localeCompare(b.origin.name);
    if (byGroup !== 0) return byGroup;
  }
  return a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
}

/** "workspace mapping 'Chrome bookmarks'", "group mapping 'Policy' of Engineering (priority 10)". */
export function describeMapping(mapping: MappingCandidate): string {
  const { origin } = mapping;
  if (origin.type === 'group') return `group mapping '${mapping.name}' of ${origin.name} (priority ${origin.priority})`;
  if (origin.type === 'user') return `user mapping '${mapping.name}' of ${origin.name}`;
  return `workspace mapping '${mapping.name}'`;
}

/**
 * The effective set for (user, workspace): for each destination path the first mapping
 * considered wins; the rest are skipped, each with the mapping that shadows it.
 */
export function effectiveFileMappings<M extends MappingCandidate>(candidates: readonly M[]): EffectiveMappings<M> {
  const winners = new Map<string, M>();
  const applied: M[] = [];
  const skipped: Array<SkippedMapping<M>> = [];
  for (const mapping of [...candidates].sort(considerationOrder)) {
    const path = normalisedPath(mapping.destinationPath);
    const winner = winners.get(path);
    if (winner) {
      skipped.push({ mapping, shadowedBy: winner, reason: `shadowed by ${describeMapping(winner)}` });
    } else {
      winners.set(path, mapping);
      applied.push(mapping);
    }
  }
  return { applied, skipped };
}
