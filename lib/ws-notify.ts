import type { WebSocketApi, WebSocketStage, HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Authentication } from './authentication';
import { ConnectionRoutes } from './connection-routes';
import { ConnectionStore } from './connection-store';
import { DeliveryQueues } from './delivery-queues';
import { EventsIngress } from './events-ingress';
import { Keepalives } from './keepalives';
import { acknowledgeNagFindings } from './nag-acknowledgements';
import { WsNotifyObservability } from './observability';
import { OfflineFallback } from './offline-fallback';
import { settingsOf } from './settings';
import { StreamHistory } from './stream-history';
import { Topics } from './topics';
import { WebSocketEndpoint } from './websocket-endpoint';
import type { WsNotifyProps } from './ws-notify-props';

export { BUNDLING_ALIASES } from './builders';
export type { WsNotifyProps } from './ws-notify-props';

/**
 * The ws-notify notification stack: a WebSocket API whose `$connect` takes a JWT, an API key or
 * (opt-in) no credential, a connection store, and the queues that push to connections. Each part
 * owns its resources and grants; this composes them and says which function may do what.
 */
export class WsNotify extends Construct {
  public readonly store: ConnectionStore;
  public readonly authentication: Authentication;
  public readonly endpoint: WebSocketEndpoint;
  public readonly delivery: DeliveryQueues;
  public readonly topics: Topics;
  public readonly events: EventsIngress;
  /** Undefined with `history: false`. */
  public readonly streams: StreamHistory | undefined;
  /** Undefined without `ackTimeout`. */
  public readonly offlineFallback: OfflineFallback | undefined;
  /** The stack's functions by id ('Authorize', 'Connect', 'NotifyUser', …); the enrichers passed in are not among them. */
  public readonly functions: Readonly<Record<string, IFunction>>;
  /** The alarms, the dashboard and the alarm topic. */
  public readonly observability: WsNotifyObservability;
  /** The JWT claim that names a tenant (prop `tenantClaim`); undefined in a single-tenant stack. */
  public readonly tenantClaim: string | undefined;

  constructor(scope: Construct, id: string, props: WsNotifyProps) {
    super(scope, id);
    const settings = settingsOf(props);
    this.tenantClaim = settings.tenantClaim;

    const store = (this.store = new ConnectionStore(this, settings));
    const auth = (this.authentication = new Authentication(this, settings));
    const streams = (this.streams = settings.history && new StreamHistory(this, { ...settings, history: settings.history }));
    const delivery = (this.delivery = new DeliveryQueues(this, settings));
    const offline = (this.offlineFallback = settings.ackTimeout && new OfflineFallback(this, settings, settings.ackTimeout));
    const topics = (this.topics = new Topics(this, settings, delivery));
    const routes = new ConnectionRoutes(this, settings);
    const keepalives = settings.keepalive === 'off' ? undefined : new Keepalives(this, settings);
    const events = (this.events = new EventsIngress(this, settings));
    const endpoint = (this.endpoint = new WebSocketEndpoint(this, settings, { ...routes, authorize: auth.authorize }));
    endpoint.addRoute('ping', routes.ping);
    endpoint.addRoute('authenticate', auth.authenticate);
    endpoint.addRoute('subscribe', topics.subscribe);
    endpoint.addRoute('unsubscribe', topics.unsubscribe);
    endpoint.addRoute('publish', topics.publish);
    if (streams) {
      endpoint.addRoute('resume', streams.resume);
      endpoint.addRoute('history', streams.history);
      endpoint.addRoute('ack', streams.ack);
    }

    // Who may do what: each function gets exactly the actions its code uses, with the variables naming their resources.
    store.grantConnect(routes.connect);
    store.grantRemove(routes.disconnect);
    if (settings.auth.apiKeys) auth.grantVerifyApiKeys(auth.authorize);
    store.grantRefresh(auth.authenticate);
    endpoint.grantPost(auth.authenticate); // ends, with an `unsubscribed` frame, the subscriptions a refresh no longer grants
    store.grantRemove(auth.credentialSweep);
    store.grantSweep(auth.credentialSweep, auth.revokedApiKeys);
    endpoint.grantPostAndClose(auth.credentialSweep);

    store.grantSubscribe(topics.subscribe);
    store.grantReadGrants(topics.subscribe);
    store.grantUnsubscribe(topics.unsubscribe);
    topics.grantSendPages(topics.publish);
    store.grantReadGrants(topics.publish);
    store.grantReadSubscribers(topics.topicFanOut);
    if (settings.enrichers.length > 0) store.grantFindByUser(topics.topicFanOut); // an enricher may name the event's user
    auth.grantVerifyApiKeys(events.authorizer);
    topics.grantSendPages(events.ingress);

    store.grantRemove(delivery.notifyUser);
    store.grantFindByUser(delivery.notifyUser);
    endpoint.grantPost(delivery.notifyUser);
    store.grantRemove(delivery.notifyConnection);
    endpoint.grantPost(delivery.notifyConnection);

    if (streams) {
      streams.grantAppend(delivery.notifyUser);
      streams.grantAppend(topics.topicFanOut);
      // A subscribe from a position, and a resume, post their replay ahead of the reply.
      streams.grantRead(topics.subscribe);
      endpoint.grantPost(topics.subscribe);
      store.grantReadGrants(streams.resume);
      streams.grantRead(streams.resume);
      store.grantReadSubscription(streams.resume);
      endpoint.grantPost(streams.resume);
      store.grantReadGrants(streams.history);
      streams.grantRead(streams.history);
      store.addSubscriptionsTableName(streams.history);
    }
    if (offline && streams) {
      offline.grantScheduleCheck(delivery.notifyUser);
      streams.grantCheckAcks(offline.ackCheck);
    }
    if (keepalives) {
      store.grantRemove(keepalives.keepalive);
      store.grantFindKeepaliveSlot(keepalives.keepalive);
      endpoint.grantPost(keepalives.keepalive);
    }

    this.functions = {
      Authorize: auth.authorize,
      Authenticate: auth.authenticate,
      Connect: routes.connect,
      Disconnect: routes.disconnect,
      Subscribe: topics.subscribe,
      Unsubscribe: topics.unsubscribe,
      Publish: topics.publish,
      ...(streams && { Resume: streams.resume, History: streams.history }),
      Default: routes.default,
      Ping: routes.ping,
      ...(streams && { Ack: streams.ack }),
      NotifyUser: delivery.notifyUser,
      NotifyConnection: delivery.notifyConnection,
      TopicFanOut: topics.topicFanOut,
      CredentialSweep: auth.credentialSweep,
      ...(keepalives && { Keepalive: keepalives.keepalive }),
      EventsAuthorizer: events.authorizer,
      EventsIngress: events.ingress,
      ...(offline && { AckCheck: offline.ackCheck }),
    };

    this.observability = new WsNotifyObservability(this, 'Observability', {
      serviceName: Stack.of(this).stackName,
      functions: this.functions,
      authorizers: ['Authorize'],
      queues: {
        NotifyUser: { queue: delivery.notifyUserQueue, deadLetterQueue: delivery.notifyUserDeadLetterQueue },
        NotifyConnection: { queue: delivery.notifyConnectionQueue, deadLetterQueue: delivery.notifyConnectionDeadLetterQueue },
        Publish: { queue: topics.publishQueue, deadLetterQueue: topics.publishDeadLetterQueue },
        // The topic fan-out's pages dead-letter into the Publish dead-letter queue, watched above.
        TopicPages: { queue: topics.topicPagesQueue },
        // Ack checks wait ackTimeout by design, and the backend drains Undelivered at its own pace:
        // only what neither could handle alarms.
        ...(offline && {
          AckCheck: { queue: offline.ackCheckQueue, deadLetterQueue: offline.ackCheckDeadLetterQueue, watchAge: false },
          Undelivered: { queue: offline.undeliveredQueue, deadLetterQueue: offline.undeliveredDeadLetterQueue, watchAge: false },
        }),
      },
      webSocketStage: endpoint.stage,
      eventsStage: events.eventsStage,
      alarmTopic: props.alarmTopic,
      alarmEmail: props.alarmEmail,
      maxQueueMessageAge: props.maxQueueMessageAge,
    });

    acknowledgeNagFindings(this, settings.auth, endpoint);
  }

