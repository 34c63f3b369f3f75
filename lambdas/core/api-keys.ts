import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, paginateQuery, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { CredentialError, MAX_EXPIRY_SECONDS, tenantProblem, userIdProblem } from './auth';
import {
  authorizerContext,
  authorizerPolicy,
  authorizerResultBytes,
  LONGEST_CONNECT_METHOD_ARN,
  MAX_AUTHORIZER_RESULT_BYTES,
} from './authorizer-result';
import { type ApiKeyIdentity, type CredentialGrants, credentialGrantsOf } from './identity';
import { autoSubscribeFrom, autoSubscriptionParts, grantFrom, groupGrantFrom, mayAccess, mayJoin } from './topics';
import { minuteBucket, minuteBucketsBetween } from './minute-buckets';

/**
 * An API key is `wsn_<keyId>_<secret>`: the id finds the row with one GetItem, the secret (32
 * random bytes) is checked against its SHA-256, the only form in which it is stored. A slow
 * password hash buys nothing for a secret of 256 random bits.
 */
const KEY_PATTERN = /^wsn_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** Longer values are refused unread. */
export const MAX_API_KEY_CHARS = 128;

/** `connect` keys open WebSocket connections; `publish` keys post events over HTTP. */
export const API_KEY_SCOPES = ['connect', 'publish'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** The GSI that lists a user's keys (partition key `userId`, sort key `createdAt`). */
export const KEY_USER_INDEX = 'byUser';
/** Projected into that index when it was made; `keysOf` reads each key's row, which has every grant. */
export const KEY_USER_INDEX_ATTRIBUTES = ['tenant', 'scope', 'expiresAt', 'revokedAt', 'topics', 'publishTopics'];
/** The GSI that finds keys revoked in a given minute (`revocationBucket`), for the sweep that closes their connections. */
export const REVOCATION_INDEX = 'byRevocation';

/** A key's row. Its grants are a token's claims of the same names. */
export interface ApiKey extends CredentialGrants {
  keyId: string;
  userId: string;
  tenant?: string;
  scope: ApiKeyScope;
  /** Epoch seconds, as are the times below. */
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
}

export interface NewApiKey extends CredentialGrants {
  userId: string;
  tenant?: string;
  scope: ApiKeyScope;
  expiresAt?: number;
}

/** The API keys table: one row per key, by id; by user through a GSI; recently revoked ones through another. */
export class ApiKeyTable {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Stores a new key and returns it: the only time its secret exists outside the client. */
  async create(key: NewApiKey, nowSeconds = Math.floor(Date.now() / 1000)): Promise<{ apiKey: string; record: ApiKey }> {
    checkNewApiKey(key, nowSeconds);
    const keyId = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record: ApiKey = { keyId, ...key, createdAt: nowSeconds };
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...record, secretHash: sha256(secret) },
        // 64 random bits do not collide in practice; if they ever do, the write fails rather than replacing a key.
        ConditionExpression: 'attribute_not_exists(keyId)',
      }),
    );
    return { apiKey: `wsn_${keyId}_${secret}`, record };
  }

  /** The key's row, if the key is well-formed, exists, and its secret matches; CredentialError otherwise. */
  async verify(apiKey: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<ApiKey> {
    if (apiKey.length > MAX_API_KEY_CHARS) throw new CredentialError(`API key longer than ${MAX_API_KEY_CHARS} characters`);
    const [, keyId, secret] = apiKey.match(KEY_PATTERN) ?? [];
    if (keyId === undefined || secret === undefined) throw new CredentialError('not an API key (wsn_<id>_<secret>)');
    // Strongly consistent: a key revoked a moment ago must not open a connection.
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { keyId }, ConsistentRead: true }));
    if (Item === undefined) throw new CredentialError('unknown API key');
    if (!timingSafeEqual(Buffer.from(sha256(secret), 'hex'), Buffer.from(String(Item['secretHash']), 'hex'))) {
      throw new CredentialError('wrong API key secret');
    }
    const record = toApiKey(Item);
    if (record.revokedAt !== undefined) throw new CredentialError('API key revoked');
    if (record.expiresAt !== undefined && record.expiresAt <= nowSeconds) throw new CredentialError('API key expired');
    return record;
  }

  /** Marks the key revoked; the credential sweep then closes the connections it opened. */
  async revoke(keyId: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<'revoked' | 'already revoked' | 'unknown'> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { keyId },
          UpdateExpression: 'SET revokedAt = :now, revocationBucket = :bucket',
          ConditionExpression: 'attribute_exists(keyId) AND attribute_not_exists(revokedAt)',
          ExpressionAttributeValues: { ':now': nowSeconds, ':bucket': minuteBucket(nowSeconds) },
        }),
      );
      return 'revoked';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { keyId }, ConsistentRead: true }));
      return Item === undefined ? 'unknown' : 'already revoked';
    }
  }

  /** The user's keys, oldest first, revoked and expired ones included. */
  async *keysOf(userId: string): AsyncGenerator<ApiKey> {
    const pages = paginateQuery(
      { client: this.db },
      {
        TableName: this.tableName,
        IndexName: KEY_USER_INDEX,
        KeyConditionExpression: 'userId = :userId',
        ExpressionAttributeValues: { ':userId': userId },
        ProjectionExpression: 'keyId',
      },
    );
    for await (const page of pages) {
      // The index projects the attributes a key had when it was made; the row has all of them
      // (grants added since, like `groups`), and a GSI's projection cannot change in place.
      const rows = await Promise.all(
        (page.Items ?? []).map(async ({ keyId }) => (await this.db.send(new GetCommand({ TableName: this.tableName, Key: { keyId } }))).Item),
      );
      for (const row of rows) if (row !== undefined) yield toApiKey(row);
    }
  }

  /** Ids of the keys revoked from `since` to `until` (epoch seconds): one Query per minute bucket, never a Scan. */
  async *revokedBetween(since: number, until: number): AsyncGenerator<string> {
    for (const bucket of minuteBucketsBetween(since, until)) {
      const pages = paginateQuery(
        { client: this.db },
        {
          TableName: this.tableName,
          IndexName: REVOCATION_INDEX,
          KeyConditionExpression: 'revocationBucket = :bucket AND revokedAt BETWEEN :since AND :until',
          ExpressionAttributeValues: { ':bucket': bucket, ':since': since, ':until': until },
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) yield item['keyId'] as string;
      }
    }
  }
}

