import * as z from 'zod/mini';
import { JsonValue } from './json';
// For zod's English error messages, which messages.ts configures once.
import './messages';

/**
 * Topic names: letters, digits and `._:/-`, up to 128 characters. `#` is not among them, so a
 * topic's storage key (`<tenant>#<topic>`) splits one way only.
 */
export const TopicName = z.string().check(z.regex(/^[A-Za-z0-9._:/-]{1,128}$/, 'a topic is 1-128 letters, digits or ._:/-'));

/** A grant names a topic, or every topic with a prefix when it ends in `*` (`*` alone: all). */
export const TopicPattern = z.string().check(z.regex(/^[A-Za-z0-9._:/-]{0,128}\*?$/), z.minLength(1));

/** An event-type filter: a type, or every type under a prefix (`order.*`). */
export const EventTypeFilter = z.string().check(z.regex(/^[\x21-\x7e]{1,128}$/, 'an event type filter is 1-128 printable characters'));

export const GroupName = z.string().check(z.regex(/^[A-Za-z0-9._-]{1,64}$/, 'a group is 1-64 letters, digits or ._-'));

/**
 * A group grant: a topic pattern (any group on those topics), or `<topic>#<group>`, where a trailing
 * `*` matches a prefix of the pair (`jobs#workers`, `jobs#w*`, `jobs.*`).
 */
