import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { newHandlerFunction } from './builders';
import type { WsNotifySettings } from './settings';

/** The functions behind the routes of a connection's life: `$connect`, `$disconnect`, `$default` and `ping`. */
export class ConnectionRoutes {
  /** Stores the connection, counted against its user's and key's limits, with the subscriptions asked for at connect. */
  public readonly connect: NodejsFunction;
  public readonly disconnect: NodejsFunction;
  /** Answers a frame no route takes with an error frame. */
  public readonly default: NodejsFunction;
  public readonly ping: NodejsFunction;

  constructor(scope: Construct, settings: WsNotifySettings) {
    const { logRetention } = settings;
    // `?subscribe=` and the credential's autoSubscribe are subscribed in $connect's own transaction,
    // with exactly the checks of a `subscribe` frame.
    this.connect = newHandlerFunction(scope, 'Connect', {
      handler: 'connect',
      logRetention,
      environment: {
        PUBLIC_TOPICS: JSON.stringify(settings.publicTopics),
        PUBLIC_GROUPS: JSON.stringify(settings.publicGroups),
        MAX_CONNECTIONS_PER_USER: String(settings.maxConnectionsPerUser),
        MAX_CONNECTIONS_PER_API_KEY: String(settings.maxConnectionsPerApiKey),
        MAX_SUBSCRIPTIONS_PER_CONNECTION: String(settings.maxSubscriptionsPerConnection),
        KEEPALIVE: settings.keepalive,
      },
    });
    this.disconnect = newHandlerFunction(scope, 'Disconnect', { handler: 'disconnect', logRetention });
    this.default = newHandlerFunction(scope, 'Default', { handler: 'default', logRetention });
    this.ping = newHandlerFunction(scope, 'Ping', { handler: 'ping', logRetention });
  }
}
