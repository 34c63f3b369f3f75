import type { Message } from '@aws-sdk/client-sqs';
import type { DeadLetterQueueName } from './commands/dlq';

/** One dead-lettered message as `ws-notify dlq list` prints it. */
export interface DeadLetterLine {
  queue: DeadLetterQueueName;
  messageId: string;
  /** When SQS first accepted it: on its own queue for a message the redrive policy moved, on the dead-letter queue otherwise. */
  sentAt?: string;
  age?: string;
  /** As SQS counts it: the failed receives on its queue, plus each receive since (every `dlq list` is one). */
  receiveCount?: number;
  /** Why it is here, in a sentence. */
  reason: string;
  errorCode?: string;
  errorMessage?: string;
  /** The id the message had on its own queue, where a function dead-lettered it. */
  sourceMessageId?: string;
  body: string;
}

/**
 * What the list says of a message. A function that refuses a message for good sends it here with
 * `ErrorCode` and `ErrorMessage` attributes (lambdas/core/dead-letter.ts); one without them was
 * moved by its queue's redrive policy after `maxReceiveCount` failed receives.
 */
export function describeDeadLetter(
  queue: DeadLetterQueueName,
  message: Message,
  maxReceiveCount: number | undefined,
  nowMs: number,
): DeadLetterLine {
  const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue;
  const errorCode = attribute('ErrorCode');
  const errorMessage = attribute('ErrorMessage');
  const sourceMessageId = attribute('SourceMessageId');
  const sentMs = Number(message.Attributes?.SentTimestamp);
  const receiveCount = Number(message.Attributes?.ApproximateReceiveCount);
  const receives = maxReceiveCount === undefined ? 'every receive its queue allows' : `${maxReceiveCount} receives`;
  return {
    queue,
    messageId: message.MessageId as string,
    ...(Number.isFinite(sentMs) && { sentAt: new Date(sentMs).toISOString(), age: formatAge(nowMs - sentMs) }),
    ...(Number.isFinite(receiveCount) && { receiveCount }),
    reason:
      errorCode === undefined
        ? `failed ${receives}: its queue's redrive policy moved it (no ErrorCode; the function's logs say why)`
        : `${errorCode}: ${errorMessage ?? 'no ErrorMessage'}`,
    ...(errorCode !== undefined && { errorCode }),
    ...(errorMessage !== undefined && { errorMessage }),
    ...(sourceMessageId !== undefined && { sourceMessageId }),
    body: summarizeBody(message.Body ?? ''),
  };
}

/** The fields that say whom a message is for, in the order they are shown. */
const IDENTIFYING_FIELDS = ['topic', 'tenant', 'userId', 'connectionId', 'id'] as const;
const QUOTED_CHARS = 80;

/** `topic=orders event.type=order.created event.id=e-1 (212 bytes)`: whom the body is for, and its size. */
export function summarizeBody(body: string): string {
  const size = `(${Buffer.byteLength(body)} bytes)`;
  const json = parseJson(body);
  if (!isObject(json)) return `${quote(body)} ${size}`;
  const fields = IDENTIFYING_FIELDS.filter((field) => typeof json[field] === 'string').map((field) => `${field}=${json[field] as string}`);
  const event = json['event'];
  if (isObject(event)) {
    for (const field of ['type', 'id'] as const) if (typeof event[field] === 'string') fields.push(`event.${field}=${event[field] as string}`);
  }
  return fields.length > 0 ? `${fields.join(' ')} ${size}` : `${quote(body)} ${size}`;
}

/** `42s`, `5m07s`, `3h05m`, `2d04h`. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, '0');
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h${pad(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86_400)}d${pad(Math.floor(seconds / 3600) % 24)}h`;
}

/** Whether purge may go ahead: `--yes` says so; otherwise a person at a terminal is asked; else it refuses. */
export function purgeConsent({ yes, interactive }: { yes: boolean; interactive: boolean }): 'proceed' | 'ask' | 'refuse' {
  if (yes) return 'proceed';
  return interactive ? 'ask' : 'refuse';
}

/** The answer to "purge? [y/N]": only y or yes (any case) purges. */
export function isYes(answer: string): boolean {
  return /^\s*y(es)?\s*$/i.test(answer);
}

function quote(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return JSON.stringify(oneLine.length > QUOTED_CHARS ? `${oneLine.slice(0, QUOTED_CHARS)}…` : oneLine);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
