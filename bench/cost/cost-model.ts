/**
 * What a million notifications cost on AWS, from what one design's delivery path was measured to do
 * per notification. The formulas are written out in docs/performance.md; every price comes from
 * bench/cost/prices.json.
 */

export interface Prices {
  apiGatewayWebSocket: { messagesPerMillion: number; connectionMinutesPerMillion: number; messageMeteringBytes: number };
  sqs: { standardRequestsPerMillion: number; requestChunkBytes: number };
  lambda: { requestsPerMillion: number; arm64GbSecond: number };
  dynamodb: {
    onDemandReadRequestUnitsPerMillion: number;
    onDemandWriteRequestUnitsPerMillion: number;
    readUnitBytes: number;
    eventuallyConsistentReadFactor: number;
    scanPageBytes: number;
  };
  cloudwatchLogs: { ingestionPerGb: number; lambdaSystemLogBytesPerInvocation: number };
}

/** One design's delivery path in one measured window (the functions fed by its queues). */
export interface MeasuredDeliveryPath {
  /** NotifyUser messages sent in the window. */
  notifications: number;
  deliveries: number;
  /** Mean size of a delivered frame. */
  frameBytes: number;
  /** SDK commands the delivery-path functions sent, by `Service.Operation`. */
  functionCommands: Record<string, number>;
  /** Requests Lambda's event-source mappings make on the function's behalf (ReceiveMessage, DeleteMessageBatch). */
  eventSourceRequests: number;
  invocations: number;
  /** Sum over invocations of the duration rounded up to the ms, as Lambda bills it. */
  billedMs: number;
  memoryMb: number;
  /** Of `billedMs`: time spent waiting on Scan responses, which grows with the table. */
  scanWaitMs: number;
  /** What the functions logged (their own lines; Lambda adds START, END and REPORT lines of its own). */
  logBytes: number;
  /**
   * Of `DynamoDB.Query`, the strongly consistent ones: a stream append reads its stream's newest entry
   * (one item, of about the frame's size) before it writes. The rest find connections. Absent: none.
   */
  consistentQueries?: number;
}

/** How the delivery path finds a user's connections, which decides its DynamoDB reads. */
export type ConnectionLookup =
  /** A Query of a GSI (always eventually consistent) that reads the user's index entries only. */
  | { kind: 'query'; indexEntryBytes: number }
  /** A Scan of the whole table (eventually consistent by default) per notification, measured at `rowsMeasured` rows. */
  | { kind: 'scan'; itemBytes: number; rowsMeasured: number };

/** Who is connected: `users`, each with `connectionsPerUser` open connections (one table row each). */
export interface Scenario {
  users: number;
  connectionsPerUser: number;
}

export interface CostBreakdown {
  /** Dollars per million notifications, by line; `totalUsd` is their sum. */
  lines: {
    apiGatewayMessages: number;
    sqsRequests: number;
    lambdaRequests: number;
    lambdaDuration: number;
    /** The connection lookup (eventually consistent). */
    dynamodbReads: number;
    /** The stream appends' reads of the newest entry (strongly consistent). */
    dynamodbStreamReads: number;
    dynamodbWrites: number;
  };
  totalUsd: number;
  /** The quantities behind the lines, per notification. */
  perNotification: {
    apiGatewayMessages: number;
    sqsRequests: number;
    lambdaInvocations: number;
    lambdaGbSeconds: number;
    readRequestUnits: number;
    /** Of `readRequestUnits`, the stream appends'. */
    streamReadRequestUnits: number;
    writeRequestUnits: number;
    /** SDK commands the functions send (Scan pages scaled to the scenario's table). */
    functionCalls: number;
  };
}

const MILLION = 1_000_000;

/** Read request units of one eventually consistent read of `bytes` (Query: the items read, summed, rounded up to 4 KB). */
export function eventuallyConsistentReadUnits(bytes: number, prices: Prices['dynamodb']): number {
  return Math.max(1, Math.ceil(bytes / prices.readUnitBytes)) * prices.eventuallyConsistentReadFactor;
}

/** Read request units of one strongly consistent read of `bytes`: one per 4 KB, rounded up. */
export function stronglyConsistentReadUnits(bytes: number, prices: Prices['dynamodb']): number {
  return Math.max(1, Math.ceil(bytes / prices.readUnitBytes));
}

