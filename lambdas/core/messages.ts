import { en } from 'zod/locales';
import * as z from 'zod/mini';
import { JsonValue, nestsTooDeep, tooDeepMessage } from './json';

// zod/mini tree-shakes to a few KB (the classic API bundles ~470 KB); it ships no messages unless given a locale.
z.config(en());

/** Why a queue message can never be delivered; carried to the dead-letter queue as `ErrorCode`. */
export type InvalidMessageReason = 'invalid_json' | 'invalid_message' | 'payload_too_large' | 'too_deep' | 'too_many_groups' | 'reserved_source' | 'entry_gone';

/** A message that no retry can fix. It goes to the dead-letter queue with its reason, never back to the queue. */
export class InvalidMessageError extends Error {
  override readonly name = 'InvalidMessageError';

  constructor(
    readonly reason: InvalidMessageReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const notificationId = z.string().check(z.minLength(1), z.maxLength(256));

/** Body of a NotifyUser queue message: reaches every open connection of `userId` (in `tenant`). */
export const NotifyUserMessage = z.object({
  userId: z.string().check(z.minLength(1), z.maxLength(256)),
  data: JsonValue,
  id: z.optional(notificationId),
  // Required in a multi-tenant stack and refused in a single-tenant one (see fan-out).
  tenant: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});
export type NotifyUserMessage = z.infer<typeof NotifyUserMessage>;

/**
 * Body of a NotifyConnection queue message: reaches one connection. Two senders write it: a backend
 * (`{"connectionId","data","id"?}`), and the NotifyUser fan-out, whose hand-off of one connection
 * of its user says so (`"handOff":true`) and carries the notification as the fan-out dated and
 * placed it (docs/protocol.md, "Queue messages").
 */
export const NotifyConnectionMessage = z.object({
  connectionId: z.string().check(z.minLength(1), z.maxLength(128)),
  data: JsonValue,
  id: z.optional(notificationId),
  // Set by the NotifyUser fan-out: this is its hand-off, counted and dated there (see isHandOff).
  handOff: z.optional(z.literal(true)),
  // Set by the NotifyUser fan-out so that every connection of a user sees the same notification time.
  time: z.optional(z.iso.datetime()),
  // Set by the NotifyUser fan-out: the notification's place in its user's stream (see StreamPosition).
  seq: z.optional(z.number().check(z.int(), z.positive())),
  epoch: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
}).check(z.refine((message) => (message.seq === undefined) === (message.epoch === undefined), { message: 'seq and epoch go together' }));
export type NotifyConnectionMessage = z.infer<typeof NotifyConnectionMessage>;

/**
 * Whether a NotifyConnection message is the NotifyUser fan-out's hand-off (its notification was
 * counted as received there), rather than a backend's own message.
 *
 * For one release, a message with `time` and no `handOff` is taken for a hand-off too: that is how
 * the fan-out marked one before `handOff`, and a deploy replaces the functions while such messages
 * may still wait in the queue (or come back from its dead-letter queue by a redrive). Remove the
 * `time` test in the release after the one that added `handOff`.
 */
export function isHandOff(message: NotifyConnectionMessage): boolean {
  return message.handOff === true || message.time !== undefined;
}

export function parseMessage<T>(schema: z.ZodMiniType<T>, body: string): T {
  return validMessage(schema, parseJsonBody(body));
}

/** The body's JSON, nested no deeper than the validators and the frames can take. */
export function parseJsonBody(body: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (cause) {
    throw new InvalidMessageError('invalid_json', 'message body is not valid JSON', { cause });
  }
  if (nestsTooDeep(json)) throw new InvalidMessageError('too_deep', tooDeepMessage('the message body'));
  return json;
}

export function validMessage<T>(schema: z.ZodMiniType<T>, json: unknown): T {
  const result = schema.safeParse(json);
  if (!result.success) {
    throw new InvalidMessageError('invalid_message', readableError(result.error));
  }
  return result.data;
}

/** zod's report of what is wrong, on one line, for error frames, HTTP answers and dead-letter reasons. */
export function readableError(error: z.core.$ZodError): string {
  return z.prettifyError(error).replace(/\n\s*/g, ' ');
}
