/**
 * Who a client is and what its credential grants, whoever vouches for it (a token's claims, an API
 * key's row) and whoever reads it (the authorizer's result, `$connect`, the topic frames). Types
 * only, and imports nothing: every module that needs an identity can import it without importing
 * the module that made one.
 */

/** What a credential grants: the same five fields on a token (as claims) and on an API key (as attributes). */
export interface CredentialGrants {
  /** Topic patterns it may subscribe to (the `topics` claim). */
  topics?: string[];
  /** Topic patterns it may publish to (the `publishTopics` claim). */
  publishTopics?: string[];
  /** Group patterns it may join (the `groups` claim). */
  groups?: string[];
  /** Topics (or `<topic>#<group>`) subscribed at `$connect` (the `autoSubscribe` claim). */
  autoSubscribe?: string[];
  /** The connection asks for server keepalives, where the stack offers them on request (the `keepalive` claim). */
  keepalive?: boolean;
}

export const CREDENTIAL_GRANT_FIELDS = ['topics', 'publishTopics', 'groups', 'autoSubscribe', 'keepalive'] as const satisfies readonly (keyof CredentialGrants)[];

/** The grant fields `source` has (a row or a key read back may hold more fields than these), and nothing else. */
export function credentialGrantsOf(source: CredentialGrants): CredentialGrants {
  return Object.fromEntries(CREDENTIAL_GRANT_FIELDS.filter((field) => source[field] !== undefined).map((field) => [field, source[field]])) as CredentialGrants;
}

/** Who a verified token says the client is. */
export interface VerifiedIdentity extends CredentialGrants {
  userId: string;
  /** The token's `exp`, epoch seconds. */
  expiresAt: number;
  tenant?: string;
}

/** Who a verified API key says the client is. */
export interface ApiKeyIdentity extends CredentialGrants {
  userId: string;
  keyId: string;
  tenant?: string;
  /** Epoch seconds; absent for a key that does not expire. */
  expiresAt?: number;
}

/** What a connection's credential lets it do with topics. */
export interface TopicGrants {
  /** Topics it may subscribe to: its credential's `topics` plus the stack's public topics. */
  subscribe: string[];
  /** Topics it may publish to: its credential's `publishTopics`. */
  publish: string[];
  /** Groups it may join (GroupPattern): its credential's `groups` plus the stack's public groups. */
  groups: string[];
}

/** What the stack grants every connection, anonymous ones included: its public topics (to subscribe to) and groups. */
export interface PublicGrants {
  topics: readonly string[];
  groups: readonly string[];
}

/** A connection as its `$connect` authorizer described it, with what it may do with topics. */
export interface TopicCaller {
  connectionId: string;
  userId: string;
  tenant?: string;
  /** Epoch milliseconds. */
  connectedAt: number;
  grants: TopicGrants;
}