/** Pages and read units of one Scan of a table of `tableBytes` (each page reads up to 1 MB, rounded up to 4 KB). */
export function scanOfTable(tableBytes: number, prices: Prices['dynamodb']): { pages: number; readUnits: number } {
  const pages = Math.max(1, Math.ceil(tableBytes / prices.scanPageBytes));
  const fullPages = Math.floor(tableBytes / prices.scanPageBytes);
  const lastPageBytes = tableBytes - fullPages * prices.scanPageBytes;
  const unitsPerFullPage = Math.ceil(prices.scanPageBytes / prices.readUnitBytes);
  const units = fullPages * unitsPerFullPage + (lastPageBytes > 0 || fullPages === 0 ? Math.max(1, Math.ceil(lastPageBytes / prices.readUnitBytes)) : 0);
  return { pages, readUnits: units * prices.eventuallyConsistentReadFactor };
}

/** DynamoDB's item size: attribute names plus values (strings as UTF-8, numbers ~1 byte per 2 digits + 1). */
export function dynamoDbItemBytes(item: Record<string, unknown>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name);
    if (typeof value === 'string') bytes += Buffer.byteLength(value);
    else if (typeof value === 'number') bytes += Math.ceil(String(Math.abs(value)).replace(/[.-]/g, '').replace(/^0+/, '').length / 2) + 1;
    else if (typeof value === 'boolean' || value === null) bytes += 1;
    else bytes += Buffer.byteLength(JSON.stringify(value));
  }
  return bytes;
}

/** The cost of a million notifications in `scenario`, for a design measured as `path`. */
export function costPerMillionNotifications(
  path: MeasuredDeliveryPath,
  lookup: ConnectionLookup,
  scenario: Scenario,
  prices: Prices,
): CostBreakdown {
  if (path.notifications <= 0) throw new Error('the measured window sent no notifications');
  const per = (count: number) => count / path.notifications;
  const commands = path.functionCommands;
  const sumOf = (prefix: string, exclude: string[] = []) =>
    Object.entries(commands)
      .filter(([operation]) => operation.startsWith(prefix) && !exclude.includes(operation))
      .reduce((total, [, count]) => total + count, 0);

  // API Gateway bills each delivered frame in 32 KB units.
  const messagesPerDelivery = Math.max(1, Math.ceil(path.frameBytes / prices.apiGatewayWebSocket.messageMeteringBytes));
  const apiGatewayMessages = per(path.deliveries) * messagesPerDelivery;

  // Every SQS request the path makes or causes (payloads here are far below the 64 KB chunk).
  const sqsRequests = per(sumOf('SQS.') + path.eventSourceRequests);

  // DynamoDB: the connection lookup, then any writes (a gone connection's DeleteItem).
  const tableRows = scenario.users * scenario.connectionsPerUser;
  let readRequestUnits: number;
  let lookupCalls: number;
  let billedMsPerNotification = per(path.billedMs);
  const consistentQueries = per(path.consistentQueries ?? 0);
  const streamReadRequestUnits = consistentQueries * stronglyConsistentReadUnits(path.frameBytes, prices.dynamodb);
  if (lookup.kind === 'query') {
    const queries = per(commands['DynamoDB.Query'] ?? 0) - consistentQueries;
    readRequestUnits = queries * eventuallyConsistentReadUnits(scenario.connectionsPerUser * lookup.indexEntryBytes, prices.dynamodb);
    lookupCalls = queries;
  } else {
    const scan = scanOfTable(tableRows * lookup.itemBytes, prices.dynamodb);
    readRequestUnits = scan.readUnits;
    lookupCalls = scan.pages;
    // Waiting on the Scan grows with the table; the rest of the work does not.
    const scanWaitPerNotification = per(path.scanWaitMs);
    billedMsPerNotification += scanWaitPerNotification * (tableRows / Math.max(1, lookup.rowsMeasured) - 1);
  }
  const writeRequestUnits = per(sumOf('DynamoDB.', ['DynamoDB.Query', 'DynamoDB.Scan', 'DynamoDB.GetItem', 'DynamoDB.BatchGetItem']));

  const lambdaInvocations = per(path.invocations);
  const lambdaGbSeconds = (billedMsPerNotification / 1000) * (path.memoryMb / 1024);
  const functionCalls =
    per(Object.values(commands).reduce((total, count) => total + count, 0)) -
    per(commands['DynamoDB.Query'] ?? 0) -
    per(commands['DynamoDB.Scan'] ?? 0) +
    lookupCalls +
    consistentQueries;

  const lines = {
    apiGatewayMessages: apiGatewayMessages * prices.apiGatewayWebSocket.messagesPerMillion,
    sqsRequests: sqsRequests * prices.sqs.standardRequestsPerMillion,
    lambdaRequests: lambdaInvocations * prices.lambda.requestsPerMillion,
    lambdaDuration: lambdaGbSeconds * prices.lambda.arm64GbSecond * MILLION,
    dynamodbReads: readRequestUnits * prices.dynamodb.onDemandReadRequestUnitsPerMillion,
    dynamodbStreamReads: streamReadRequestUnits * prices.dynamodb.onDemandReadRequestUnitsPerMillion,
    dynamodbWrites: writeRequestUnits * prices.dynamodb.onDemandWriteRequestUnitsPerMillion,
  };
  return {
    lines: Object.fromEntries(Object.entries(lines).map(([line, usd]) => [line, roundUsd(usd)])) as CostBreakdown['lines'],
    totalUsd: roundUsd(Object.values(lines).reduce((total, usd) => total + usd, 0)),
    perNotification: {
      apiGatewayMessages: round4(apiGatewayMessages),
      sqsRequests: round4(sqsRequests),
      lambdaInvocations: round4(lambdaInvocations),
      lambdaGbSeconds: round6(lambdaGbSeconds),
      readRequestUnits: round4(readRequestUnits + streamReadRequestUnits),
      streamReadRequestUnits: round4(streamReadRequestUnits),
      writeRequestUnits: round4(writeRequestUnits),
      functionCalls: round4(functionCalls),
    },
  };
}

