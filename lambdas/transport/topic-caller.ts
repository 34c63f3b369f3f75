import { readOptionalConfig } from '../wiring/config';
import type { StoredGrants } from '../core/connections';
import type { TopicCaller } from '../core/identity';
import { grantFrom, groupGrantFrom } from '../core/topics';
import type { WebSocketEvent } from './events';

/** The stack's public topics (prop `publicTopics`): anyone connected may subscribe to them. */
export function publicTopicsFromEnvironment(): string[] {
  const { PUBLIC_TOPICS } = readOptionalConfig('PUBLIC_TOPICS');
  return grantFrom(PUBLIC_TOPICS === undefined ? [] : JSON.parse(PUBLIC_TOPICS), 'PUBLIC_TOPICS') ?? [];
}

/** The stack's public groups (prop `publicGroups`): anyone connected, anonymous included, may join them. */
export function publicGroupsFromEnvironment(): string[] {
  const { PUBLIC_GROUPS } = readOptionalConfig('PUBLIC_GROUPS');
  return groupGrantFrom(PUBLIC_GROUPS === undefined ? [] : JSON.parse(PUBLIC_GROUPS), 'PUBLIC_GROUPS') ?? [];
}

/** What the stack grants every connection: its public topics (subscribe) and public groups. */
export interface PublicGrants {
  topics: readonly string[];
  groups: readonly string[];
}

/**
 * Who sent a frame, and what they may do with topics: from what the `$connect` authorizer said, or,
 * once the connection has refreshed its credential, from the grants the refresh stored.
 */
export function topicCallerOf(event: WebSocketEvent, publicGrants: PublicGrants, stored?: StoredGrants): TopicCaller {
  const { connectionId, connectedAt, authorizer } = event.requestContext;
  const tenant = authorizer?.['tenant'];
  return {
    connectionId,
    userId: String(authorizer?.['userId'] ?? ''),
    connectedAt,
    ...(typeof tenant === 'string' && { tenant }),
    grants: {
      subscribe: [...(stored?.subscribe ?? grantOf(authorizer?.['topics'])), ...publicGrants.topics],
      publish: stored?.publish ?? grantOf(authorizer?.['publishTopics']),
      groups: [...(stored?.groups ?? grantOf(authorizer?.['groups'])), ...publicGrants.groups],
    },
  };
}

/** The authorizer verified the grant and passed it on as JSON. */
function grantOf(value: unknown): string[] {
  return typeof value === 'string' ? (JSON.parse(value) as string[]) : [];
}
