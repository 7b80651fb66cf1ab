import { withHash } from '@logserver/shared/integrity/event-hash';
import { type LogEvent, SEVERITIES } from '@logserver/shared/schemas/log-event';
import { v7 as uuidv7 } from 'uuid';

/** Deterministic pseudo-random numbers, so a failing conformance case can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const ACTIONS = ['create', 'update', 'delete', 'login', 'export'];
const TYPES = ['user', 'invoice', 'project'];
const AGENTS = ['Mozilla/5.0 (Windows NT 10.0)', 'curl/8.5.0', 'PostmanRuntime/7.36', null];

/** A stored-shape event for tests, hash included: tenant and overrides as given, the rest varied from the seed. */
export function makeEvent(tenant: string, overrides: Partial<LogEvent> = {}, random: () => number = Math.random): LogEvent {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const when = new Date(Date.UTC(2025, 0, 1) + Math.floor(random() * 90 * 86_400_000)).toISOString();
  const { hash: _given, ...content }: Partial<LogEvent> = overrides;
  return withHash({
    id: uuidv7(),
    tenant_id: tenant,
    user_id: pick(['u1', 'u2', 'u3']),
    action: pick(ACTIONS),
    resource_type: pick(TYPES),
    resource_id: String(Math.floor(random() * 20)),
    timestamp: when,
    received_at: when,
    ip_address: pick(['192.168.0.1', '10.0.0.7', '2001:db8::1', null]),
    user_agent: pick(AGENTS),
    before: random() < 0.5 ? { email: 'old@example.com', name: 'Old Name' } : null,
    after: random() < 0.5 ? { email: 'new@example.com', note: 'Price (a+)+$ .* 100%_off' } : null,
    metadata: random() < 0.5 ? { source: pick(['dashboard', 'api']) } : null,
    severity: pick(SEVERITIES),
    ...content,
  });
}

/** The event from the Python system's README, as its curl example posts it (the benchmark's body, the ingest guard's test). */
export const PYTHON_EVENT = {
  action: 'update',
  resource_type: 'user',
  resource_id: '123',
  timestamp: '2025-06-26T01:23:45.678Z',
  ip_address: '192.168.0.1',
  user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
  before: { email: 'old@example.com', name: 'Old Name' },
  after: { email: 'new@example.com', name: 'New Name' },
  metadata: { editor: 'admin', source: 'dashboard' },
  severity: 'WARNING',
} as const;
