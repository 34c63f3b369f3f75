export { createClient } from './client';
export type {
  ClientEvents,
  ClientOptions,
  ClientState,
  Notification,
  Recovered,
  SubscribeOptions,
  Subscription,
  SubscriptionEvents,
  TopicEvent,
  WsNotifyClient,
} from './types';
export type { Clock } from './clock';
export { WsNotifyError, type ClientErrorCode } from './errors';
export type * from './protocol';
export type { WebSocketConstructor, WebSocketLike } from './socket';
export type { Gap } from './streams';
