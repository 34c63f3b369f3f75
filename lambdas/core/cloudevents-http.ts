import { nestsTooDeep, tooDeepMessage } from './json';
import { readableError } from './messages';
import { CloudEvent } from './topics';

/**
 * The CloudEvents HTTP protocol binding (v1.0.2), read strictly. Written here rather than taken
 * from the `cloudevents` SDK because its `HTTP.toEvent` does not validate: it accepts an event
 * without `source`, and puts the current time in place of an unparsable `time`, which would
 * publish a different event than the one sent. The binding itself is small.
 */

/** At most this many events in one batched request. */
export const MAX_BATCH_EVENTS = 100;

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';

  constructor(
    message: string,
    /** The `error` of the 400 answer. */
    readonly code: 'invalid_event' | 'too_deep' = 'invalid_event',
  ) {
    super(message);
  }
}

export interface HttpRequest {
  /** Header names in lower case, as API Gateway's payload 2.0 gives them. */
  headers: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
}

/** The events of a structured, batched or binary-mode request; InvalidEventError says why there are none. */
export function eventsFromHttp(request: HttpRequest): CloudEvent[] {
  const mediaType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType === 'application/cloudevents+json') return [validEvent(parseJsonBody(request), 'the event')];
  if (mediaType === 'application/cloudevents-batch+json') {
    const batch = parseJsonBody(request);
    if (!Array.isArray(batch)) throw new InvalidEventError('a batch is a JSON array of events');
    if (batch.length === 0 || batch.length > MAX_BATCH_EVENTS) throw new InvalidEventError(`a batch holds 1 to ${MAX_BATCH_EVENTS} events`);
    return batch.map((event, index) => validEvent(event, `event ${index}`));
  }
  if (request.headers['ce-specversion'] !== undefined) return [validEvent(binaryModeEvent(request, mediaType), 'the event')];
  throw new InvalidEventError(
    'not a CloudEvent: send Content-Type application/cloudevents+json or application/cloudevents-batch+json, or ce-* headers (binary mode)',
  );
}

/** Binary mode: attributes in `ce-` headers (percent-encoded), the data as the body, its type as Content-Type. */
function binaryModeEvent(request: HttpRequest, mediaType: string): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (!name.startsWith('ce-') || value === undefined) continue;
    try {
      attributes[name.slice(3)] = decodeURIComponent(value);
    } catch {
      throw new InvalidEventError(`header ${name} is not validly percent-encoded`);
    }
  }
  const contentType = request.headers['content-type'];
  const body = bodyBytes(request);
  if (contentType !== undefined) attributes['datacontenttype'] = contentType;
  if (body.length === 0) return attributes;
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) return { ...attributes, data: parseJson(body.toString('utf8'), 'the body') };
  if (mediaType.startsWith('text/')) return { ...attributes, data: body.toString('utf8') };
  return { ...attributes, data_base64: body.toString('base64') };
}

function validEvent(candidate: unknown, what: string): CloudEvent {
  const result = CloudEvent.safeParse(candidate);
  if (!result.success) throw new InvalidEventError(`${what} is not a valid CloudEvent 1.0: ${readableError(result.error)}`);
  return result.data;
}

function parseJsonBody(request: HttpRequest): unknown {
  return parseJson(bodyBytes(request).toString('utf8'), 'the body');
}

function parseJson(text: string, what: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidEventError(`${what} is not valid JSON`);
  }
  // Checked before the validators, which recurse.
  if (nestsTooDeep(json)) throw new InvalidEventError(tooDeepMessage(what), 'too_deep');
  return json;
}

function bodyBytes({ body, isBase64Encoded }: HttpRequest): Buffer {
  return Buffer.from(body ?? '', isBase64Encoded ? 'base64' : 'utf8');
}
