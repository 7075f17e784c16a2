import type { AcquirerConnector } from '../acquirers/connector.ts';
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