/**
 * Refuses, with a RangeError saying what to change, a key that could not be used as made: its user
 * or tenant not one a credential may name, an expiry that is past or not a time, or, for a
 * `connect` key, grants so large that the `$connect` authorizer's result would exceed API Gateway's
 * 8 KB (measured with the longest methodArn there is, so the key connects from any stage).
 */
export function checkNewApiKey(key: NewApiKey, nowSeconds = Math.floor(Date.now() / 1000)): void {
  const problem = userIdProblem(key.userId, "an API key's user id") ?? (key.tenant === undefined ? undefined : tenantProblem(key.tenant, "an API key's tenant"));
  if (problem !== undefined) throw new RangeError(problem);
  if (key.expiresAt !== undefined && key.expiresAt <= nowSeconds) throw new RangeError('an API key must expire in the future');
  if (key.expiresAt !== undefined && (!Number.isInteger(key.expiresAt) || key.expiresAt > MAX_EXPIRY_SECONDS)) {
    throw new RangeError(`an API key's expiry is a whole number of seconds up to ${MAX_EXPIRY_SECONDS} (year 9999)`);
  }
  grantFrom(key.topics, 'topics');
  grantFrom(key.publishTopics, 'publishTopics');
  groupGrantFrom(key.groups, 'groups');
  autoSubscribeFrom(key.autoSubscribe, 'autoSubscribe');
  if (key.scope !== 'connect' && (key.autoSubscribe !== undefined || key.keepalive !== undefined)) {
    throw new RangeError('auto-subscriptions and keepalive are for connect keys: a publish key opens no connection');
  }
  if (key.scope !== 'connect') return;
  const identity = { ...key, keyId: 'f'.repeat(16) };
  const bytes = authorizerResultBytes(authorizerPolicy('Allow', key.userId, LONGEST_CONNECT_METHOD_ARN, authorizerContext(identity)));
  if (bytes > MAX_AUTHORIZER_RESULT_BYTES) {
    throw new RangeError(
      `this key's topic and group grants and auto-subscriptions would make the $connect authorizer's result ${bytes} bytes, over API Gateway's limit of ` +
        `${MAX_AUTHORIZER_RESULT_BYTES}: grant fewer or shorter patterns (a trailing * covers every topic with that prefix), or auto-subscribe to fewer topics`,
    );
  }
  const ungranted = ungrantedAutoSubscription(key);
  if (ungranted !== undefined) throw new RangeError(ungranted);
}

