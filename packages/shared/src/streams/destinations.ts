import type { z } from 'zod';
import { Conflict, NotFound, type ValidationDetail, ValidationFailed } from '../errors/catalogue.js';
import type { StreamLog } from '../feed/port.js';
import type { TenantId } from '../store/tenant-id.js';
import { type AddressPolicy, DestinationRefused } from './address-policy.js';
import type { StreamSettings } from './config.js';
import { secretContext } from './deliverer.js';
import {
  CreateDestination,
  type DestinationKind,
  type DestinationRecord,
  destinationHost,
  logFilterOf,
  StreamFilter,
  secretFieldsOf,
  splitBody,
} from './destination.js';
import type { DeadLetterSummary, StreamStore } from './port.js';
import type { SecretBox } from './secret-box.js';

export interface StreamAdminDeps {
  store: StreamStore;
  streamLog: Pick<StreamLog, 'after' | 'head'>;
  box: SecretBox;
  policy: AddressPolicy;
  settings: StreamSettings;
  newId: () => string;
  now: () => Date;
}

/** A destination as the API shows it: its settings, which secrets are set (never their values), and its delivery state. */
export interface DestinationView {
  id: string;
  name: string;
  kind: DestinationKind;
  enabled: boolean;
  filter: Record<string, string>;
  settings: Record<string, unknown>;
  secrets_set: string[];
  created_at: string;
  updated_at: string;
  state: DestinationState;
}

export interface DestinationState {
  status: 'ok' | 'retrying' | 'blocked' | 'disabled';
  position: number;
  /** Whether every matching event stored so far has been delivered or dead-lettered. */
  caught_up: boolean;
  lag_positions: number;
  /** Seconds since the oldest event not yet delivered was received; 0 when caught up. */
  lag_seconds: number;
  delivered_events: number;
  failed_attempts: number;
  dead_lettered_events: number;
  dead_letters: number;
  last_error: string | null;
  last_attempt_at: string | null;
  last_delivered_at: string | null;
}

const issuesOf = (error: z.ZodError): ValidationDetail[] =>
  error.issues.map((issue) => ({
    loc: ['body', ...issue.path.map((part) => (typeof part === 'number' ? part : String(part)))],
    msg: issue.message,
    type: issue.code,
  }));

/**
 * The tenant admin's destinations (docs/streams.md): every rule of /api/v1/streams as plain
 * functions over the store, so the routes stay thin. A destination is checked against the address
 * policy when it is saved (the deliverer checks again on every connection).
 */
export class StreamAdmin {
  constructor(private readonly deps: StreamAdminDeps) {}

  async create(tenant: TenantId, input: unknown): Promise<DestinationView> {
    const parsed = CreateDestination.safeParse(input);
    if (!parsed.success) throw new ValidationFailed(issuesOf(parsed.error));
    const body = parsed.data as Record<string, unknown> & {
      kind: DestinationKind;
      name: string;
      enabled: boolean;
      filter: Record<string, string>;
      start: 'now' | 'beginning';
    };
    this.checkFilter(body.filter);
    const { settings, secrets } = splitBody(body.kind, body);
    await this.checkAddress(body.kind, settings);
    const now = this.deps.now().toISOString();
    const id = this.deps.newId();
    const record: DestinationRecord = {
      id,
      tenant,
      name: body.name,
      kind: body.kind,
      enabled: body.enabled,
      settings,
      filter: body.filter,
      secret: this.deps.box.seal(JSON.stringify(secrets), secretContext({ tenant, id })),
      createdAt: now,
      updatedAt: now,
    };
    const start = body.start === 'beginning' ? 0 : await this.deps.streamLog.head();
    if (!(await this.deps.store.create(tenant, record, start, this.deps.settings.maxDestinationsPerTenant))) {
      throw new Conflict(
        `this tenant already has ${this.deps.settings.maxDestinationsPerTenant} stream destinations (STREAM_MAX_DESTINATIONS_PER_TENANT): delete one first`,
      );
    }
    return this.view(record);
  }

  async list(tenant: TenantId): Promise<DestinationView[]> {
    return Promise.all((await this.deps.store.list(tenant)).map((record) => this.view(record)));
  }

  async get(tenant: TenantId, id: string): Promise<DestinationView> {
    return this.view(await this.require(tenant, id));
  }

