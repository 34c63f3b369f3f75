import type { IncomingMessage } from 'node:http';

/**
 * The request's body, or undefined if it is longer than `maxBytes`. An oversized body is still
 * read to its end (and dropped), so that the client, still sending, receives the refusal.
 */
export async function readBodyWithin(request: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request) {
    length += (chunk as Buffer).length;
    if (length <= maxBytes) chunks.push(chunk as Buffer);
  }
  return length <= maxBytes ? Buffer.concat(chunks) : undefined;
}
