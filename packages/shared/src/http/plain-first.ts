import type { FastifySchemaCompiler } from 'fastify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';

/** The parsed value when the input is one the guard knows is fine, else undefined (zod then decides). */
export type PlainParse = (data: unknown) => unknown;
/** The JSON text when the answer is one the guard knows the schema passes unchanged, else undefined (zod then encodes). */
export type PlainSerialize = (data: unknown) => string | undefined;

/**
 * A route's validator: for each request part named in `plain`, its guard first and the route's zod
 * schema only when the guard says undefined, so every error (and its 422 message) is still zod's.
 * Only for the hottest routes, whose guards are tested side by side with their schemas.
 */
export function plainFirstValidator<S>(plain: Partial<Record<'body' | 'headers', PlainParse>>): FastifySchemaCompiler<S> {
  return (route) => {
    // Each part's schema is a zod schema; the type parameter is the route's whole schema object.
    const zod = validatorCompiler(route as unknown as Parameters<typeof validatorCompiler>[0]);
    const guard = plain[route.httpPart as 'body' | 'headers'];
    if (guard === undefined) return zod;
    return (data) => {
      const value = guard(data);
      return value === undefined ? zod(data) : { value };
    };
  };
}

/** A route's response serializer: the guard for the listed status codes, zod's encode for the rest and whenever the guard declines. */
export function plainFirstSerializer<S>(plain: Record<number, PlainSerialize>): FastifySerializerCompiler<S> {
  return (route) => {
    const zod = serializerCompiler(route as unknown as Parameters<typeof serializerCompiler>[0]);
    const guard = plain[Number(route.httpStatus)];
    if (guard === undefined) return zod;
    return (data) => guard(data) ?? zod(data);
  };
}
