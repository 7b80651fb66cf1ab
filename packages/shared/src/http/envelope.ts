/** The Python system's response envelope, kept so its clients keep working. */
export interface Envelope<T, M = undefined> {
  code: number;
  msg: string;
  data: T;
  meta?: M;
}

export function ok<T>(data: T): Envelope<T>;
export function ok<T, M>(data: T, meta: M): Envelope<T, M>;
export function ok<T, M>(data: T, meta?: M): Envelope<T, M | undefined> {
  return meta === undefined ? { code: 200, msg: 'ok', data } : { code: 200, msg: 'ok', data, meta };
}

/**
 * `JSON.stringify(ok(data, meta))` when `data` is already JSON text: the list's page, joined from its
 * events' stored texts, is put in as it is.
 */
export function okText(dataJson: string, meta: unknown): string {
  return `{"code":200,"msg":"ok","data":${dataJson},"meta":${JSON.stringify(meta)}}`;
}

export function failure<T = null>(code: number, msg: string, data: T = null as T): Envelope<T> {
  return { code, msg, data };
}
