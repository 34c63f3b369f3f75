import type { StoredGrants } from '../core/connections';
import type { PublicGrants, TopicCaller } from '../core/identity';
import type { WebSocketEvent } from './events';

/** Who sent a frame: its connection, and the user (and tenant) its `$connect` authorizer named. */
export function callerOf(event: WebSocketEvent): { connectionId: string; userId: string; tenant?: string } {
  const { connectionId, authorizer } = event.requestContext;
  const tenant = authorizer?.['tenant'];
  return { connectionId, userId: String(authorizer?.['userId'] ?? ''), ...(typeof tenant === 'string' && { tenant }) };
}

/**
 * Who sent a frame, and what they may do with topics: from what the `$connect` authorizer said, or,
 * once the connection has refreshed its credential, from the grants the refresh stored.
 */
export function topicCallerOf(event: WebSocketEvent, publicGrants: PublicGrants, stored?: StoredGrants): TopicCaller {
  const { connectedAt, authorizer } = event.requestContext;
  const { connectionId, userId, tenant } = callerOf(event);
  return {
    connectionId,
    userId,
    connectedAt,
    ...(tenant !== undefined && { tenant }),
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
