import type { Timer } from './clock';
import type { Connection } from './connection';

/**
 * Where the client is, with what it holds there: its connections (each with its socket and its own
 * timers) and the one timer that ends the phase, cleared when it ends otherwise. docs/client.md draws it.
 */
export type Phase =
  /** No connection has opened yet: `connection` fetches its token and upgrades, or `timer` waits to try again. */
  | { name: 'connecting'; connection?: Connection; timer?: Timer }
  /** `connection` carries the session; `timer` starts a handover before the server's lifetime cap (none after a failed one). */
  | { name: 'open'; connection: Connection; timer?: Timer }
  /** `connection` still carries the session while `successor` opens, subscribes and resumes; `timer` is its deadline. */
  | { name: 'handing over'; connection: Connection; successor: Connection; timer: Timer }
  /** The connection was lost: `timer` waits out the backoff, then `connection` fetches its token and upgrades. */
  | { name: 'reconnecting'; connection?: Connection; timer?: Timer }
  /** For good: `closing` resolves once every socket closed. */
  | { name: 'closed'; closing: Promise<void>; timer?: undefined };

export type PhaseName = Phase['name'];

/**
 * Every transition there is, as docs/client.md draws it: a phase only ever becomes one listed for it;
 * one listed for itself takes a step within it (a retry waited out, a token function that failed).
 * The tests hold the client to it (client/test/phase.test.ts); the browser bundle does not carry it.
 */
export const TRANSITIONS: { readonly [From in PhaseName]: readonly PhaseName[] } = {
  connecting: ['connecting', 'open', 'reconnecting', 'closed'],
  open: ['handing over', 'reconnecting', 'closed'],
  'handing over': ['open', 'reconnecting', 'closed'],
  reconnecting: ['reconnecting', 'open', 'closed'],
  closed: [],
};

/** The connections a phase holds: the one it carries, and during a handover the successor too. */
export function connectionsOf(phase: Phase): Connection[] {
  if (phase.name === 'closed') return [];
  if (phase.name === 'handing over') return [phase.connection, phase.successor];
  return phase.connection === undefined ? [] : [phase.connection];
}

/**
 * What leaving `from` for `to` ends: the timer of `from`, cleared here, and the connections `to`
 * does not hold, returned for the client to close. The client's `#transition` calls it on every
 * phase change.
 */
export function leave(from: Phase, to: Phase): Connection[] {
  from.timer?.clear();
  const kept = connectionsOf(to);
  return connectionsOf(from).filter((connection) => !kept.includes(connection));
}
