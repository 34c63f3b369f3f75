// Amazon SQS's message move tasks (dead-letter queue redrive: StartMessageMoveTask,
// ListMessageMoveTasks, CancelMessageMoveTask), which fauxqs does not have, added to a fauxqs app.
// A task moves messages with fauxqs's own API (receive, send, delete), so the emulator's queues
// stay its own business. It behaves as SQS does where it is documented or observed: only a queue
// that is some queue's dead-letter queue is a source, one running task per source, a moved message
// is a new message (new id and sent time, its body and message attributes kept), the most recent
// tasks first, a task handle only while it runs.
//
// Differences from SQS: a task needs DestinationArn (SQS remembers where a message was
// dead-lettered from; fauxqs does not), and it moves standard queues only.

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
/** SQS lists the 10 most recent tasks of a source. */
const TASKS_LISTED = 10;
/** How long a message being moved stays invisible, should the emulator stop mid-move. */
const MOVE_VISIBILITY_SECONDS = 30;

class SqsApiError extends Error {
  constructor(code, message, statusCode = 400) {
    super(message);
    this.code = code;
    this.statusCode = statusCode;
  }
}

/** Serves the three actions on `app` (a fauxqs app, before it listens). */
export function addMessageMoveTasks(app) {
  /** @type {Map<string, object[]>} source ARN → its tasks, most recent first */
  const tasksBySource = new Map();

  const call = async (action, body) => {
    const response = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': JSON_CONTENT_TYPE, 'x-amz-target': `AmazonSQS.${action}` },
      payload: JSON.stringify(body),
    });
    const json = response.body.length > 0 ? JSON.parse(response.body) : {};
    if (response.statusCode >= 400) {
      throw new SqsApiError(String(json.__type ?? 'InternalError').split('#').pop(), json.message ?? `${action} failed`, response.statusCode);
    }
    return json;
  };

  /** Every queue, with its ARN and redrive policy. */
  const queues = async () => {
    const { QueueUrls = [] } = await call('ListQueues', {});
    return Promise.all(
      QueueUrls.map(async (url) => {
        const { Attributes = {} } = await call('GetQueueAttributes', { QueueUrl: url, AttributeNames: ['QueueArn', 'RedrivePolicy', 'FifoQueue'] });
        const policy = Attributes.RedrivePolicy ? JSON.parse(Attributes.RedrivePolicy) : undefined;
        return { url, arn: Attributes.QueueArn, deadLetterTargetArn: policy?.deadLetterTargetArn, fifo: Attributes.FifoQueue === 'true' };
      }),
    );
  };

  const start = async ({ SourceArn, DestinationArn, MaxNumberOfMessagesPerSecond }) => {
    if (typeof SourceArn !== 'string') throw new SqsApiError('MissingParameter', 'The request must contain the parameter SourceArn.');
    const all = await queues();
    const source = all.find((queue) => queue.arn === SourceArn);
    if (!source) throw new SqsApiError('ResourceNotFoundException', "The resource that you specified for the SourceArn parameter doesn't exist.", 404);
    if (!all.some((queue) => queue.deadLetterTargetArn === SourceArn)) {
      throw new SqsApiError('InvalidParameterValue', 'Source queue must be configured as a Dead Letter Queue.');
    }
    if (DestinationArn === undefined) {
      throw new SqsApiError('InvalidParameterValue', 'The local SQS emulator needs DestinationArn: it does not record which queue a message was dead-lettered from.');
    }
    const destination = all.find((queue) => queue.arn === DestinationArn);
    if (!destination) throw new SqsApiError('ResourceNotFoundException', "The resource that you specified for the DestinationArn parameter doesn't exist.", 404);
    if (source.fifo || destination.fifo) throw new SqsApiError('InvalidParameterValue', 'The local SQS emulator moves messages between standard queues only.');
    const rate = MaxNumberOfMessagesPerSecond;
    if (rate !== undefined && (!Number.isInteger(rate) || rate < 1 || rate > 500)) {
      throw new SqsApiError('InvalidParameterValue', 'Value for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500.');
    }
    const tasks = tasksBySource.get(SourceArn) ?? [];
    if (tasks.some((task) => task.status === 'RUNNING')) {
      throw new SqsApiError('InvalidParameterValue', 'There is already a task running. Only one active task is allowed for a source queue arn at a given time.');
    }
    const { Attributes = {} } = await call('GetQueueAttributes', { QueueUrl: source.url, AttributeNames: ['ApproximateNumberOfMessages'] });
    const task = {
      handle: Buffer.from(JSON.stringify({ taskId: crypto.randomUUID(), sourceArn: SourceArn })).toString('base64'),
      status: 'RUNNING',
      sourceArn: SourceArn,
      destinationArn: DestinationArn,
      rate,
      startedTimestamp: Date.now(),
      toMove: Number(Attributes.ApproximateNumberOfMessages ?? 0),
      moved: 0,
      cancelled: false,
    };
    tasksBySource.set(SourceArn, [task, ...tasks].slice(0, TASKS_LISTED));
    void run(task, source.url, destination.url);
    return { TaskHandle: task.handle };
  };

  /** Moves whatever the source holds, oldest first as it comes, until it is empty or the task is cancelled. */
  const run = async (task, sourceUrl, destinationUrl) => {
    try {
      while (!task.cancelled) {
        const { Messages = [] } = await call('ReceiveMessage', {
          QueueUrl: sourceUrl,
          MaxNumberOfMessages: task.rate === undefined ? 10 : 1,
          VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
          WaitTimeSeconds: 0,
          MessageAttributeNames: ['All'],
        });
        if (Messages.length === 0) break;
        for (const message of Messages) {
          await call('SendMessage', {
            QueueUrl: destinationUrl,
            MessageBody: message.Body,
            ...(message.MessageAttributes && { MessageAttributes: message.MessageAttributes }),
          });
          await call('DeleteMessage', { QueueUrl: sourceUrl, ReceiptHandle: message.ReceiptHandle });
          task.moved += 1;
        }
        if (task.rate !== undefined) await new Promise((resolve) => setTimeout(resolve, 1000 / task.rate));
      }
      task.status = task.cancelled ? 'CANCELLED' : 'COMPLETED';
    } catch (error) {
      task.status = 'FAILED';
      // SQS reports the failing call's error code, e.g. AWS.SimpleQueueService.NonExistentQueue.
      task.failureReason = error instanceof SqsApiError ? (error.code === 'QueueDoesNotExist' ? 'AWS.SimpleQueueService.NonExistentQueue' : error.code) : String(error);
    }
  };

  const list = async ({ SourceArn, MaxResults }) => {
    if (typeof SourceArn !== 'string') throw new SqsApiError('MissingParameter', 'The request must contain the parameter SourceArn.');
    if (!(await queues()).some((queue) => queue.arn === SourceArn)) {
      throw new SqsApiError('ResourceNotFoundException', "The resource that you specified for the SourceArn parameter doesn't exist.", 404);
    }
    const tasks = (tasksBySource.get(SourceArn) ?? []).slice(0, MaxResults ?? 1);
    return {
      Results: tasks.map((task) => ({
        ...(task.status === 'RUNNING' && { TaskHandle: task.handle }),
        Status: task.status,
        SourceArn: task.sourceArn,
        DestinationArn: task.destinationArn,
        ...(task.rate !== undefined && { MaxNumberOfMessagesPerSecond: task.rate }),
        ApproximateNumberOfMessagesMoved: task.moved,
        ApproximateNumberOfMessagesToMove: task.toMove,
        ...(task.failureReason !== undefined && { FailureReason: task.failureReason }),
        StartedTimestamp: task.startedTimestamp,
      })),
    };
  };

  const cancel = async ({ TaskHandle }) => {
    const task = [...tasksBySource.values()].flat().find((candidate) => candidate.handle === TaskHandle);
    if (!task) throw new SqsApiError('ResourceNotFoundException', 'Task does not exist.', 404);
    if (task.status !== 'RUNNING') throw new SqsApiError('FailedPrecondition', 'Only active tasks can be cancelled.');
    task.cancelled = true;
    task.status = 'CANCELLING';
    return { ApproximateNumberOfMessagesMoved: task.moved };
  };

  const actions = {
    'AmazonSQS.StartMessageMoveTask': start,
    'AmazonSQS.ListMessageMoveTasks': list,
    'AmazonSQS.CancelMessageMoveTask': cancel,
  };
  app.addHook('preHandler', async (request, reply) => {
    const action = actions[request.headers['x-amz-target']];
    if (action === undefined) return undefined;
    try {
      const result = await action(request.body ?? {});
      return reply.header('content-type', JSON_CONTENT_TYPE).send(result);
    } catch (error) {
      if (!(error instanceof SqsApiError)) throw error;
      return reply
        .status(error.statusCode)
        .header('content-type', JSON_CONTENT_TYPE)
        .send({ __type: `com.amazonaws.sqs#${error.code}`, message: error.message });
    }
  });
}
