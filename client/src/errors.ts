import type { ErrorCode } from './protocol';

export type ClientErrorCode =
  | ErrorCode
  /** The server refused the upgrade (HTTP status in the message), or it failed in a way a retry cannot fix. */
  | 'upgrade_refused'
  /** The connection closed before the server answered; a publish is sent again, other requests fail. */
  | 'connection_lost'
  | 'timeout'
  /** `close()` was called, or the client stopped for good. */
  | 'client_closed'
  | 'outbox_full'
  /** A refresh's grants no longer cover the subscription: the server ended it. */
  | 'grant_revoked'
  /** The token function threw or returned something other than a string. */
  | 'token_unavailable';

export class WsNotifyError extends Error {
  override readonly name = 'WsNotifyError';
  /** For `upgrade_refused`: the HTTP status the server answered the upgrade with, where the WebSocket implementation tells it. */
  readonly status?: number;

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    /** The client stopped because of it and will not reconnect. */
    readonly fatal = false,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    if (options.status !== undefined) this.status = options.status;
  }
}
