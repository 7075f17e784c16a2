import type { AcquirerConnector } from '../acquirers/connector.ts';
import { parameterSetProblems } from '../domain/parameter-sets.ts';
import type { FieldError } from '../protocol/errors.ts';
import { messages } from '../protocol/validation.ts';

/** Appendix C: the extra `parameters[...]` the connector declares for this action. */
export function requiredParametersOf(acquirer: AcquirerConnector, action: string): readonly string[] {
  if (acquirer.requiredParametersFor) return acquirer.requiredParametersFor(action);
  return action === 'SALE' ? acquirer.requiredParameters : [];
}

/** One `parameters[name]: This value should not be blank.` per missing required parameter. */
export function missingParameterErrors(acquirer: AcquirerConnector, action: string, parameters: Record<string, string>): FieldError[] {
  return requiredParametersOf(acquirer, action)
    .filter((name) => !parameters[name])
    .map((name) => ({ field: `parameters[${name}]`, message: messages.blank }));
}

/** A MID's Appendix C sets (ADR 0055) against the request's parameters, as field errors. */
export function parameterSetErrors(sets: readonly string[], parameters: Record<string, string>): FieldError[] {
  return parameterSetProblems(sets, parameters).map(({ name, problem, maxLength }) => ({
    field: `parameters[${name}]`,
    message: problem === 'blank'
      ? messages.blank
      : problem === 'tooLong' ? messages.tooLong(maxLength!) : messages.invalid,
  }));
}
