import "server-only";
import { notFound } from "@/lib/errors";
import { httpConnector } from "./http";
import { mariadbConnector } from "./mariadb";
import { oauth2Connector } from "./oauth2";
import { postgresConnector } from "./postgres";
import { rabbitmqConnector } from "./rabbitmq";
import { redisConnector } from "./redis";
import type { Connector, ConnectorKind } from "./types";

/** Every connector, in the order "Add connection" lists them. Adding one: a folder and a line here. */
const CONNECTORS: Record<ConnectorKind, Connector> = {
  postgres: postgresConnector as Connector,
  mariadb: mariadbConnector as Connector,
  redis: redisConnector as Connector,
  rabbitmq: rabbitmqConnector as Connector,
  http: httpConnector as Connector,
  oauth2: oauth2Connector as Connector,
};

export const CONNECTOR_KINDS = Object.keys(CONNECTORS) as ConnectorKind[];

export function isConnectorKind(kind: string): kind is ConnectorKind {
  return (CONNECTOR_KINDS as string[]).includes(kind);
}

/** Unknown kinds answer "not found", like any other id from the client. */
export function getConnectorOrThrow(kind: string): Connector {
  if (!isConnectorKind(kind)) throw notFound("Connector");
  return CONNECTORS[kind];
}
