import { createInterface } from 'node:readline/promises';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  type Message,
  PurgeQueueCommand,
  PurgeQueueInProgress,
  ReceiveMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { sqsClientFor } from '../clients';
import { describeDeadLetter, isYes, purgeConsent } from '../dead-letter-report';
import { type HelpCommandLine, parseOptions, type TargetOptions, targetOf, UsageError } from '../options';
import { CommandError, type DeadLetterOutputKey, type StackOutputs, type Target } from '../target';
import { TARGET_HELP } from '../usage';

/** The queues that have a dead-letter queue, as `dlq --queue` names them. */
export const DEAD_LETTER_QUEUE_NAMES = ['notify-user', 'notify-connection', 'publish'] as const;
export type DeadLetterQueueName = (typeof DEAD_LETTER_QUEUE_NAMES)[number];

/** `dlq list` shows at most this many messages per queue unless `--max` says otherwise. */
export const DEFAULT_DLQ_LIST_MAX = 100;
const MAX_DLQ_LIST_MAX = 10_000;

const DLQ_USAGE = `Usage: ws-notify dlq list [--queue <q>] [--max <n>] [target]
       ws-notify dlq redrive [--queue <q>] [--no-wait] [target]
       ws-notify dlq purge [--queue <q>] [--yes] [target]

The dead-letter queues hold what the stack could not deliver: messages a function refused for
good, with an ErrorCode and ErrorMessage saying why, and messages that failed every receive
their queue allows (a cause that lasted: a missing table, an API that kept failing). Fix the
cause, then redrive them.

  list      the dead-lettered messages, one JSON line each: the queue, the message id, when it
            was sent and its age, its receive count, why it is there, and a summary of its body.
            Listing hides each message from other readers until the list is done
  redrive   moves them back to their queue with an SQS message move task, and waits for it.
            A redriven message is a new SQS message (a new message id and sent time) with the
            same body and attributes
  purge     deletes them for good, once you confirm (SQS purges a queue at most once a minute)

Options:
  --queue <q>   notify-user, notify-connection or publish (default: all three)
  --max <n>     list at most this many messages per queue (default ${DEFAULT_DLQ_LIST_MAX})
  --no-wait     start the redrive and print its task, without waiting for it to finish
  --yes         purge without asking; required where there is no terminal to ask at

${TARGET_HELP}`;

export type DlqCommandLine =
  | { command: 'dlq list'; target: TargetOptions; queues: DeadLetterQueueName[]; max: number }
  | { command: 'dlq redrive'; target: TargetOptions; queues: DeadLetterQueueName[]; wait: boolean }
  | { command: 'dlq purge'; target: TargetOptions; queues: DeadLetterQueueName[]; yes: boolean };

export function parseDlq(args: string[]): DlqCommandLine | HelpCommandLine {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'list': {
      const values = parseOptions(rest, DLQ_USAGE, ['queue', 'max']);
      if (values.help) return { command: 'help', text: DLQ_USAGE };
      return { command: 'dlq list', target: targetOf(values), queues: deadLetterQueues(values.queue), max: listMax(values.max) };
    }
    case 'redrive': {
      const values = parseOptions(rest, DLQ_USAGE, ['queue'], { flags: ['no-wait'] });
      if (values.help) return { command: 'help', text: DLQ_USAGE };
      return { command: 'dlq redrive', target: targetOf(values), queues: deadLetterQueues(values.queue), wait: !values['no-wait'] };
    }
    case 'purge': {
      const values = parseOptions(rest, DLQ_USAGE, ['queue'], { flags: ['yes'] });
      if (values.help) return { command: 'help', text: DLQ_USAGE };
      return { command: 'dlq purge', target: targetOf(values), queues: deadLetterQueues(values.queue), yes: values.yes === true };
    }
    case '-h':
    case '--help':
      return { command: 'help', text: DLQ_USAGE };
    case undefined:
      throw new UsageError('dlq needs a subcommand: list, redrive or purge', DLQ_USAGE);
    default:
      throw new UsageError(`unknown dlq subcommand "${subcommand}"`, DLQ_USAGE);
  }
}

