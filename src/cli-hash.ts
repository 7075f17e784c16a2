import { readFileSync } from 'node:fs';
import { requestSignature } from '../packages/sdk/src/signatures.ts';
import { hashesMatch } from './protocol/hash.ts';

/** `kassa hash …`: computes or checks a request's hash offline, by the action's formula. */
export const hashUsage = `  kassa hash ACTION field=value ... --password-file FILE
                         [--hash-mode md5|sha256] [--check HASH]
                         the hash of ACTION's request (Appendix A); with --check, says whether
                         HASH matches (exit 0) or not (exit 1). Actions on a payment also take
                         payer_email=… card=… (its e-mail and card or mask); FORMULA_8 signs
                         payer_email only. Needs no database.`;

export class HashInputError extends Error {}

interface HashIo {
  stdout(text: string): void;
}

export function hashCommand(
  io: HashIo,
  action: string | undefined,
  pairs: string[],
  options: { passwordFile?: string; hashMode?: string; check?: string },
): number {
  if (!action) throw new HashInputError('kassa hash needs an ACTION, e.g. kassa hash SALE payer_email=… card_number=…');
  if (!options.passwordFile) throw new HashInputError('--password-file is required (a file holding the PASSWORD)');
  if (options.hashMode !== undefined && options.hashMode !== 'md5' && options.hashMode !== 'sha256') {
    throw new HashInputError('--hash-mode takes md5 or sha256');
  }
  const fields: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new HashInputError(`a field is name=value: ${pair}`);
    fields[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  let password: string;
  try {
    password = readFileSync(options.passwordFile, 'utf8').replace(/\r?\n$/, '');
  } catch {
    throw new HashInputError(`cannot read --password-file ${options.passwordFile}`);
  }
  const hash = requestSignature(action, fields, password, options.hashMode as 'md5' | 'sha256' | undefined);
  if (hash === undefined) throw new HashInputError(`no formula for the action ${action}`);
  if (options.check === undefined) {
    io.stdout(`${hash}\n`);
    return 0;
  }
  const matches = hashesMatch(hash, options.check);
  io.stdout(
    matches ? 'the hash matches\n' : `the hash does not match: expected by ${action}'s formula from these fields\n`,
  );
  return matches ? 0 : 1;
}
