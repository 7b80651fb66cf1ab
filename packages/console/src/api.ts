/**
 * The console's only way to the server: the public API with the user's own token in the
 * Authorization header. No cookies (credentials: 'omit'), so an embedding page needs none either.
 */

export interface Envelope<T> {
  code: number;
  msg: string;
  data: T;
  meta?: Record<string, unknown>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }

  /** The API's reason, with the fields a 422 names. */
  get reason(): string {
    if (!Array.isArray(this.details)) return this.message;
    const fields = this.details
      .map((item: { loc?: unknown[]; msg?: string }) => `${(item.loc ?? []).filter((part) => part !== 'query').join('.')}: ${item.msg}`)
      .join('; ');
    return fields ? `${this.message} (${fields})` : this.message;
  }
}

export type Params = Record<string, string | undefined>;

export function queryString(params: Params): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

export class ApiClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly token: string,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** A raw request: the caller reads the body (export streams it). Throws ApiError on a non-2xx answer. */
  async fetch(path: string, init: RequestInit & { params?: Params } = {}): Promise<Response> {
    const { params = {}, ...rest } = init;
    const headers = new Headers(rest.headers);
    headers.set('authorization', `Bearer ${this.token}`);
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}${queryString(params)}`, { ...rest, headers, credentials: 'omit', cache: 'no-store' });
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') throw error;
      throw new ApiError(0, `The server at ${this.baseUrl} cannot be reached`);
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  async call<T>(path: string, init: RequestInit & { params?: Params } = {}): Promise<Envelope<T>> {
    const response = await this.fetch(path, init);
    return (await response.json()) as Envelope<T>;
  }

  get<T>(path: string, params: Params = {}): Promise<Envelope<T>> {
    return this.call<T>(path, { params });
  }

  post<T>(path: string, body: unknown): Promise<Envelope<T>> {
    return this.call<T>(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  }

  /**
   * The WebSocket stream's address. Browsers cannot set headers on a WebSocket, so this is the one
   * request whose token travels in the query string, as the stream route allows (README "Live stream").
   */
  streamUrl(params: Params): string {
    const base = this.baseUrl ? new URL(this.baseUrl, location.href) : new URL(location.origin);
    base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${base.origin}${base.pathname.replace(/\/+$/, '')}/api/v1/logs/stream${queryString({ ...params, token: this.token })}`;
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as Envelope<unknown>;
    return new ApiError(response.status, body.msg || response.statusText, body.data);
  } catch {
    return new ApiError(response.status, `${response.status} ${response.statusText}`);
  }
}