  /** Changes the fields given; the kind cannot change. Settings and secrets given replace the stored ones; secrets left out stay. */
  async update(tenant: TenantId, id: string, input: Record<string, unknown>): Promise<DestinationView> {
    const current = await this.require(tenant, id);
    if ('kind' in input && input.kind !== current.kind) {
      throw new ValidationFailed([
        { loc: ['body', 'kind'], msg: 'the kind of a destination cannot change: create a new one', type: 'value_error' },
      ]);
    }
    if ('start' in input) {
      throw new ValidationFailed([{ loc: ['body', 'start'], msg: 'start is only for a new destination', type: 'value_error' }]);
    }
    // Secrets sealed under another STREAM_SECRET_KEY cannot be kept: the update must then give every
    // secret field again (validation names the missing ones), which re-seals them under this key.
    let secrets: Record<string, unknown> = {};
    try {
      secrets = JSON.parse(this.deps.box.open(current.secret, secretContext(current))) as Record<string, unknown>;
    } catch {
      secrets = {};
    }
    const merged: Record<string, unknown> = {
      ...current.settings,
      ...secrets,
      name: current.name,
      enabled: current.enabled,
      filter: current.filter,
      ...input,
      kind: current.kind,
    };
    if (merged.ca === null) delete merged.ca;
    const parsed = CreateDestination.safeParse(merged);
    if (!parsed.success) throw new ValidationFailed(issuesOf(parsed.error));
    const body = parsed.data as Record<string, unknown> & { name: string; enabled: boolean; filter: Record<string, string> };
    this.checkFilter(body.filter);
    const split = splitBody(current.kind, body);
    await this.checkAddress(current.kind, split.settings);
    const updated = await this.deps.store.update(tenant, id, {
      name: body.name,
      enabled: body.enabled,
      filter: body.filter,
      settings: split.settings,
      secret: this.deps.box.seal(JSON.stringify(split.secrets), secretContext(current)),
      updatedAt: this.deps.now().toISOString(),
    });
    if (updated === null) throw new NotFound('Stream destination');
    return this.view(updated);
  }

  async remove(tenant: TenantId, id: string): Promise<void> {
    if (!(await this.deps.store.remove(tenant, id))) throw new NotFound('Stream destination');
  }

  async deadLetters(tenant: TenantId, id: string, limit: number): Promise<DeadLetterSummary[]> {
    const letters = await this.deps.store.deadLetters(tenant, id, limit);
    if (letters === null) throw new NotFound('Stream destination');
    return letters;
  }

  /** Marks dead letters for replay (all, or the ids given); the deliverer sends them before its next batch. */
  async replay(tenant: TenantId, id: string, ids?: readonly number[]): Promise<number> {
    const marked = await this.deps.store.requestReplay(tenant, id, ids);
    if (marked === null) throw new NotFound('Stream destination');
    return marked;
  }

  private async require(tenant: TenantId, id: string): Promise<DestinationRecord> {
    const record = await this.deps.store.get(tenant, id);
    if (record === null) throw new NotFound('Stream destination');
    return record;
  }

  private checkFilter(filter: Record<string, string>): void {
    const parsed = StreamFilter.safeParse(filter);
    if (!parsed.success) {
      throw new ValidationFailed(
        parsed.error.issues.map((issue) => ({ loc: ['body', 'filter', ...issue.path.map(String)], msg: issue.message, type: issue.code })),
      );
    }
  }

  /** The host must pass the address policy now (it is checked again on every connection); plain http only to a listed address. */
  private async checkAddress(kind: DestinationKind, settings: Record<string, unknown>): Promise<void> {
    const { url } = destinationHost(kind, settings);
    const field = kind === 's3' ? 'endpoint' : 'url';
    try {
      const addresses = await this.deps.policy.check(url.hostname, { unresolved: 'accept' });
      const listed = addresses.length > 0 && addresses.every(({ address }) => this.deps.policy.listed(address));
      if (url.protocol === 'http:' && !listed) {
        throw new DestinationRefused(`plain http is only for addresses STREAM_DESTINATION_ALLOW lists: use https://${url.host}`);
      }
    } catch (error) {
      if (!(error instanceof DestinationRefused)) throw error;
      throw new ValidationFailed([{ loc: ['body', field], msg: `destination refused: ${error.message}`, type: 'value_error' }]);
    }
  }

  private async view(record: DestinationRecord): Promise<DestinationView> {
    const progress = await this.deps.store.progress(record.id);
    const position = progress?.position ?? 0;
    // One indexed read of the next undelivered event: whether the destination is caught up, and how old its backlog is.
    const [deadLetters, head, pending] = await Promise.all([
      this.deps.store.deadLetterCount(record.id),
      this.deps.streamLog.head(),
      this.deps.streamLog.after(record.tenant, position, logFilterOf(record.filter), 1),
    ]);
    const oldest = pending[0]?.event.received_at;
    return {
      id: record.id,
      name: record.name,
      kind: record.kind,
      enabled: record.enabled,
      filter: record.filter,
      settings: { ...record.settings },
      secrets_set: secretFieldsOf(record.kind),
      created_at: record.createdAt,
      updated_at: record.updatedAt,
      state: {
        status: record.enabled ? (progress?.status ?? 'ok') : 'disabled',
        position,
        caught_up: pending.length === 0,
        lag_positions: Math.max(0, head - position),
        lag_seconds: oldest === undefined ? 0 : Math.max(0, (this.deps.now().getTime() - Date.parse(oldest)) / 1000),
        delivered_events: progress?.delivered ?? 0,
        failed_attempts: progress?.failedAttempts ?? 0,
        dead_lettered_events: progress?.deadLettered ?? 0,
        dead_letters: deadLetters,
        last_error: progress?.lastError ?? null,
        last_attempt_at: progress?.lastAttemptAt ?? null,
        last_delivered_at: progress?.lastDeliveredAt ?? null,
      },
    };
  }
}