/** Connection time is billed whatever is sent: every connection, every minute it is open (30-day month). */
export function connectionMinutesPerMonthUsd(scenario: Scenario, prices: Prices): number {
  const minutes = scenario.users * scenario.connectionsPerUser * 30 * 24 * 60;
  return roundUsd((minutes / MILLION) * prices.apiGatewayWebSocket.connectionMinutesPerMillion);
}

/** A backend's own SendMessage per notification: the same for any queue-fed design, shown apart from it. */
export function backendEnqueuePerMillionUsd(prices: Prices): number {
  return roundUsd(prices.sqs.standardRequestsPerMillion);
}

function roundUsd(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

function round4(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

function round6(value: number): number {
  return Math.round(value * 1_000_000) / 1_000_000;
}

/** CloudWatch Logs ingestion of what the functions and Lambda log, per million notifications: outside the totals. */
export function logIngestionPerMillionUsd(path: MeasuredDeliveryPath, prices: Prices): number {
  const { ingestionPerGb, lambdaSystemLogBytesPerInvocation } = prices.cloudwatchLogs;
  const bytes = path.logBytes + path.invocations * lambdaSystemLogBytesPerInvocation;
  return roundUsd(((bytes / path.notifications) * MILLION * ingestionPerGb) / 1e9);
}

/** What the keepalive model takes: the sweep's period and what one post of it costs. */
export interface KeepaliveModel {
  /** A keepalive connection is posted to once per period. */
  periodMinutes: number;
  /** Sweep time one post takes, in ms: a management-API round trip shared by the posts in flight. */
  postMs: number;
  memoryMb: number;
  /** A keepalive index entry (the table's key, the slot, the projected `expiresAt`), which the sweep's Query reads. */
  indexEntryBytes: number;
  /** Index partitions the sweep Queries each minute, and the time a run with nothing to post takes. */
  queriesPerRun: number;
  idleRunMs: number;
}

export interface KeepaliveCost {
  /** Keepalive frames one connection open all month gets. */
  keepalivesPerConnectionMonth: number;
  /** Dollars per connection-month, by line; `totalUsd` is their sum. */
  perConnectionMonth: { apiGatewayMessages: number; lambdaDuration: number; dynamodbReads: number; totalUsd: number };
  /** The same connection's connection minutes, for scale: what it costs open without keepalives. */
  connectionMinutesUsd: number;
  /** The schedule itself, per stack and month whoever is connected: a run a minute, its Queries, its idle time. */
  schedulePerMonthUsd: number;
}

const MINUTES_PER_MONTH = 30 * 24 * 60;

/**
 * What server keepalives cost: each keepalive connection is one PostToConnection per period (a
 * 32 KB-metered message), a share of the sweep's duration and of its Query's read units; the sweep
 * runs every minute whether or not anyone asked.
 */
export function keepaliveCost(model: KeepaliveModel, prices: Prices): KeepaliveCost {
  const keepalives = MINUTES_PER_MONTH / model.periodMinutes;
  const gbSecondUsd = (ms: number) => (ms / 1000) * (model.memoryMb / 1024) * prices.lambda.arm64GbSecond;
  // A Query reads its entries summed and rounded up to 4 KB: one entry's share of a full page.
  const readUnitsPerEntry = (model.indexEntryBytes / prices.dynamodb.readUnitBytes) * prices.dynamodb.eventuallyConsistentReadFactor;
  const perConnectionMonth = {
    apiGatewayMessages: (keepalives / MILLION) * prices.apiGatewayWebSocket.messagesPerMillion,
    lambdaDuration: keepalives * gbSecondUsd(model.postMs),
    dynamodbReads: ((keepalives * readUnitsPerEntry) / MILLION) * prices.dynamodb.onDemandReadRequestUnitsPerMillion,
  };
  const runs = MINUTES_PER_MONTH;
  const schedule =
    (runs / MILLION) * prices.lambda.requestsPerMillion +
    runs * gbSecondUsd(model.idleRunMs) +
    ((runs * model.queriesPerRun * eventuallyConsistentReadUnits(0, prices.dynamodb)) / MILLION) * prices.dynamodb.onDemandReadRequestUnitsPerMillion;
  return {
    keepalivesPerConnectionMonth: keepalives,
    perConnectionMonth: {
      apiGatewayMessages: round6(perConnectionMonth.apiGatewayMessages),
      lambdaDuration: round6(perConnectionMonth.lambdaDuration),
      dynamodbReads: round6(perConnectionMonth.dynamodbReads),
      totalUsd: round6(Object.values(perConnectionMonth).reduce((total, usd) => total + usd, 0)),
    },
    connectionMinutesUsd: round6((MINUTES_PER_MONTH / MILLION) * prices.apiGatewayWebSocket.connectionMinutesPerMillion),
    schedulePerMonthUsd: round4(schedule),
  };
}

/**
 * One stream append per notification, as test/integration/stream-costs.test.ts counts it at 2
 * connections per user, one notification per user at a time: one strongly consistent Query (the
 * stream's newest entry) and one PutItem (the entry, a conditional put). A burst to one user costs
 * more: every lost append race is one more of each.
 */
export const STREAM_APPEND_PER_NOTIFICATION = { consistentQueries: 1, putItems: 1 } as const;

/**
 * `path` as it would be with streams off (its appends taken out: every PutItem of the delivery path
 * is an append, and each follows one consistent Query) and with streams on (one uncontended append
 * per notification instead). Lambda duration stays as measured in both.
 */
export function streamsOffAndOn(path: MeasuredDeliveryPath): { off: MeasuredDeliveryPath; on: MeasuredDeliveryPath } {
  const appends = path.functionCommands['DynamoDB.PutItem'] ?? 0;
  const rest = Object.fromEntries(Object.entries(path.functionCommands).filter(([command]) => command !== 'DynamoDB.PutItem'));
  const offCommands = { ...rest, 'DynamoDB.Query': (rest['DynamoDB.Query'] ?? 0) - (path.consistentQueries ?? appends) };
  const added = (count: number) => count * path.notifications;
  return {
    off: { ...path, functionCommands: offCommands, consistentQueries: 0 },
    on: {
      ...path,
      functionCommands: {
        ...offCommands,
        'DynamoDB.Query': (offCommands['DynamoDB.Query'] ?? 0) + added(STREAM_APPEND_PER_NOTIFICATION.consistentQueries),
        'DynamoDB.PutItem': added(STREAM_APPEND_PER_NOTIFICATION.putItems),
      },
      consistentQueries: added(STREAM_APPEND_PER_NOTIFICATION.consistentQueries),
    },
  };
}
