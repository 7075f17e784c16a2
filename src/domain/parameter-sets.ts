/**
 * Appendix C's parameter sets (ADR 0055): the extra `parameters[...]` some acquirers need, with
 * their formats, by the spec's set names. A MID can be told it needs sets (`parameterSets` in
 * its settings); its payments are then validated against them. Pure.
 */

export interface ParameterRule {
  name: string;
  required: boolean;
  /** What a value must look like; absent: any non-empty text. */
  pattern?: RegExp;
  maxLength?: number;
}

const twoDigits = /^\d{2}$/;

export const parameterSets: Readonly<Record<string, readonly ParameterRule[]>> = {
  // Set 1: installments, "Numeric justified to 2 digits".
  BNG: [
    { name: 'bnrg_installm_def', required: true, pattern: twoDigits },
    { name: 'bnrg_installm_months', required: true, pattern: twoDigits },
    { name: 'bnrg_installm_plan', required: true, pattern: twoDigits },
  ],
  // Set 2: the customer's tax document ("Possible values: cpf").
  FCP: [
    { name: 'document_type', required: true, pattern: /^cpf$/ },
    { name: 'document_number', required: true },
    { name: 'social_name', required: true },
    { name: 'fiscal_country', required: true, pattern: /^[A-Z]{2}$/ },
  ],
  // Set 3: optional contact and shipping details; the postcode at most 9 characters, the
  // country a 3-letter code.
  TWD: [
    { name: 'customer_phone', required: false },
    { name: 'customer_telnocc', required: false },
    { name: 'shipping_street1', required: false },
    { name: 'shipping_city', required: false },
    { name: 'shipping_state', required: false },
    { name: 'shipping_postcode', required: false, maxLength: 9 },
    { name: 'shipping_country', required: false, pattern: /^[A-Z]{3}$/ },
  ],
};

export type ParameterProblem = { name: string; problem: 'blank' | 'invalid' | 'tooLong'; maxLength?: number };

/** Every problem of the request's parameters against the sets, in the sets' order. */
export function parameterSetProblems(
  sets: readonly string[], parameters: Readonly<Record<string, string>>,
): ParameterProblem[] {
  const problems: ParameterProblem[] = [];
  for (const set of sets) {
    for (const rule of parameterSets[set] ?? []) {
      const value = parameters[rule.name];
      if (value === undefined || value === '') {
        if (rule.required) problems.push({ name: rule.name, problem: 'blank' });
      } else if (rule.maxLength !== undefined && value.length > rule.maxLength) {
        problems.push({ name: rule.name, problem: 'tooLong', maxLength: rule.maxLength });
      } else if (rule.pattern && !rule.pattern.test(value)) {
        problems.push({ name: rule.name, problem: 'invalid' });
      }
    }
  }
  return problems;
}
