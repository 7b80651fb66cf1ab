/** One `name=value` of a raw query string: the name as sent, the name as a server reads it, and where the value is. */
export interface RawParameter {
  /** The whole `name=value` as sent. */
  raw: string;
  rawName: string;
  /** The name after percent- and `+`-decoding, as URLSearchParams reads it; the raw name when it does not decode. */
  name: string;
  value: string;
}

/**
 * Splits a raw query string (without `?`) into its parameters without decoding the values. Names
 * are decoded as every parser of ours reads them, so `%74oken` is `token` here too: a rule on
 * the literal name alone let `?%74oken=<jwt>` through the log redaction and onto the stream.
 */
export function rawParameters(query: string): RawParameter[] {
  if (query === '') return [];
  return query.split('&').map((part) => {
    const at = part.indexOf('=');
    const rawName = at === -1 ? part : part.slice(0, at);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      // Not valid percent-encoding: kept as sent, which no rule of ours matches by accident.
    }
    return { raw: part, rawName, name, value: at === -1 ? '' : part.slice(at + 1) };
  });
}

/** Parameter names whose values are credentials, compared case-insensitively after decoding. */
export const CREDENTIAL_PARAMETERS = ['token', 'access_token'];

export const isCredentialName = (name: string): boolean => CREDENTIAL_PARAMETERS.includes(name.toLowerCase());