function deadLetterQueues(queue: string | undefined): DeadLetterQueueName[] {
  if (queue === undefined) return [...DEAD_LETTER_QUEUE_NAMES];
  if (!(DEAD_LETTER_QUEUE_NAMES as readonly string[]).includes(queue)) {
    throw new UsageError(`--queue takes ${DEAD_LETTER_QUEUE_NAMES.join(', ')}, got "${queue}"`, DLQ_USAGE);
  }
  return [queue as DeadLetterQueueName];
}

function listMax(max: string | undefined): number {
  if (max === undefined) return DEFAULT_DLQ_LIST_MAX;
  if (!/^\d+$/.test(max) || Number(max) < 1 || Number(max) > MAX_DLQ_LIST_MAX) {
    throw new UsageError(`--max takes a whole number from 1 to ${MAX_DLQ_LIST_MAX}, got "${max}"`, DLQ_USAGE);
  }
  return Number(max);
}

/** `dlq purge` without `--yes` where no one can be asked; the CLI exits 2, as for a wrong command line. */
export class ConfirmationRequiredError extends Error {
  override readonly name = 'ConfirmationRequiredError';
}

/** The outputs that name each queue and its dead-letter queue. */
const OUTPUTS: Record<DeadLetterQueueName, { queue: keyof StackOutputs; deadLetterQueue: DeadLetterOutputKey }> = {
  'notify-user': { queue: 'NotifyUserQueueUrl', deadLetterQueue: 'NotifyUserDeadLetterQueueUrl' },
  'notify-connection': { queue: 'NotifyConnectionQueueUrl', deadLetterQueue: 'NotifyConnectionDeadLetterQueueUrl' },
  publish: { queue: 'PublishQueueUrl', deadLetterQueue: 'PublishDeadLetterQueueUrl' },
};

/**
 * Listed messages stay hidden this long should the CLI die mid-list; a finished list makes them
 * visible again at once. Long enough that a list of `--max` messages rarely sees one twice.
 */
const LIST_VISIBILITY_SECONDS = 30;
const TASK_POLL_INTERVAL_MS = 1000;
/** SQS lists a task it started at once; this long without it, something else is wrong. */
const TASK_LISTED_WITHIN_MS = 60_000;

interface QueuePair {
  name: DeadLetterQueueName;
  queueArn: string;
  deadLetterUrl: string;
  deadLetterArn: string;
  /** From the queue's redrive policy; undefined where it has none. */
  maxReceiveCount?: number;
  /** Visible and in flight. */
  messages: number;
}

/** `dlq list`: one JSON line per dead-lettered message, oldest first; a count per queue on stderr. */
export async function listDeadLetters(target: Target, queues: DeadLetterQueueName[], max: number): Promise<void> {
  await withSqs(target, async (sqs) => {
    for (const pair of await Promise.all(queues.map((name) => queuePair(sqs, target, name)))) {
      const messages = pair.messages === 0 ? [] : await peek(sqs, pair.deadLetterUrl, max);
      const now = Date.now();
      const lines = messages
        .map((message) => describeDeadLetter(pair.name, message, pair.maxReceiveCount, now))
        .sort((a, b) => (a.sentAt ?? '').localeCompare(b.sentAt ?? ''));
      for (const line of lines) console.log(JSON.stringify(line));
      const more = pair.messages > lines.length ? ` (about ${pair.messages} in the queue; --max ${max} lists more)` : '';
      console.error(`${pair.name}: ${lines.length} dead-lettered message${lines.length === 1 ? '' : 's'} listed${more}`);
    }
  });
}

