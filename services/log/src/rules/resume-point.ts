import { ValidationFailed } from '@logserver/shared/errors/catalogue';
import type { TenantId } from '@logserver/shared/store/tenant-id';
import type { CursorCodec, StreamPosition } from '@logserver/shared/stream/cursor';

const NOT_A_CURSOR =
  'not a cursor of this stream: pass the `cursor` of an event (or the `after=` of a closing frame) exactly as received, with a token of the same tenant';

/**
 * Where a stream or export resumes: the Last-Event-ID an EventSource sends on reconnect wins over
 * the `after=` of the URL it reconnects to (that one is older). Another tenant's, a forged or a
 * truncated cursor is a 422 like any bad parameter; it never says which of the three it was.
 */
export function resumePoint(
  cursors: CursorCodec,
  tenant: TenantId,
  given: { after?: string | undefined; lastEventId?: string | undefined },
): StreamPosition | null {
  const fromHeader = given.lastEventId !== undefined && given.lastEventId !== '';
  const text = fromHeader ? given.lastEventId : given.after;
  if (text === undefined) return null;
  const at = cursors.decode(tenant, text);
  if (at === null)
    throw new ValidationFailed([
      { loc: fromHeader ? ['header', 'last-event-id'] : ['query', 'after'], msg: NOT_A_CURSOR, type: 'value_error.cursor' },
    ]);
  return at;
}
