import { readOptionalConfig } from './config';
import type { TopicCaller } from './core/topic-frames';
import { grantFrom } from './core/topics';
import type { WebSocketEvent } from './events';

/** The stack's public topics (prop `publicTopics`): anyone connected may subscribe to them. */
export function publicTopicsFromEnvironment(): string[] {
  const { PUBLIC_TOPICS } = readOptionalConfig('PUBLIC_TOPICS');
  return grantFrom(PUBLIC_TOPICS === undefined ? [] : JSON.parse(PUBLIC_TOPICS), 'PUBLIC_TOPICS') ?? [];
}

/** Who sent a frame, and what they may do with topics, from what the `$connect` authorizer said. */
export function topicCallerOf(event: WebSocketEvent, publicTopics: readonly string[]): TopicCaller {
  const { connectionId, connectedAt, authorizer } = event.requestContext;
  const tenant = authorizer?.['tenant'];
  return {
    connectionId,
    userId: String(authorizer?.['userId'] ?? ''),
    connectedAt,
    ...(typeof tenant === 'string' && { tenant }),
    grants: {
      subscribe: [...grantOf(authorizer?.['topics']), ...publicTopics],
      publish: grantOf(authorizer?.['publishTopics']),
    },
  };
}

/** The authorizer verified the grant and passed it on as JSON. */
function grantOf(value: unknown): string[] {
  return typeof value === 'string' ? (JSON.parse(value) as string[]) : [];
}
