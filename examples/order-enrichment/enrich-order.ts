import type { CloudEvent } from '../../lambdas/core/topics';

/** Stands in for the shop's order service, which the enrichment would call. */
const ORDERS: Record<string, { customerId: string; lines: { sku: string; quantity: number }[]; total: string }> = {
  'o-1001': { customerId: 'alice', lines: [{ sku: 'mug', quantity: 2 }], total: '€24.00' },
  'o-1002': { customerId: 'bob', lines: [{ sku: 'tea', quantity: 1 }, { sku: 'mug', quantity: 1 }], total: '€19.50' },
};

/**
 * The enrichment function for topic `orders`: ws-notify invokes it with each event and delivers
 * what it returns. An `order.created` carrying only an order id comes back with the order's lines
 * and a message, addressed to the customer who placed it.
 */
export const handler = async ({ event }: { topic: string; event: CloudEvent }): Promise<{ event: CloudEvent; userId?: string }> => {
  const orderId = (event.data as { orderId?: unknown } | undefined)?.orderId;
  const order = typeof orderId === 'string' ? ORDERS[orderId] : undefined;
  // Unknown orders go to the topic's subscribers as they came (the shop's back office, say).
  if (event.type !== 'order.created' || typeof orderId !== 'string' || order === undefined) return { event };
  return {
    event: { ...event, data: { orderId, lines: order.lines, total: order.total, message: `Thank you! Order ${orderId} (${order.total}) is confirmed.` } },
    userId: order.customerId,
  };
};
