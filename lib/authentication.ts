import { Duration } from 'aws-cdk-lib';
import { AttributeType, ProjectionType, type Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { KEY_USER_INDEX, KEY_USER_INDEX_ATTRIBUTES, REVOCATION_INDEX } from '../lambdas/core/api-keys';
import { LOOK_AHEAD_SECONDS } from '../lambdas/core/credentials';
import { addEnvironment, allow, newHandlerFunction, newTable } from './builders';
import type { WsNotifySettings } from './settings';

/**
 * Who a connection is: the `$connect` authorizer (JWTs, API keys, anonymous), the `authenticate`
 * route that refreshes a connection's credential, the API key table, and the sweep that closes
 * connections whose credential expired or whose key was revoked.
 */
export class Authentication {
  /** API keys (`ws-notify apikey`): one row per key, holding the SHA-256 of its secret, never the secret. */
  public readonly apiKeysTable: Table;
  public readonly authorize: NodejsFunction;
  public readonly authenticate: NodejsFunction;
  public readonly credentialSweep: NodejsFunction;

  constructor(scope: Construct, settings: WsNotifySettings) {
    const { auth, logRetention } = settings;
    // No TTL: expired and revoked keys stay listed.
    this.apiKeysTable = newTable(scope, 'ApiKeys', { partitionKey: { name: 'keyId', type: AttributeType.STRING } }, settings.removalPolicy);
    this.apiKeysTable.addGlobalSecondaryIndex({
      indexName: KEY_USER_INDEX,
      partitionKey: { name: 'userId', type: AttributeType.STRING },
      sortKey: { name: 'createdAt', type: AttributeType.NUMBER },
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: KEY_USER_INDEX_ATTRIBUTES,
    });
    this.apiKeysTable.addGlobalSecondaryIndex({
      indexName: REVOCATION_INDEX,
      partitionKey: { name: 'revocationBucket', type: AttributeType.STRING },
      sortKey: { name: 'revokedAt', type: AttributeType.NUMBER },
      projectionType: ProjectionType.KEYS_ONLY,
    });

    const tokens = { ...auth.jwt, ...(settings.tenantClaim !== undefined && { TENANT_CLAIM: settings.tenantClaim }) };
    this.authorize = newHandlerFunction(scope, 'Authorize', {
      handler: 'authorize',
      logRetention,
      environment: { ...tokens, ACCEPT_API_KEYS: String(auth.apiKeys), ALLOW_ANONYMOUS: String(auth.anonymous) },
    });
    // A refresh ends the subscriptions its grants, with the public ones, no longer cover.
    this.authenticate = newHandlerFunction(scope, 'Authenticate', {
      handler: 'authenticate',
      logRetention,
      environment: { ...tokens, PUBLIC_TOPICS: JSON.stringify(settings.publicTopics), PUBLIC_GROUPS: JSON.stringify(settings.publicGroups) },
    });
    // Waits up to a minute for credentials about to expire, so it has that minute and room to close them.
    this.credentialSweep = newHandlerFunction(scope, 'CredentialSweep', {
      handler: 'credential-sweep',
      logRetention,
      timeout: Duration.seconds(LOOK_AHEAD_SECONDS + 30),
    });
    new Rule(scope, 'CredentialSweepSchedule', {
      description: 'ws-notify: close connections whose credential expired or whose API key was revoked',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.credentialSweep)],
    });
  }

  /** Looks up an API key by id (its row holds the secret's hash, grants and state). */
  grantVerifyApiKeys(fn: NodejsFunction): void {
    addEnvironment(fn, { API_KEYS_TABLE_NAME: this.apiKeysTable.tableName });
    allow(fn, ['dynamodb:GetItem'], [this.apiKeysTable.tableArn]);
  }

  /** Where the keys revoked lately are found, by revocation bucket (the credential sweep reads it). */
  get revokedApiKeys(): { readonly tableName: string; readonly indexArn: string } {
    return { tableName: this.apiKeysTable.tableName, indexArn: `${this.apiKeysTable.tableArn}/index/${REVOCATION_INDEX}` };
  }
}
