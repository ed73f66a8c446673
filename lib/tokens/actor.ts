/**
 * How a service account is named where an actor's e-mail goes (audit events, logs): the prefix says
 * what it is, the name stays searchable. The audit log reads it back (components/audit).
 */
export const SERVICE_ACCOUNT_ACTOR_PREFIX = "service-account:";

export const serviceAccountActorEmail = (name: string) => `${SERVICE_ACCOUNT_ACTOR_PREFIX}${name}`.slice(0, 254);
