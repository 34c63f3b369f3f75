/** One WebSocket client to open: where, and the upgrade request's headers (a bearer token, say). */
export interface SocketSpec {
  url: string;
  headers?: Record<string, string>;
}

/** What the fleet saw of one run's notification frames. Times are the fleet's clock, in epoch ms. */
export interface RunRecord {
  deliveries: number;
  duplicates: number;
  /** Receipt time minus the `sentAt` the frame carries, per delivery, in the fleet's clock. */
  latencies: Float64Array;
  firstAt: number;
  lastAt: number;
  frameBytes: number;
}

export type FleetRequest = { id: number } & (
  | { method: 'clock' }
  | { method: 'connect'; sockets: SocketSpec[]; concurrency: number }
  | { method: 'track'; runId: string }
  | { method: 'status'; runId: string }
  | { method: 'take'; runId: string }
  | { method: 'census' }
  | { method: 'closeAll' }
);

export interface FleetReply {
  id: number;
  result?: unknown;
  error?: string;
  /** Sent while a `connect` runs. */
  progress?: { opened: number; failed: number };
}
