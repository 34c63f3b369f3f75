import { AttributeType, type Table } from 'aws-cdk-lib/aws-dynamodb';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { ACK_KEY, ACK_TTL_ATTRIBUTE } from '../lambdas/core/acks';
import { STREAM_KEY, STREAM_SEQ, STREAM_TTL_ATTRIBUTE } from '../lambdas/core/streams';
import { addEnvironment, allow, newHandlerFunction, newTable } from './builders';
import type { HistorySettings, WsNotifySettings } from './settings';

/**
 * The streams (prop `history`): every user notification and topic event kept numbered in its
 * stream, the `resume`, `history` and `ack` routes that read them, and each user stream's acked
 * position.
 */
export class StreamHistory {
  /**
   * One item per entry, partition key `stream` (`user:<tenant>:<user>` or `topic:<tenant>:<topic>`),
   * sort key `seq`, TTL `expiresAt`.
   */
  public readonly streamsTable: Table;
  /** One item per user stream: partition key `stream` (the user stream's key), `ackedSeq`, `epoch`, `ackedAt`, TTL `expiresAt`. */
  public readonly acksTable: Table;
  public readonly resume: NodejsFunction;
  public readonly history: NodejsFunction;
  /** Answered `acked`, so a client knows its position is stored; clients batch their acks. */
  public readonly ack: NodejsFunction;
  private readonly settings: HistorySettings;

  constructor(scope: Construct, settings: WsNotifySettings & { history: HistorySettings }) {
    const { logRetention, removalPolicy } = settings;
    this.settings = settings.history;
    // No index: entries are read by stream and seq only, so each costs exactly its own write.
    this.streamsTable = newTable(
      scope,
      'Streams',
      {
        partitionKey: { name: STREAM_KEY, type: AttributeType.STRING },
        sortKey: { name: STREAM_SEQ, type: AttributeType.NUMBER },
        timeToLiveAttribute: STREAM_TTL_ATTRIBUTE,
      },
      removalPolicy,
    );
    // One item per user stream, rewritten by each ack that moves it forward.
    this.acksTable = newTable(scope, 'Acks', { partitionKey: { name: ACK_KEY, type: AttributeType.STRING }, timeToLiveAttribute: ACK_TTL_ATTRIBUTE }, removalPolicy);

    const publicGrants = { PUBLIC_TOPICS: JSON.stringify(settings.publicTopics), PUBLIC_GROUPS: JSON.stringify(settings.publicGroups) };
    this.resume = newHandlerFunction(scope, 'Resume', { handler: 'resume', logRetention, environment: publicGrants });
    this.history = newHandlerFunction(scope, 'History', { handler: 'history', logRetention, environment: publicGrants });
    this.ack = newHandlerFunction(scope, 'Ack', { handler: 'ack', logRetention });
    // An ack reads its stream's newest entry (the epoch), then moves the acked position forward.
    this.grantRead(this.ack);
    this.grantMoveAcks(this.ack);
  }

  /** Append: read the stream's newest entry, put the next one. */
  grantAppend(fn: NodejsFunction): void {
    this.addStreamsEnvironment(fn);
    allow(fn, ['dynamodb:Query', 'dynamodb:PutItem'], [this.streamsTable.tableArn]);
  }

  /** Read a stream's entries (a replay, a page of history, the newest entry's epoch). */
  grantRead(fn: NodejsFunction): void {
    this.addStreamsEnvironment(fn);
    allow(fn, ['dynamodb:Query'], [this.streamsTable.tableArn]);
  }

  /** The offline fallback's check: the user's acked position, then the entry claimed and marked sent, once per notification. */
  grantCheckAcks(fn: NodejsFunction): void {
    this.addStreamsEnvironment(fn);
    addEnvironment(fn, { ACKS_TABLE_NAME: this.acksTable.tableName });
    allow(fn, ['dynamodb:GetItem'], [this.acksTable.tableArn]);
    allow(fn, ['dynamodb:UpdateItem'], [this.streamsTable.tableArn]);
  }

  private grantMoveAcks(fn: NodejsFunction): void {
    addEnvironment(fn, { ACKS_TABLE_NAME: this.acksTable.tableName });
    allow(fn, ['dynamodb:UpdateItem'], [this.acksTable.tableArn]);
  }

  /** Every function that reads or writes a stream knows its retention and the replay limit. */
  private addStreamsEnvironment(fn: NodejsFunction): void {
    addEnvironment(fn, {
      STREAMS_TABLE_NAME: this.streamsTable.tableName,
      HISTORY_TTL_SECONDS: String(this.settings.ttlSeconds),
      HISTORY_MAX_ENTRIES: String(this.settings.maxEntries),
      REPLAY_LIMIT: String(this.settings.replayLimit),
    });
  }
}
