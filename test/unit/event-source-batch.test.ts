import { failedMessageIds } from '../../local/event-sources/sqs-poller';

const batch = ['m1', 'm2', 'm3'];
const failed = (result: unknown, report = true) => [...failedMessageIds({ result }, batch, report)].sort();

describe("which messages of a batch failed (Lambda's SQS event-source rules)", () => {
  it('fails the whole batch when the function throws', () => {
    expect([...failedMessageIds({ error: new Error('x') }, batch, true)].sort()).toEqual(batch);
    expect([...failedMessageIds({ error: new Error('x') }, batch, false)].sort()).toEqual(batch);
  });

  it('counts an empty or missing response as full success', () => {
    expect(failed(null)).toEqual([]);
    expect(failed(undefined)).toEqual([]);
    expect(failed({})).toEqual([]);
    expect(failed({ batchItemFailures: [] })).toEqual([]);
    expect(failed({ batchItemFailures: null })).toEqual([]);
  });

  it('fails exactly the reported messages', () => {
    expect(failed({ batchItemFailures: [{ itemIdentifier: 'm2' }] })).toEqual(['m2']);
  });

  it('fails the whole batch for an identifier that is empty, null or not in the batch', () => {
    expect(failed({ batchItemFailures: [{ itemIdentifier: '' }] })).toEqual(batch);
    expect(failed({ batchItemFailures: [{ itemIdentifier: null }] })).toEqual(batch);
    expect(failed({ batchItemFailures: [{ itemIdentifier: 'm9' }] })).toEqual(batch);
    expect(failed({ batchItemFailures: 'm1' })).toEqual(batch);
  });

  it('ignores batchItemFailures when the mapping does not report them', () => {
    expect(failed({ batchItemFailures: [{ itemIdentifier: 'm2' }] }, false)).toEqual([]);
  });
});