/**
 * Why one of a key's auto-subscriptions is not covered by its own grants, or undefined. `$connect`
 * refuses every connection with such a key (403 `forbidden_topic` or `forbidden_group`), so it is
 * refused at creation. The key's own grants are asked for even for a topic the stack makes public:
 * the CLI cannot see the stack's `publicTopics`, and a key so made keeps connecting if they change.
 */
function ungrantedAutoSubscription({ autoSubscribe = [], topics = [], groups = [] }: NewApiKey): string | undefined {
  for (const entry of autoSubscribe) {
    const { topic, group } = autoSubscriptionParts(entry);
    if (!mayAccess(topics, topic)) {
      return `this key auto-subscribes to "${topic}", which its topic grant does not cover, so $connect would refuse every connection with it: add it to --topics (a topic the stack makes public too)`;
    }
    if (group !== undefined && !mayJoin(groups, topic, group)) {
      return `this key joins the group "${group}" of "${topic}" at connect, which its group grant does not cover, so $connect would refuse every connection with it: add "${entry}" to --groups`;
    }
  }
  return undefined;
}

function sha256(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function toApiKey(item: Record<string, unknown>): ApiKey {
  const row = item as unknown as ApiKey;
  const { keyId, userId, tenant, scope, createdAt, expiresAt, revokedAt } = row;
  return {
    keyId,
    userId,
    scope,
    createdAt,
    ...(tenant !== undefined && { tenant }),
    ...(expiresAt !== undefined && { expiresAt }),
    ...(revokedAt !== undefined && { revokedAt }),
    ...credentialGrantsOf(row),
  };
}

/** Verifies a key presented alone (`basicUser` undefined) or as the password of `Basic <user>:<key>`. */
export type VerifyApiKey = (apiKey: string, basicUser?: string) => Promise<ApiKeyIdentity>;

/**
 * A verifier for keys of one scope. In a multi-tenant stack a key must name its tenant, and in a
 * single-tenant one it must not, as NotifyUser messages must and must not.
 */
export function createApiKeyVerifier(keys: ApiKeyTable, { scope, multiTenant }: { scope: ApiKeyScope; multiTenant: boolean }): VerifyApiKey {
  return async (apiKey, basicUser) => {
    const key = await keys.verify(apiKey);
    if (key.scope !== scope) throw new CredentialError(`API key has scope "${key.scope}", not "${scope}"`);
    if (basicUser !== undefined && basicUser !== key.userId) throw new CredentialError("the Basic user name is not the key's user");
    if (multiTenant && key.tenant === undefined) throw new CredentialError('API key names no tenant, and this stack has tenants');
    if (!multiTenant && key.tenant !== undefined) throw new CredentialError('API key names a tenant, and this stack has none');
    // Keys made before creation bounded these are refused here rather than failing $connect.
    const problem = userIdProblem(key.userId, "the key's user id") ?? (key.tenant === undefined ? undefined : tenantProblem(key.tenant, "the key's tenant"));
    if (problem !== undefined) throw new CredentialError(problem);
    // As a token's claim: `keepalive` only when it asks for them.
    const { keepalive, ...grants } = credentialGrantsOf(key);
    return {
      userId: key.userId,
      keyId: key.keyId,
      ...(key.tenant !== undefined && { tenant: key.tenant }),
      ...(key.expiresAt !== undefined && { expiresAt: key.expiresAt }),
      ...grants,
      ...(keepalive === true && { keepalive }),
    };
  };
}
