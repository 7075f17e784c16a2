import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import qs from 'qs';

/** Limits that keep one request small: the largest legal SALE is well under 16 KiB. */
export const bodyLimitBytes = 64 * 1024;
const fieldCountMax = 200;

/**
 * PHP bracket syntax (`parameters[param1]=value1`) becomes `{ parameters: { param1: 'value1' } }`,
 * one level deep, as the reference platform reads it. A repeated key keeps its last value, as
 * PHP does. Prototype keys are dropped.
 */
export function parseFormText(text: string): Record<string, unknown> {
  return qs.parse(text, {
    depth: 1,
    parameterLimit: fieldCountMax,
    arrayLimit: 0,
    parseArrays: false,
    allowPrototypes: false,
    duplicates: 'last',
    strictDepth: false,
  }) as Record<string, unknown>;
}

type FormFields = Record<string, unknown>;

/** A body that claims to be a form but cannot be read as one (e.g. multipart without a boundary).
 * Answered like every other malformed body: the API's requestInvalid, a 400 page for people. */
export class BodyParsingError extends Error {
  readonly code = 'KASSA_BODY_MALFORMED';
  readonly statusCode = 400;
}

/** Failures of reading the body, as Fastify, its multipart plugin or this module raise them. */
export function isBodyParsingError(error: unknown): boolean {
  if (error instanceof BodyParsingError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('FST_');
}

/**
 * The API accepts urlencoded and multipart forms (the spec's Appendix B sends multipart, later
 * versions urlencoded, real clients both). Every other content type, JSON included, is refused
 * by Fastify and answered by the error handler with the protocol's error shape.
 */
export async function registerFormParsers(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: bodyLimitBytes },
    (_request, body, done) => {
      done(null, parseFormText(body as string));
    });
  await app.register(multipart, {
    limits: { fields: fieldCountMax, fieldSize: 16 * 1024, files: 0, fileSize: 0, parts: fieldCountMax, fieldNameSize: 200 },
  });
  // Read here rather than by the plugin's attachFieldsToBody: busboy's own failures (no
  // boundary, an unreadable Content-Type) are plain Errors that would otherwise become a 500.
  app.addHook('preValidation', async (request) => {
    if (request.isMultipart()) request.body = await readMultipartFields(request);
  });
}

/** Multipart fields arrive flat (`parameters[a]`); they are brought to the urlencoded shape, and a
 * repeated key keeps its last value, as in a urlencoded body. */
async function readMultipartFields(request: FastifyRequest): Promise<FormFields> {
  const search = new URLSearchParams();
  try {
    for await (const part of request.parts()) {
      if (part.type !== 'field') throw new BodyParsingError('a payment form carries no files');
      if (typeof part.value === 'string') search.append(part.fieldname, part.value);
    }
  } catch (error) {
    if (isBodyParsingError(error)) throw error;
    throw new BodyParsingError(`unreadable multipart body: ${(error as Error).message}`);
  }
  return parseFormText(search.toString());
}

/** The parsed form of a request, urlencoded or multipart, in one shape; `{}` without a body. */
export function formFieldsOf(request: FastifyRequest): FormFields {
  const body = request.body;
  if (!body || typeof body !== 'object') return {};
  return body as FormFields;
}

/** A field as text: absent, repeated or nested values read as ''. */
export function textField(fields: FormFields, name: string): string {
  const value = fields[name];
  return typeof value === 'string' ? value : '';
}
