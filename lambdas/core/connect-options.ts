import * as z from 'zod/mini';
import type { KeepaliveMode } from '../contract/environment';
import type { TopicGrants } from './identity';
import { readableError } from './messages';
import { autoSubscriptionParts, EventTypeFilter, GroupName, mayAccess, mayJoin, MAX_PATTERNS, TopicName } from './topics';

/**
 * Subscriptions one `$connect` may make: they are written in the connection's own transaction
 * (with its row and its two counts, within DynamoDB's 100 items), so that the connection opens
 * with all of them or not at all.
 */
export const MAX_CONNECT_SUBSCRIPTIONS = 50;

/** A subscription asked for at `$connect`, before it is given its connection. */
export interface ConnectSubscription {
  topic: string;
  events?: string[];
  group?: string;
}

/** How a `$connect` is refused: the upgrade's status and a body saying why (the `subscribe` frame's codes). */
export interface ConnectRefusal {
  statusCode: 400 | 403;
  code: 'invalid_subscription' | 'forbidden_topic' | 'forbidden_group' | 'too_many_subscriptions' | 'invalid_keepalive' | 'keepalive_not_enabled';
  message: string;
}

export class ConnectRefusedError extends Error {
  override readonly name = 'ConnectRefusedError';

  constructor(readonly refusal: ConnectRefusal) {
    super(refusal.message);
  }
}

/**
 * `?subscribe=orders,news&events=order.*,news.*&group=workers`: the topics, and the filters and
 * group that apply to every one of them (as a `subscribe` frame's `events` and `group` would).
 * Lists are comma-separated: a filter holding a comma can be given in a `subscribe` frame only.
 */
const ConnectQuery = z.object({
  subscribe: z.optional(z.array(TopicName).check(z.maxLength(MAX_PATTERNS))),
  events: z.optional(z.array(EventTypeFilter).check(z.maxLength(MAX_PATTERNS))),
  group: z.optional(GroupName),
});

/**
 * The subscriptions a `$connect` asks for: its credential's `autoSubscribe` entries, then the
 * query's topics, a query's subscription replacing the grant's to the same topic (as a later
 * `subscribe` frame would). Each passes exactly the checks a `subscribe` frame does (the grants
 * with the stack's public ones, the connection's subscription limit); the first that fails refuses
 * the connection, and nothing is stored.
 */
export function connectSubscriptions(
  query: Record<string, string | undefined>,
  autoSubscribe: readonly string[],
  grants: Pick<TopicGrants, 'subscribe' | 'groups'>,
  maxSubscriptionsPerConnection: number,
): ConnectSubscription[] {
  const list = (value: string | undefined) => value?.split(',');
  const parsed = ConnectQuery.safeParse({ subscribe: list(query['subscribe']), events: list(query['events']), group: query['group'] });
  if (!parsed.success) throw refused(400, 'invalid_subscription', `?subscribe, ?events or ?group: ${readableError(parsed.error)}`);
  const { subscribe, events, group } = parsed.data;
  if (subscribe === undefined && (events !== undefined || group !== undefined)) {
    throw refused(400, 'invalid_subscription', '?events and ?group apply to the topics of ?subscribe, which is missing');
  }
  const byTopic = new Map<string, ConnectSubscription>();
  for (const entry of autoSubscribe) {
    const { topic, group: entryGroup } = autoSubscriptionParts(entry);
    byTopic.set(topic, { topic, ...(entryGroup !== undefined && { group: entryGroup }) });
  }
  for (const topic of subscribe ?? []) byTopic.set(topic, { topic, ...(events !== undefined && { events }), ...(group !== undefined && { group }) });
  const wanted = [...byTopic.values()];
  for (const subscription of wanted) {
    if (!mayAccess(grants.subscribe, subscription.topic)) throw refused(403, 'forbidden_topic', `this connection may not subscribe to "${subscription.topic}"`);
    if (subscription.group !== undefined && !mayJoin(grants.groups, subscription.topic, subscription.group)) {
      throw refused(403, 'forbidden_group', `this connection may not join the group "${subscription.group}" of "${subscription.topic}"`);
    }
  }
  const limit = Math.min(maxSubscriptionsPerConnection, MAX_CONNECT_SUBSCRIPTIONS);
  if (wanted.length > limit) {
    throw refused(400, 'too_many_subscriptions', `a connection may be subscribed to ${limit} topics at connect; it asked for ${wanted.length}`);
  }
  return wanted;
}

/** The stack's keepalive setting (construct prop `keepalive`), as its functions' environment holds it. */
export type { KeepaliveMode };

/**
 * Whether the connection gets server keepalives: every connection where the stack says `all`; where
 * it says `requested`, those that ask (`?keepalive=1`, or their credential's `keepalive`). Asking
 * on a stack without keepalives refuses the connection: the client would be closed after 10 idle
 * minutes, which it asked not to be.
 */
export function wantsKeepalive(query: Record<string, string | undefined>, credentialAsks: boolean, mode: KeepaliveMode): boolean {
  const asked = query['keepalive'];
  if (asked !== undefined && !['1', 'true', '0', 'false'].includes(asked)) {
    throw refused(400, 'invalid_keepalive', `?keepalive takes 1 or 0, got "${asked}"`);
  }
  const queryAsks = asked === '1' || asked === 'true';
  if (mode === 'all') return true;
  if (queryAsks && mode === 'off') throw refused(400, 'keepalive_not_enabled', 'this stack sends no keepalives: send a frame (ping) at least every 10 minutes');
  return mode === 'requested' && (queryAsks || credentialAsks);
}

function refused(statusCode: ConnectRefusal['statusCode'], code: ConnectRefusal['code'], message: string): ConnectRefusedError {
  return new ConnectRefusedError({ statusCode, code, message });
}
