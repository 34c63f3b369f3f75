import { type FromEnvInit, fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Stands in for `@aws-sdk/credential-provider-node` in the bundles (an esbuild alias in
 * lib/ws-notify.ts). Lambda hands a function its role's credentials in environment variables, so
 * the default chain's SSO, STS, INI and process providers (about 80 KB per bundle) are never used.
 */
export const defaultProvider = (init?: FromEnvInit) => fromEnv(init);
