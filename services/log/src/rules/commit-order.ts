import type { StreamLog } from '@logserver/shared/feed/port';
import type { LogEvent } from '@logserver/shared/schemas/log-event';
import type { LogFilter } from '@logserver/shared/store/port';
import type { TenantId } from '@logserver/shared/store/tenant-id';
import type { CursorCodec, StreamPosition } from '@logserver/shared/stream/cursor';

const PAGE = 1000;

/** An event with the stream cursor of its commit position, as a commit-order export writes it. */
export type EventWithCursor = LogEvent & { cursor: string };

/**
 * The tenant's matching events committed after `after` (from the first when null), in commit order,
 * read a page at a time and yielding to the event loop between pages, each with its cursor.
 */
export async function* inCommitOrder(
  streamLog: Pick<StreamLog, 'after'>,
  cursors: CursorCodec,
  tenant: TenantId,
  filter: LogFilter,
  after: StreamPosition | null,
): AsyncIterable<EventWithCursor> {
  let position = after?.position ?? 0;
  for (;;) {
    const page = await streamLog.after(tenant, position, filter, PAGE);
    for (const entry of page) {
      position = entry.position;
      yield { ...entry.event, cursor: cursors.encode(tenant, { position: entry.position, id: entry.event.id }) };
    }
    if (page.length < PAGE) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
