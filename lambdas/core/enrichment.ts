import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import * as z from 'zod/mini';
import { isAnonymousUserId } from './auth';
import { InvalidMessageError, readableError } from './messages';
import { CloudEvent, type PublishMessage, topicMatches } from './topics';

/** What an enrichment function returns: the event to deliver, and optionally the one user it concerns. */
export const EnrichmentResult = z.object({
  event: CloudEvent,
  userId: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});
export type EnrichmentResult = z.infer<typeof EnrichmentResult>;

/** Topic pattern → the ARN of the function that enriches its events (construct prop `enrichers`). */
export type Enrichers = Record<string, string>;

/** The function that enriches the topic's events: the first pattern that matches. */
export function enricherOf(enrichers: Enrichers, topic: string): string | undefined {
  return Object.entries(enrichers).find(([pattern]) => topicMatches(pattern, topic))?.[1];
}

/**
 * Invokes the enrichment function with `{topic, tenant?, event}`. A function that fails throws (the
 * Publish message is retried, then dead-lettered); one that returns something else than
 * `{event, userId?}` makes the message invalid, dead-lettered at once with the reason.
 */
export async function enrich(functionArn: string, message: PublishMessage, lambda: LambdaClient): Promise<EnrichmentResult> {
  const { topic, tenant, event } = message;
  const { Payload, FunctionError } = await lambda.send(
    new InvokeCommand({ FunctionName: functionArn, Payload: JSON.stringify({ topic, ...(tenant !== undefined && { tenant }), event }) }),
  );
  const payload = Buffer.from(Payload ?? []).toString('utf8');
  if (FunctionError !== undefined) throw new Error(`enrichment function ${functionArn} failed: ${payload.slice(0, 1024)}`);
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    throw new InvalidMessageError('invalid_message', `enrichment function ${functionArn} returned no JSON`);
  }
  const result = EnrichmentResult.safeParse(json);
  if (!result.success) {
    const reason = readableError(result.error);
    throw new InvalidMessageError('invalid_message', `enrichment function ${functionArn} must return {event: <CloudEvent>, userId?}: ${reason}`);
  }
  if (result.data.userId !== undefined && isAnonymousUserId(result.data.userId)) {
    throw new InvalidMessageError('invalid_message', `enrichment function ${functionArn} named an anonymous user, whom only NotifyConnection reaches`);
  }
  return result.data;
}
