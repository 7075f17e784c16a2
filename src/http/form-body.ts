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
    attachFieldsToBody: 'keyValues',
    limits: { fields: fieldCountMax, fieldSize: 16 * 1024, files: 0, fileSize: 0, parts: fieldCountMax, fieldNameSize: 200 },
  });
}

/** Multipart fields arrive flat (`{ 'parameters[a]': 'b' }`); bring them to the urlencoded shape. */
export function normalizeMultipartFields(body: Record<string, unknown>): Record<string, unknown> {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === 'string') search.append(key, value);
  }
  return parseFormText(search.toString());
}

type FormFields = Record<string, unknown>;

/** The parsed form of a request, urlencoded or multipart, in one shape; `{}` without a body. */
export function formFieldsOf(request: FastifyRequest): FormFields {
  const body = request.body;
  if (!body || typeof body !== 'object') return {};
  return request.isMultipart() ? normalizeMultipartFields(body as FormFields) : (body as FormFields);
}

/** A field as text: absent, repeated or nested values read as ''. */
export function textField(fields: FormFields, name: string): string {
  const value = fields[name];
  return typeof value === 'string' ? value : '';
}
