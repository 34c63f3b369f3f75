import { randomBytes } from 'node:crypto';
import { BatchWriteCommand, type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';

const BATCH = 25;
const CONCURRENT_BATCHES = 4;

/**
 * Fills a design's connection table with the rows of users who are connected but not measured (the
 * rest of the population), shaped like a row its own $connect wrote. Only the table sees them:
 * nothing ever notifies these users, so nothing posts to them; what they change is what a lookup
 * reads, which is what separates a Query of the user's index entries from a Scan of the table.
 */
export async function addBackgroundConnections(
  db: DynamoDBDocumentClient,
  tableName: string,
  rows: number,
  onProgress: (written: number) => void,
): Promise<number> {
  const { Items: [template] = [] } = await db.send(new ScanCommand({ TableName: tableName, Limit: 1 }));
  if (!template) throw new Error(`${tableName} has no row to shape the background connections on`);
  let next = 0;
  let written = 0;
  const writer = async () => {
    while (next < rows) {
      const from = next;
      next = Math.min(rows, next + BATCH);
      const count = next - from;
      let requests = Array.from({ length: count }, (_, index) => ({
        PutRequest: {
          Item: {
            ...template,
            // API Gateway connection ids are 16 base64 characters.
            connectionId: randomBytes(12).toString('base64'),
            userId: `background-u${Math.floor((from + index) / 2)}`,
          },
        },
      }));
      while (requests.length > 0) {
        const { UnprocessedItems } = await db.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
        requests = (UnprocessedItems?.[tableName] ?? []) as typeof requests;
      }
      written += count;
      onProgress(written);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT_BATCHES }, writer));
  return written;
}
