import type { PublicGrants } from '../core/identity';
import { grantFrom, groupGrantFrom } from '../core/topics';

/**
 * The stack's public topics (prop `publicTopics`: anyone connected may subscribe to them) and public
 * groups (prop `publicGroups`: anyone connected, anonymous included, may join them), checked as a
 * credential's grants are; absent, none.
 */
export function publicGrantsOf(env: { PUBLIC_TOPICS?: unknown; PUBLIC_GROUPS?: unknown }): PublicGrants {
  return { topics: publicTopicsOf(env), groups: groupGrantFrom(env.PUBLIC_GROUPS ?? [], 'PUBLIC_GROUPS') ?? [] };
}

export function publicTopicsOf(env: { PUBLIC_TOPICS?: unknown }): string[] {
  return grantFrom(env.PUBLIC_TOPICS ?? [], 'PUBLIC_TOPICS') ?? [];
}
