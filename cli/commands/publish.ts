import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PublishMessage, reservedAttributeProblem } from '../../lambdas/core/topics';
import { sqsClientFor } from '../clients';
import { type HelpCommandLine, parseJson, parseOptions, required, type TargetOptions, targetOf, untenantedMessage, UsageError, validMessage } from '../options';
import type { Target } from '../target';
import { TARGET_HELP } from '../usage';

const PUBLISH_USAGE = `Usage: ws-notify publish --topic <t> --type <type> [--data <json>] [--subject <s>] [--source <uri>] [--tenant <t>] [target]

Publishes a CloudEvent to the topic's subscribers, as a backend does: {"topic","event"} on the
Publish queue. Prints the event's id.

Options:
  --topic <t>      the topic
  --type <type>    the event's type, e.g. order.created
  --data <json>    the event's data: any JSON value (default: none)
  --subject <s>    the event's subject
  --source <uri>   the event's source (default: ws-notify-cli)
  --tenant <t>     the topic's tenant: required where the stack has a tenantClaim, refused where not

${TARGET_HELP}`;

export type PublishCommandLine = { command: 'publish'; target: TargetOptions; message: PublishMessage };

export function parsePublish(args: string[]): PublishCommandLine | HelpCommandLine {
  const values = parseOptions(args, PUBLISH_USAGE, ['topic', 'type', 'data', 'subject', 'source', 'tenant']);
  if (values.help) return { command: 'help', text: PUBLISH_USAGE };
  const data = values.data === undefined ? {} : { data: parseJson(values.data, '--data', PUBLISH_USAGE) };
  const candidate = {
    topic: required(values.topic, '--topic', PUBLISH_USAGE),
    ...(values.tenant !== undefined && { tenant: required(values.tenant, '--tenant', PUBLISH_USAGE) }),
    event: {
      specversion: '1.0',
      id: randomUUID(),
      source: values.source ?? 'ws-notify-cli',
      type: required(values.type, '--type', PUBLISH_USAGE),
      time: new Date().toISOString(),
      ...(values.subject !== undefined && { subject: values.subject }),
      ...data,
    },
  };
  const message = validMessage(PublishMessage, candidate, PUBLISH_USAGE);
  // Refused here, before any AWS call, as the fan-out would dead-letter it.
  const reserved = reservedAttributeProblem(message.event);
  if (reserved !== undefined) throw new UsageError(`the queue would refuse this message: ${reserved}`, PUBLISH_USAGE);
  return { command: 'publish', target: targetOf(values), message };
}

/** An event on a multi-tenant stack names its topic's tenant. */
export function checkPublishTenancy({ message }: PublishCommandLine, tenantClaim: string): void {
  if (message.tenant === undefined) throw untenantedMessage(tenantClaim, PUBLISH_USAGE);
}

/** `publish`: the event on the Publish queue; prints its id. */
export async function publishEvent(target: Target, message: PublishMessage): Promise<void> {
  const sqs = sqsClientFor(target);
  try {
    await sqs.send(new SendMessageCommand({ QueueUrl: target.outputs.PublishQueueUrl, MessageBody: JSON.stringify(message) }));
    console.log(message.event.id);
  } finally {
    sqs.destroy();
  }
}
