import { AckTable, type AckedPosition } from '../../lambdas/core/acks';
import { USER_STREAM } from '../../lambdas/core/frames';
import { type StreamEntry, StreamTable, userStreamKey } from '../../lambdas/core/streams';
import { documentClientFor } from '../clients';
import { type HelpCommandLine, parseOptions, required, type TargetOptions, targetOf, untenantedStream } from '../options';
import { streamOutput, type Target } from '../target';
import { TARGET_HELP } from '../usage';

const STREAMS_USAGE = `Usage: ws-notify streams --user <id> [--tenant <t>] [target]

Shows the user's stream, one JSON line: its last seq and epoch, the seq its connections acked
({"action":"ack"}; null if none has, in this epoch) and how many entries after it are unacked.
Topic streams are shared by their subscribers and have no per-user ack: they are not listed.

Options:
  --user <id>    the user
  --tenant <t>   the user's tenant, in a multi-tenant stack

${TARGET_HELP}`;

export type StreamsCommandLine = { command: 'streams'; target: TargetOptions; userId: string; tenant?: string };

export function parseStreams(args: string[]): StreamsCommandLine | HelpCommandLine {
  const values = parseOptions(args, STREAMS_USAGE, ['user', 'tenant']);
  if (values.help) return { command: 'help', text: STREAMS_USAGE };
  return {
    command: 'streams',
    target: targetOf(values),
    userId: required(values.user, '--user', STREAMS_USAGE),
    ...(values.tenant !== undefined && { tenant: required(values.tenant, '--tenant', STREAMS_USAGE) }),
  };
}

/** Every stream of a multi-tenant stack is in a tenant. */
export function checkStreamsTenancy({ tenant }: StreamsCommandLine, tenantClaim: string): void {
  if (tenant === undefined) throw untenantedStream(tenantClaim, STREAMS_USAGE);
}

/** `streams`: the user stream's last seq, acked seq and unacked count (topic streams have no per-user ack). */
export async function printStreams(target: Target, userId: string, tenant: string | undefined): Promise<void> {
  const streamsTable = streamOutput(target, 'StreamsTableName', 'streams');
  const acksTable = streamOutput(target, 'AcksTableName', 'streams');
  const db = documentClientFor(target);
  try {
    const key = userStreamKey(userId, tenant);
    const streams = new StreamTable(db, streamsTable, { ttlSeconds: 0, maxEntries: Number.MAX_SAFE_INTEGER });
    const [newest, acked] = await Promise.all([streams.newest(key), new AckTable(db, acksTable, 0).position(key)]);
    console.log(JSON.stringify({ userId, ...(tenant !== undefined && { tenant }), stream: USER_STREAM, ...streamState(newest, acked) }));
  } finally {
    db.destroy();
  }
}

/** Where a stream stands for its user: an ack of another epoch acks nothing of this one. */
export function streamState(newest: Pick<StreamEntry, 'seq' | 'epoch' | 'epochStart'> | undefined, acked: AckedPosition | undefined) {
  if (newest === undefined) return { lastSeq: 0, epoch: null, ackedSeq: null, unacked: 0 };
  const ackedSeq = acked !== undefined && acked.epoch === newest.epoch ? acked.ackedSeq : null;
  return { lastSeq: newest.seq, epoch: newest.epoch, ackedSeq, unacked: newest.seq - Math.max(ackedSeq ?? 0, newest.epochStart - 1) };
}
