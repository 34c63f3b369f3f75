import { Emitter } from './emitter';
import type { SubscribeOptions, Subscription, SubscriptionEvents } from './types';

/**
 * A subscription's own machine, apart from the client's:
 *
 *   subscribing → subscribed     the server confirmed it
 *   subscribed  → subscribing    a new connection (or new options) subscribes again
 *   either      → unsubscribed   the application unsubscribed, or the server refused or ended it: for good
 */
export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed';

export class TopicSubscription extends Emitter<SubscriptionEvents> implements Subscription {
  state: SubscriptionState = 'subscribing';

  constructor(
    readonly topic: string,
    public options: SubscribeOptions,
    private readonly end: (subscription: TopicSubscription) => Promise<void>,
  ) {
    super();
  }

  unsubscribe(): Promise<void> {
    return this.end(this);
  }

  /** Its one transition: false, and no change, once it ended, since nothing follows `unsubscribed`. */
  to(next: SubscriptionState): boolean {
    if (this.state === 'unsubscribed') return false;
    this.state = next;
    return true;
  }
}