/** `dlq redrive`: an SQS message move task per queue with messages, back to its queue; waits for each unless told not to. */
export async function redriveDeadLetters(target: Target, queues: DeadLetterQueueName[], wait: boolean): Promise<number> {
  return withSqs(target, async (sqs) => {
    let failed = false;
    for (const pair of await Promise.all(queues.map((name) => queuePair(sqs, target, name)))) {
      if (pair.messages === 0) {
        console.log(JSON.stringify({ queue: pair.name, status: 'EMPTY', moved: 0 }));
        continue;
      }
      const previous = await latestTask(sqs, pair);
      const { TaskHandle } = await startMoveTask(sqs, pair);
      if (!wait) {
        console.log(JSON.stringify({ queue: pair.name, status: 'RUNNING', taskHandle: TaskHandle }));
        continue;
      }
      console.error(`${pair.name}: moving about ${pair.messages} message(s) back to their queue…`);
      const task = await finishedTask(sqs, pair, previous?.StartedTimestamp);
      console.log(
        JSON.stringify({
          queue: pair.name,
          status: task.Status,
          moved: task.ApproximateNumberOfMessagesMoved,
          toMove: task.ApproximateNumberOfMessagesToMove,
          ...(task.FailureReason !== undefined && { failureReason: task.FailureReason }),
        }),
      );
      if (task.Status !== 'COMPLETED') {
        failed = true;
        console.error(`${pair.name}: the move task ended ${task.Status}${task.FailureReason ? ` (${task.FailureReason})` : ''}`);
      }
    }
    return failed ? 1 : 0;
  });
}

/** `dlq purge`: deletes the messages of each queue that has some, once confirmed. */
export async function purgeDeadLetters(target: Target, queues: DeadLetterQueueName[], yes: boolean): Promise<number> {
  const consent = purgeConsent({ yes, interactive: process.stdin.isTTY === true && process.stderr.isTTY === true });
  if (consent === 'refuse') {
    throw new ConfirmationRequiredError('purge deletes messages for good and asks first, but there is no terminal to ask at: pass --yes to purge');
  }
  return withSqs(target, async (sqs) => {
    const pairs = (await Promise.all(queues.map((name) => queuePair(sqs, target, name)))).filter((pair) => pair.messages > 0);
    if (pairs.length === 0) {
      console.error('nothing to purge: the dead-letter queues are empty');
      return 0;
    }
    const what = pairs.map((pair) => `${pair.name} (${pair.messages})`).join(', ');
    if (consent === 'ask' && !(await ask(`Delete for good the dead-lettered messages of ${what} in ${target.stackName}? [y/N] `))) {
      console.error('nothing purged');
      return 1;
    }
    let failed = false;
    for (const pair of pairs) {
      try {
        await sqs.send(new PurgeQueueCommand({ QueueUrl: pair.deadLetterUrl }));
        console.log(JSON.stringify({ queue: pair.name, purged: pair.messages }));
      } catch (error) {
        if (!(error instanceof PurgeQueueInProgress)) throw error;
        failed = true;
        console.error(`${pair.name}: SQS purges a queue at most once every 60 seconds, and this one was purged less than a minute ago: try again in a minute`);
      }
    }
    return failed ? 1 : 0;
  });
}

/** The queue's and its dead-letter queue's ARNs, its redrive policy, and how many messages its dead-letter queue holds. */
async function queuePair(sqs: SQSClient, target: Target, name: DeadLetterQueueName): Promise<QueuePair> {
  const outputs = OUTPUTS[name];
  const deadLetterUrl = target.outputs[outputs.deadLetterQueue];
  if (deadLetterUrl === undefined) {
    throw new CommandError(
      `${target.stackName} has no output ${outputs.deadLetterQueue}: it was deployed before \`ws-notify dlq\` existed; deploy it again to add it`,
    );
  }
  const [queue, deadLetter] = await Promise.all([
    sqs.send(new GetQueueAttributesCommand({ QueueUrl: target.outputs[outputs.queue], AttributeNames: ['QueueArn', 'RedrivePolicy'] })),
    sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: deadLetterUrl,
        AttributeNames: ['QueueArn', 'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    ),
  ]);
  const redrivePolicy = queue.Attributes?.RedrivePolicy ? (JSON.parse(queue.Attributes.RedrivePolicy) as { maxReceiveCount?: unknown }) : {};
  const maxReceiveCount = Number(redrivePolicy.maxReceiveCount);
  const count = (attribute: 'ApproximateNumberOfMessages' | 'ApproximateNumberOfMessagesNotVisible') => Number(deadLetter.Attributes?.[attribute] ?? 0);
  return {
    name,
    queueArn: queue.Attributes?.QueueArn as string,
    deadLetterUrl,
    deadLetterArn: deadLetter.Attributes?.QueueArn as string,
    ...(Number.isFinite(maxReceiveCount) && { maxReceiveCount }),
    messages: count('ApproximateNumberOfMessages') + count('ApproximateNumberOfMessagesNotVisible'),
  };
}

/**
 * Up to `max` messages of the queue, each once, without consuming them: received with a short
 * visibility timeout, then made visible again at once, so that they are hidden only while the
 * list is made. A message seen again (its visibility lapsed) is counted once, by its id.
 */
async function peek(sqs: SQSClient, queueUrl: string, max: number): Promise<Message[]> {
  const seen = new Map<string, Message>();
  try {
    while (seen.size < max) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, max - seen.size),
          VisibilityTimeout: LIST_VISIBILITY_SECONDS,
          // Long polling asks every SQS server, so that an empty answer means no more visible messages.
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      const fresh = Messages.filter((message) => !seen.has(message.MessageId as string));
      // The latest receipt handle is the one that can release the message.
      for (const message of Messages) seen.set(message.MessageId as string, message);
      if (fresh.length === 0) break;
    }
  } finally {
    await release(sqs, queueUrl, [...seen.values()]);
  }
  return [...seen.values()];
}

