/**
 * The metrics the functions emit (Powertools Metrics, embedded metric format) and the stack's
 * alarms and dashboard read. One namespace; the only dimensions are `service` (the stack's name,
 * so two stacks in one account never mix) and, on DeadLettered, `reason` (a fixed set of error
 * codes). Never a user, connection or topic id: each dimension value is a billed metric.
 */
export const METRICS_NAMESPACE = 'WsNotify';

export const MetricName = {
  /**
   * A NotifyUser or NotifyConnection message accepted for delivery (Count). Once per notification:
   * a NotifyUser fan-out's hand-off to the NotifyConnection queue is not counted again.
   */
  NotificationsReceived: 'NotificationsReceived',
  /** A PostToConnection that succeeded (Count). */
  DeliveriesPosted: 'DeliveriesPosted',
  /** A post answered 410: the connection was gone and its row removed (Count). */
  ConnectionsGone: 'ConnectionsGone',
  /** A delivery that failed after the SDK's retries and is tried again through its queue (Count). */
  DeliveriesRetried: 'DeliveriesRetried',
  /** Of those, the ones API Gateway throttled (429) (Count). */
  DeliveriesThrottled: 'DeliveriesThrottled',
  /** A message sent to a dead-letter queue by the code, with dimension `reason` (its ErrorCode) (Count). */
  DeadLettered: 'DeadLettered',
  /** Connections one NotifyUser notification was addressed to (Count, one datum per notification). */
  FanOutSize: 'FanOutSize',
  /** A topic event taken for fan-out: from the Publish queue, or a first page a client or the ingress sent (Count, once per event). */
  TopicEvents: 'TopicEvents',
  /** From the queue message's SentTimestamp to the end of its successful post (Milliseconds). */
  DeliveryLatency: 'DeliveryLatency',
} as const;

export type MetricName = (typeof MetricName)[keyof typeof MetricName];
