import { batchesOf } from '../../lambdas/core/enqueue';

describe('SendMessageBatch batches', () => {
  it('hold at most 10 messages', () => {
    const batches = [...batchesOf(Array.from({ length: 25 }, (_, i) => `m${i}`))];

    expect(batches.map((batch) => batch.length)).toEqual([10, 10, 5]);
  });

  it('stay within 256 KiB in all', () => {
    const body = 'x'.repeat(100 * 1024);
    const batches = [...batchesOf([body, body, body, body, body])];

    expect(batches.map((batch) => batch.length)).toEqual([2, 2, 1]);
  });

  it('keep every message, in order', () => {
    const bodies = ['a', 'x'.repeat(200 * 1024), 'b', 'x'.repeat(200 * 1024), 'c'];

    expect([...batchesOf(bodies)].flat()).toEqual(bodies);
  });

  it('are none for no messages', () => {
    expect([...batchesOf([])]).toEqual([]);
  });
});
