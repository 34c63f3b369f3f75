import { topicStream, USER_STREAM } from '../../lambdas/core/frames';
import { type StreamEntry, StreamTable, topicStreamKey, userStreamKey } from '../../lambdas/core/streams';
import { documentClientFor } from '../clients';
import { type HelpCommandLine, parseOptions, required, type TargetOptions, targetOf, untenantedStream, UsageError } from '../options';
import { streamOutput, type Target } from '../target';
import { TARGET_HELP } from '../usage';

/** A stream as the CLI names it: a user's, or a topic's (each in a tenant, in a multi-tenant stack). */
export type StreamName = ({ userId: string } | { topic: string }) & { tenant?: string };

/** `history` prints at most this many entries unless `--limit` says otherwise. */
export const DEFAULT_HISTORY_LIMIT = 20;
const MAX_HISTORY_LIMIT = 10_000;

const HISTORY_USAGE = `Usage: ws-notify history (--user <id> | --topic <t>) [--tenant <t>] [--limit <n>] [target]

Prints the newest entries the stream still keeps (of its current epoch, not expired), oldest
first, one JSON line each: the stream, seq, epoch, when it was appended, and the frame's content
(a notification's id, time and data; a topic event). Needs a stack with history.

Options:
  --user <id>    the user's stream (what its connections call "user")
  --topic <t>    the topic's stream ("topic:<t>"), instead of a user's
  --tenant <t>   the stream's tenant, in a multi-tenant stack
  --limit <n>    at most this many entries (default ${DEFAULT_HISTORY_LIMIT})

${TARGET_HELP}`;

export type HistoryCommandLine = { command: 'history'; target: TargetOptions; stream: StreamName; limit: number };

export function parseHistory(args: string[]): HistoryCommandLine | HelpCommandLine {
  const values = parseOptions(args, HISTORY_USAGE, ['user', 'topic', 'tenant', 'limit']);
  if (values.help) return { command: 'help', text: HISTORY_USAGE };
  if ((values.user === undefined) === (values.topic === undefined)) throw new UsageError('history takes exactly one of --user and --topic', HISTORY_USAGE);
  let limit = DEFAULT_HISTORY_LIMIT;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!/^\d+$/.test(values.limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
      throw new UsageError(`--limit takes a whole number from 1 to ${MAX_HISTORY_LIMIT}, got "${values.limit}"`, HISTORY_USAGE);
    }
  }
  const tenant = values.tenant === undefined ? {} : { tenant: required(values.tenant, '--tenant', HISTORY_USAGE) };
  const stream: StreamName =
    values.user !== undefined ? { userId: required(values.user, '--user', HISTORY_USAGE), ...tenant } : { topic: required(values.topic, '--topic', HISTORY_USAGE), ...tenant };
  return { command: 'history', target: targetOf(values), stream, limit };
}

/** Every stream of a multi-tenant stack is in a tenant. */
export function checkHistoryTenancy({ stream }: HistoryCommandLine, tenantClaim: string): void {
  if (stream.tenant === undefined) throw untenantedStream(tenantClaim, HISTORY_USAGE);
}

/** `history`: the stream's newest retained entries, oldest first, one JSON line each. */
export async function printHistory(target: Target, stream: StreamName, limit: number): Promise<void> {
  const tableName = streamOutput(target, 'StreamsTableName', 'history');
  const db = documentClientFor(target);
  try {
    // What readers skip (expired, an earlier epoch) is skipped here; historyMaxEntries is the stack's, not known here.
    const streams = new StreamTable(db, tableName, { ttlSeconds: 0, maxEntries: Number.MAX_SAFE_INTEGER });
    const key = 'userId' in stream ? userStreamKey(stream.userId, stream.tenant) : topicStreamKey(stream.topic, stream.tenant);
    const newest = await streams.newest(key);
    if (newest === undefined) return;
    const entries = (await streams.newestFrom(key, newest.epochStart, limit)).filter((entry) => streams.isRetained(entry, newest));
    const name = 'userId' in stream ? USER_STREAM : topicStream(stream.topic);
    for (const entry of entries.reverse()) console.log(JSON.stringify(describeEntry(name, entry)));
  } finally {
    db.destroy();
  }
}

function describeEntry(stream: string, { seq, epoch, appendedAt, content }: StreamEntry) {
  return { stream, seq, epoch, appendedAt: new Date(appendedAt).toISOString(), ...(JSON.parse(content) as object) };
}