export const GroupPattern = z.string().check(z.regex(/^[A-Za-z0-9._:/-]{0,128}(#[A-Za-z0-9._-]{0,64})?\*?$/), z.minLength(1));

/** At most this many patterns per grant, and filters per subscription: a bound on work per frame. */
export const MAX_PATTERNS = 50;

export function topicMatches(pattern: string, topic: string): boolean {
  return pattern.endsWith('*') ? topic.startsWith(pattern.slice(0, -1)) : pattern === topic;
}

/** Without filters every type passes; `order.*` passes `order.created` (and `order.line.added`), not `order`. */
export function eventTypeMatches(filters: readonly string[] | undefined, type: string): boolean {
  if (filters === undefined) return true;
  return filters.some((filter) => (filter.endsWith('.*') ? type.startsWith(filter.slice(0, -1)) : filter === type));
}

/** Whether a group grant lets a connection join `group` on `topic`. */
export function mayJoin(patterns: readonly string[], topic: string, group: string): boolean {
  return patterns.some((pattern) => topicMatches(pattern, pattern.includes('#') ? `${topic}#${group}` : topic));
}

export function mayAccess(patterns: readonly string[], topic: string): boolean {
  return patterns.some((pattern) => topicMatches(pattern, topic));
}

const Patterns = z.array(TopicPattern).check(z.maxLength(MAX_PATTERNS));
const GroupPatterns = z.array(GroupPattern).check(z.maxLength(MAX_PATTERNS));

/**
 * Reads a grant claim (`topics`, `publishTopics`): absent is no grant; anything but a list of
 * patterns is an error, so a malformed credential is refused rather than read loosely.
 */
export function grantFrom(value: unknown, claim: string): string[] | undefined {
  if (value === undefined) return undefined;
  const parsed = Patterns.safeParse(value);
  if (!parsed.success) {
    throw new RangeError(`"${claim}" must be a list of at most ${MAX_PATTERNS} topic patterns (letters, digits, ._:/- and a trailing *)`);
  }
  return parsed.data;
}

/** Reads a `groups` grant as grantFrom reads a topic grant. */
export function groupGrantFrom(value: unknown, claim: string): string[] | undefined {
  if (value === undefined) return undefined;
  const parsed = GroupPatterns.safeParse(value);
  if (!parsed.success) {
    throw new RangeError(`"${claim}" must be a list of at most ${MAX_PATTERNS} group patterns (a topic pattern, or <topic>#<group>, with a trailing *)`);
  }
  return parsed.data;
}

/**
 * An auto-subscribe grant entry: a topic the connection is subscribed to at every `$connect`, or
 * `<topic>#<group>` to join that group of it. Names, not patterns: each is one subscription.
 */
export const AutoSubscription = z.string().check(
  z.regex(/^[A-Za-z0-9._:/-]{1,128}(#[A-Za-z0-9._-]{1,64})?$/, 'an auto-subscription is a topic, or <topic>#<group>'),
);
const AutoSubscriptions = z.array(AutoSubscription).check(z.maxLength(MAX_PATTERNS));

/** Reads an `autoSubscribe` grant as grantFrom reads a topic grant: absent is none, anything malformed an error. */
export function autoSubscribeFrom(value: unknown, claim: string): string[] | undefined {
  if (value === undefined) return undefined;
  const parsed = AutoSubscriptions.safeParse(value);
  if (!parsed.success) {
    throw new RangeError(`"${claim}" must be a list of at most ${MAX_PATTERNS} topics, each a topic name or <topic>#<group>`);
  }
  return parsed.data;
}

/** An auto-subscription entry's topic, and its group if it names one. */
export function autoSubscriptionParts(entry: string): { topic: string; group?: string } {
  const hash = entry.indexOf('#');
  return hash < 0 ? { topic: entry } : { topic: entry.slice(0, hash), group: entry.slice(hash + 1) };
}

/** The key under which a tenant's topic is stored: tenants never share a topic. */
export function topicKey(topic: string, tenant: string | undefined): string {
  return `${tenant ?? ''}#${topic}`;
}

/**
 * A CloudEvent 1.0 in structured JSON form. Extension attributes are kept as they are; their names
 * must be lower-case letters and digits, as the spec requires. The names are checked on the event
 * as sent, before zod copies it: the copy would silently lose an attribute named `__proto__`.
 */
export const CloudEvent = z.pipe(
  z.custom<object>(
    (event) => typeof event !== 'object' || event === null || Object.keys(event).every((name) => /^[a-z0-9]{1,20}$/.test(name) || name === 'data_base64'),
    'CloudEvents attribute names are 1-20 lower-case letters or digits',
  ),
  z
    .catchall(
      z.object({
        specversion: z.literal('1.0'),
        id: z.string().check(z.minLength(1), z.maxLength(256)),
        source: z.string().check(z.minLength(1), z.maxLength(1024)),
        type: z.string().check(z.minLength(1), z.maxLength(256)),
        time: z.optional(z.iso.datetime({ offset: true })),
        subject: z.optional(z.string().check(z.minLength(1), z.maxLength(1024))),
        datacontenttype: z.optional(z.string().check(z.minLength(1))),
        dataschema: z.optional(z.string().check(z.minLength(1))),
        // Data and extension values are passed on as sent, never copied.
        data: z.optional(JsonValue),
        data_base64: z.optional(z.base64()),
      }),
      JsonValue,
    )
    .check(z.refine((event) => !('data' in event && 'data_base64' in event), { message: 'an event has data or data_base64, not both' })),
);
export type CloudEvent = z.infer<typeof CloudEvent>;

/**
 * The CloudEvents extension attribute that says who published an event: `user:<userId>` (a client's
 * `publish` frame), `apikey:<keyId>` (the events ingress, with a publish key) or `backend` (the
 * Publish queue, or the ingress's IAM route). The server sets it on every event it delivers; nobody
 * else may.
 */
export const PUBLISHER_ATTRIBUTE = 'wsnpublisher';
/** Sources in this namespace are the server's: `ws-notify:user:<userId>` names a client's publish. */
export const RESERVED_SOURCE_PREFIX = 'ws-notify:';

/** Why an event sent from outside the server may not be taken as it is: it claims to come from the server. Undefined if it does not. */
export function reservedAttributeProblem(event: CloudEvent): string | undefined {
  if (event.source.startsWith(RESERVED_SOURCE_PREFIX)) return `a source starting with "${RESERVED_SOURCE_PREFIX}" is the server's: it names a client's own publish`;
  if (PUBLISHER_ATTRIBUTE in event) return `"${PUBLISHER_ATTRIBUTE}" is set by the server to who published the event`;
  return undefined;
}

/** The event as delivered: with who published it, which nothing the event says can override. */
export function stampPublisher(event: CloudEvent, publisher: string): CloudEvent {
  return { ...event, [PUBLISHER_ATTRIBUTE]: publisher };
}

/** Body of a Publish queue message: `event` to the subscribers of `topic` (in `tenant`). */
export const PublishMessage = z.object({
  topic: TopicName,
  event: CloudEvent,
  // Required in a multi-tenant stack and refused in a single-tenant one, as for NotifyUser.
  tenant: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});
export type PublishMessage = z.infer<typeof PublishMessage>;

/** Groups a topic's fan-out carries a choice for from page to page: a bound on the page message. */
export const MAX_GROUPS_PER_TOPIC = 500;

const ConnectionId = z.string().check(z.minLength(1), z.maxLength(128));

/** An event's place in its topic's stream, appended on the fan-out's first page and carried from there. */
const StreamPositionFields = {
  seq: z.optional(z.number().check(z.int(), z.positive())),
  epoch: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
};
function positionComplete<T extends { seq?: number | undefined; epoch?: string | undefined }>() {
  return z.refine<T>((message) => (message.seq === undefined) === (message.epoch === undefined), { message: 'seq and epoch go together' });
}

/**
 * A page of a topic's fan-out, on the fan-out's own queue, which only ws-notify's functions may
 * write to. A page with neither `after` nor `groups` is the first page of an event the server
 * stamped with its publisher (a client's `publish`, the events ingress). A continuation is the rest
 * of a large topic's fan-out, for the event as the first page delivered it (enriched): its plain
 * subscribers from the one after `after` on (absent: all were reached), and its group members from
 * the one after `groups.after` on (absent `groups`: every group's member was chosen and sent the
 * event), with the member chosen so far in each group. A continuation skips the enrichment and
 * starts wherever its cursors say, which no sender of Publish messages may choose. A continuation
 * carries the event's `seq` and `epoch` in the topic's stream, where the first page appended it.
 */
export const TopicPage = z.extend(PublishMessage, {
  event: z.pipe(CloudEvent, z.custom<CloudEvent>((event) => typeof (event as Record<string, unknown>)[PUBLISHER_ATTRIBUTE] === 'string', `the event has no "${PUBLISHER_ATTRIBUTE}"`)),
  ...StreamPositionFields,
  after: z.optional(ConnectionId),
  groups: z.optional(
    z.object({
      after: z.optional(ConnectionId),
      // Pairs, not an object: a group may be named `__proto__`.
      chosen: z.array(z.tuple([GroupName, ConnectionId])).check(z.maxLength(MAX_GROUPS_PER_TOPIC)),
    }),
  ),
}).check(positionComplete());
export type TopicPage = z.infer<typeof TopicPage>;

/** A topic event on its way to one connection, on the NotifyConnection queue (with its place in the topic's stream, if streams are on). */
export const EventDelivery = z
  .object({
    connectionId: z.string().check(z.minLength(1), z.maxLength(128)),
    topic: TopicName,
    event: CloudEvent,
    ...StreamPositionFields,
  })
  .check(positionComplete());
export type EventDelivery = z.infer<typeof EventDelivery>;
