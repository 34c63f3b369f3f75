import { DIRECT_DELIVERY_MAX_CONNECTIONS } from '../../lambdas/core/fan-out';
import type { NotifyConnectionMessage } from '../../lambdas/core/messages';
import { EmfCapture, sumOf } from '../support/emf';
import { type DeliveryUnderTest, type SqsHandler, startDeliveryUnderTest } from '../support/delivery-under-test';
import { RecordingConnections } from '../support/management-api-server';
import { drain, enqueue, type StackUnderTest, takeAll } from '../support/stack-under-test';

let delivery: DeliveryUnderTest;
let stack: StackUnderTest;
let emf: EmfCapture;
const clients = new RecordingConnections();
let notifyUser: SqsHandler;
let notifyConnection: SqsHandler;

beforeAll(async () => {
  delivery = await startDeliveryUnderTest('ws-notify-hand-off-test', clients);
  ({ stack, emf, notifyUser, notifyConnection } = delivery);
}, 60_000);

afterAll(async () => {
  await delivery?.stop();
});

beforeEach(() => emf.take());

const connectAs = (userId: string, connectionId: string) => delivery.connectAs(userId, connectionId);

/** Delivers the messages through NotifyConnection: the frames each connection got, and how many notifications were counted as received. */
async function delivered(...messages: object[]): Promise<{ received: number }> {
  await enqueue(stack.sqs, stack.notifyConnection.url, ...messages.map((message) => JSON.stringify(message)));
  expect(await drain(stack, stack.notifyConnection, notifyConnection)).toMatchObject({ failedMessageIds: [] });
  return { received: sumOf(emf.take(), 'NotificationsReceived') };
}

describe("the NotifyUser fan-out's hand-off to the NotifyConnection queue", () => {
  it('says it is a hand-off, with the notification as the fan-out dated it', async () => {
    const ids = Array.from({ length: DIRECT_DELIVERY_MAX_CONNECTIONS + 1 }, (_, n) => `conn-hana-${n}`);
    for (const id of ids) await connectAs('hana', id);

    await enqueue(stack.sqs, stack.notifyUser.url, JSON.stringify({ userId: 'hana', id: 'n-hana', data: { text: 'hi' } }));
    await drain(stack, stack.notifyUser, notifyUser);
    const handedOff = (await takeAll(stack.sqs, stack.notifyConnection.url)).map((message) => JSON.parse(message.Body as string) as NotifyConnectionMessage);

    expect(handedOff).toHaveLength(ids.length);
    for (const message of handedOff) {
      expect(message).toEqual({ connectionId: expect.any(String), handOff: true, id: 'n-hana', time: expect.any(String), data: { text: 'hi' } });
    }
  });

  it('is delivered with its id and time, and not counted as received again', async () => {
    await connectAs('ivo', 'conn-ivo');
    const time = '2026-12-01T10:00:00.000Z';

    const { received } = await delivered({ connectionId: 'conn-ivo', handOff: true, id: 'n-ivo', time, data: 1 });

    expect(clients.framesOf('conn-ivo')).toEqual([{ type: 'notification', id: 'n-ivo', time, data: 1 }]);
    expect(received).toBe(0);
  });

  it('is still taken for a hand-off in the shape before handOff (a time, no handOff), for messages already in the queue at a deploy', async () => {
    await connectAs('jo', 'conn-jo');
    const time = '2026-12-01T11:00:00.000Z';

    const { received } = await delivered({ connectionId: 'conn-jo', id: 'n-jo', time, data: 2 });

    expect(clients.framesOf('conn-jo')).toEqual([{ type: 'notification', id: 'n-jo', time, data: 2 }]);
    expect(received).toBe(0);
  });
});

describe("a backend's own NotifyConnection message", () => {
  it('is unchanged: {"connectionId","data"} is counted as received here, dated and named by SQS', async () => {
    await connectAs('kit', 'conn-kit');
    const before = Date.now();

    const { received } = await delivered({ connectionId: 'conn-kit', data: 3 });

    const [frame] = clients.framesOf('conn-kit') as [{ id: string; time: string }];
    expect(frame).toEqual({ type: 'notification', id: expect.any(String), time: expect.any(String), data: 3 });
    expect(Date.parse(frame.time)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);
    expect(received).toBe(1);
  });

  it('is dead-lettered with a handOff that is not true, as with any field of the wrong type', async () => {
    await connectAs('lou', 'conn-lou');

    await delivered({ connectionId: 'conn-lou', handOff: 'yes', data: 4 });

    expect(clients.framesOf('conn-lou')).toEqual([]);
    const [deadLetter] = await takeAll(stack.sqs, stack.notifyConnection.deadLetterUrl);
    expect(deadLetter?.MessageAttributes?.['ErrorCode']?.StringValue).toBe('invalid_message');
  });
});