  // The resources as the construct has always exposed them; each belongs to its part.
  get webSocketApi(): WebSocketApi { return this.endpoint.webSocketApi; }
  get stage(): WebSocketStage { return this.endpoint.stage; }
  /** The `wss://` URL clients connect to. */
  get webSocketUrl(): string { return this.stage.url; }
  /** The `https://` endpoint of the API Gateway management API (PostToConnection). */
  get managementApiEndpoint(): string { return this.stage.callbackUrl; }
  get connectionsTable(): Table { return this.store.connectionsTable; }
  get connectionCountsTable(): Table { return this.store.connectionCountsTable; }
  get subscriptionsTable(): Table { return this.store.subscriptionsTable; }
  get apiKeysTable(): Table { return this.authentication.apiKeysTable; }
  get notifyUserQueue(): Queue { return this.delivery.notifyUserQueue; }
  get notifyUserDeadLetterQueue(): Queue { return this.delivery.notifyUserDeadLetterQueue; }
  get notifyConnectionQueue(): Queue { return this.delivery.notifyConnectionQueue; }
  get notifyConnectionDeadLetterQueue(): Queue { return this.delivery.notifyConnectionDeadLetterQueue; }
  get publishQueue(): Queue { return this.topics.publishQueue; }
  get publishDeadLetterQueue(): Queue { return this.topics.publishDeadLetterQueue; }
  get topicPagesQueue(): Queue { return this.topics.topicPagesQueue; }
  get eventsApi(): HttpApi { return this.events.eventsApi; }
  /** Where events are posted: `POST <eventsUrl>/{topic}/events`. */
  get eventsUrl(): string { return this.events.eventsUrl; }
  get streamsTable(): Table | undefined { return this.streams?.streamsTable; }
  get acksTable(): Table | undefined { return this.streams?.acksTable; }
  get ackCheckQueue(): Queue | undefined { return this.offlineFallback?.ackCheckQueue; }
  get ackCheckDeadLetterQueue(): Queue | undefined { return this.offlineFallback?.ackCheckDeadLetterQueue; }
  get undeliveredQueue(): Queue | undefined { return this.offlineFallback?.undeliveredQueue; }
  get undeliveredDeadLetterQueue(): Queue | undefined { return this.offlineFallback?.undeliveredDeadLetterQueue; }
}
