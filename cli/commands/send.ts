import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { NotifyConnectionMessage, NotifyUserMessage } from '../../lambdas/core/messages';
import { sqsClientFor } from '../clients';
import { type HelpCommandLine, parseJson, parseOptions, required, type TargetOptions, targetOf, untenantedMessage, UsageError, validMessage } from '../options';
import type { Target } from '../target';
import { TARGET_HELP } from '../usage';

const SEND_USAGE = `Usage: ws-notify send (--user <id> [--tenant <t>] | --connection <id>) --data <json> [target]

Enqueues a notification, as a backend does: {"userId","data"} on the NotifyUser queue reaches
every open connection of the user; {"connectionId","data"} on the NotifyConnection queue reaches
that connection. Prints the SQS message id, which is also the notification's id.

Options:
  --user <id>          the user to notify
  --tenant <t>         the user's tenant: required where the stack has a tenantClaim, refused where not
  --connection <id>    the connection to notify (\`ws-notify connections\` lists them)
  --data <json>        the notification's data: any JSON value, e.g. '{"text":"hi"}' or '"hi"'

${TARGET_HELP}`;

/** A notification as it goes on its queue, named by the stack output that holds the queue's URL. */
export type Notification =
  | { queue: 'NotifyUserQueueUrl'; message: NotifyUserMessage }
  | { queue: 'NotifyConnectionQueueUrl'; message: NotifyConnectionMessage };

export type SendCommandLine = { command: 'send'; target: TargetOptions; notification: Notification };

export function parseSend(args: string[]): SendCommandLine | HelpCommandLine {
  const values = parseOptions(args, SEND_USAGE, ['user', 'tenant', 'connection', 'data']);
  if (values.help) return { command: 'help', text: SEND_USAGE };
  if ((values.user === undefined) === (values.connection === undefined)) {
    throw new UsageError('send takes exactly one of --user and --connection', SEND_USAGE);
  }
  const data = parseJson(required(values.data, '--data', SEND_USAGE), '--data', SEND_USAGE);
  const target = targetOf(values);
  if (values.user !== undefined) {
    const userId = required(values.user, '--user', SEND_USAGE);
    const tenant = values.tenant === undefined ? {} : { tenant: required(values.tenant, '--tenant', SEND_USAGE) };
    const message = validMessage(NotifyUserMessage, { userId, data, ...tenant }, SEND_USAGE);
    return { command: 'send', target, notification: { queue: 'NotifyUserQueueUrl', message } };
  }
  if (values.tenant !== undefined) throw new UsageError('--tenant goes with --user: a connection is already in its tenant', SEND_USAGE);
  const connectionId = required(values.connection, '--connection', SEND_USAGE);
  const message = validMessage(NotifyConnectionMessage, { connectionId, data }, SEND_USAGE);
  return { command: 'send', target, notification: { queue: 'NotifyConnectionQueueUrl', message } };
}

/** A notification to a user of a multi-tenant stack names the user's tenant (a connection is already in its own). */
export function checkSendTenancy({ notification }: SendCommandLine, tenantClaim: string): void {
  if (notification.queue === 'NotifyUserQueueUrl' && notification.message.tenant === undefined) throw untenantedMessage(tenantClaim, SEND_USAGE);
}

/** `send`: one message on the notification's queue; prints its SQS message id. */
export async function sendNotification(target: Target, { queue, message }: Notification): Promise<void> {
  const sqs = sqsClientFor(target);
  try {
    const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: target.outputs[queue], MessageBody: JSON.stringify(message) }));
    console.log(MessageId);
  } finally {
    sqs.destroy();
  }
}
