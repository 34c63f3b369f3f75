import type { SQSClient } from '@aws-sdk/client-sqs';
import { eventsFromHttp, type HttpRequest, InvalidEventError } from './cloudevents-http';
import { enqueueAll } from './enqueue';
import { checkTopicTenancy } from './fan-out';
import { eventFrame } from './frames';
import { globMatches } from './glob';
import { InvalidMessageError } from './messages';
import { mayAccess, reservedAttributeProblem, stampPublisher, type TopicPage, TopicName } from './topics';

/**
 * Who is posting: a publish-scope API key with its grants and tenant, or an AWS caller IAM let
 * through, with its ARN (`requestContext.authorizer.iam.userArn`; for a role, the assumed role's
 * `arn:aws:sts::<account>:assumed-role/<role>/<session>`).
 */
export type HttpPublisher =
  | { kind: 'apiKey'; userId: string; keyId: string; tenant?: string; publishTopics: string[] }
  | { kind: 'iam'; tenant?: string; principalArn?: string };

export interface IngressDeps {
  sqs: SQSClient;
  /** The topic fan-out's own queue: only there does the publisher the ingress stamps count. */
  topicPagesQueueUrl: string;
  tenantClaim?: string;
  /** The stack's public topics: on a multi-tenant stack, the IAM route may post to one without a tenant, for the anonymous subscribers. */
  publicTopics?: string[];
  /** ARN patterns of the IAM callers that may post on the IAM route; unset, any caller IAM lets through. */
  iamPrincipals?: string[];
}

/** Whether an ARN matches one of the patterns, in which `*` stands for any run of characters (as in IAM's ARN conditions). */
export function principalMatches(patterns: readonly string[], arn: string | undefined): boolean {
  if (arn === undefined) return false;
  return patterns.some((pattern) => globMatches(pattern, arn));
}

export interface IngressResponse {
  statusCode: number;
  body: string;
}

/**
 * `POST /topics/{topic}/events`: validates the request's CloudEvents and enqueues each, stamped
 * with its publisher, on the topic fan-out's own queue. An event that claims to come from the server
 * (a `ws-notify:` source, a publisher attribute) is refused. 202 with their ids; 400, 403 or 413 with `{"error","message"}` saying why nothing
 * was enqueued. A batch is all or nothing.
 */
export async function acceptEvents(topic: string | undefined, request: HttpRequest, publisher: HttpPublisher, deps: IngressDeps): Promise<IngressResponse> {
  if (!TopicName.safeParse(topic).success) return refusal(400, 'invalid_topic', `"${topic}" is not a topic: 1-128 letters, digits or ._:/-`);
  const validTopic = topic as string;
  if (publisher.kind === 'iam' && deps.iamPrincipals !== undefined && !principalMatches(deps.iamPrincipals, publisher.principalArn)) {
    return refusal(403, 'forbidden_principal', `${publisher.principalArn ?? 'a caller without an ARN'} is not among the IAM principals this stack lets publish`);
  }
  if (publisher.kind === 'apiKey' && !mayAccess(publisher.publishTopics, validTopic)) {
    return refusal(403, 'forbidden_topic', `this key may not publish to "${validTopic}"`);
  }
  try {
    checkTopicTenancy({ topic: validTopic, tenant: publisher.tenant }, deps, publisher.kind === 'iam' ? 'the tenant in ?tenant=' : "the key's tenant");
    const events = eventsFromHttp(request);
    // A frame API Gateway could not deliver is refused now, not dead-lettered later.
    for (const event of events) eventFrame(validTopic, event);
    for (const event of events) {
      const problem = reservedAttributeProblem(event);
      if (problem !== undefined) return refusal(400, 'reserved_source', `event "${event.id}": ${problem}`);
    }
    const stamp = publisher.kind === 'apiKey' ? `apikey:${publisher.keyId}` : 'backend';
    const messages = events.map(
      (event): TopicPage => ({ topic: validTopic, event: stampPublisher(event, stamp), ...(publisher.tenant !== undefined && { tenant: publisher.tenant }) }),
    );
    await enqueueAll(deps.sqs, deps.topicPagesQueueUrl, messages.map((message) => JSON.stringify(message)));
    return { statusCode: 202, body: JSON.stringify({ accepted: events.length, ids: events.map((event) => event.id) }) };
  } catch (error) {
    if (error instanceof InvalidEventError) return refusal(400, error.code, error.message);
    if (error instanceof InvalidMessageError && error.reason === 'payload_too_large') return refusal(413, 'payload_too_large', error.message);
    // An event whose frame would nest too deep once delivered.
    if (error instanceof InvalidMessageError && error.reason === 'too_deep') return refusal(400, 'too_deep', error.message);
    if (error instanceof InvalidMessageError) return refusal(400, 'invalid_tenant', error.message);
    throw error;
  }
}

function refusal(statusCode: number, error: string, message: string): IngressResponse {
  return { statusCode, body: JSON.stringify({ error, message }) };
}