async function release(sqs: SQSClient, queueUrl: string, messages: Message[]): Promise<void> {
  for (let start = 0; start < messages.length; start += 10) {
    // An entry fails if its message went meanwhile (a redrive moved it): nothing to release then.
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.slice(start, start + 10).map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 0 })),
      }),
    );
  }
}

/**
 * Back to the queue it was dead-lettered from, named as the destination: SQS knows the source of
 * a message its redrive policy moved, but not of one a function sent to the dead-letter queue.
 */
async function startMoveTask(sqs: SQSClient, pair: QueuePair): Promise<{ TaskHandle?: string }> {
  try {
    return await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: pair.deadLetterArn, DestinationArn: pair.queueArn }));
  } catch (error) {
    if ((error as Error).message?.includes('already a task running')) {
      throw new CommandError(`${pair.name}: a message move task is already running on its dead-letter queue: wait for it to finish, then redrive again`, {
        cause: error,
      });
    }
    throw error;
  }
}

async function latestTask(sqs: SQSClient, pair: QueuePair): Promise<ListMessageMoveTasksResultEntry | undefined> {
  const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: pair.deadLetterArn, MaxResults: 1 }));
  return Results[0];
}

/**
 * The task just started, once it is no longer running. SQS names a task by its handle only while
 * it runs, so it is told from the one before it by its start time.
 */
async function finishedTask(sqs: SQSClient, pair: QueuePair, previousStart: number | undefined): Promise<ListMessageMoveTasksResultEntry> {
  const listedBy = Date.now() + TASK_LISTED_WITHIN_MS;
  let reported = 0;
  for (;;) {
    const latest = await latestTask(sqs, pair);
    const task = latest !== undefined && latest.StartedTimestamp !== previousStart ? latest : undefined;
    if (task !== undefined && task.Status !== 'RUNNING' && task.Status !== 'CANCELLING') return task;
    if (task === undefined && Date.now() > listedBy) {
      throw new CommandError(
        `${pair.name}: SQS lists no move task a minute after starting one; see \`aws sqs list-message-move-tasks --source-arn ${pair.deadLetterArn}\``,
      );
    }
    const moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
    if (moved > reported) console.error(`${pair.name}: ${moved} of about ${task?.ApproximateNumberOfMessagesToMove} moved`);
    reported = Math.max(reported, moved);
    await new Promise((resolve) => setTimeout(resolve, TASK_POLL_INTERVAL_MS));
  }
}

async function ask(question: string): Promise<boolean> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return isYes(await terminal.question(question));
  } finally {
    terminal.close();
  }
}

async function withSqs<T>(target: Target, use: (sqs: SQSClient) => Promise<T>): Promise<T> {
  const sqs = sqsClientFor(target);
  try {
    return await use(sqs);
  } finally {
    sqs.destroy();
  }
}
