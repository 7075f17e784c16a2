import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Console passwords, hashed with scrypt (memory-hard, in node:crypto: no native add-on).
 * Parameters in docs/adr/0081: N = 2^15, r = 8, p = 1 (32 MiB per hash, ~0.1 s on the reference
 * machine), a 16-byte salt and a 32-byte key. They are written into each hash, so raising them
 * later leaves old hashes verifiable.
 */
export const scryptParameters = { logN: 15, r: 8, p: 1, keyBytes: 32, saltBytes: 16 } as const;

/** Console passwords shorter than this are refused (NIST SP 800-63B's floor is 8; 12 is ours). */
export const passwordLengthMin = 12;
export const passwordLengthMax = 256;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number, keyBytes: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 128 * r * 2 ** logN * 2 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyBytes, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const { logN, r, p, keyBytes, saltBytes } = scryptParameters;
  const salt = randomBytes(saltBytes);
  const key = await derive(password, salt, logN, r, p, keyBytes);
  return ['scrypt', logN, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Bounds on parameters read back from a stored hash: a corrupted row must not ask for 2^40 work. */
function parsed(stored: string) {
  const [scheme, logN, r, p, salt, key] = stored.split('$');
  const numbers = [Number(logN), Number(r), Number(p)];
  if (scheme !== 'scrypt' || !numbers.every(Number.isInteger) || numbers[0] < 10 || numbers[0] > 20) return undefined;
  if (numbers[1] < 1 || numbers[1] > 32 || numbers[2] < 1 || numbers[2] > 16 || !salt || !key) return undefined;
  return {
    logN: numbers[0],
    r: numbers[1],
    p: numbers[2],
    salt: Buffer.from(salt, 'base64url'),
    key: Buffer.from(key, 'base64url'),
  };
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = parsed(stored);
  if (!parts || parts.key.length < 16) return false;
  const key = await derive(password, parts.salt, parts.logN, parts.r, parts.p, parts.key.length);
  return timingSafeEqual(key, parts.key);
}

/** A hash of nothing anyone knows: verified against when the e-mail is unknown, so an unknown
 * account takes as long to refuse as a wrong password does. */
let decoyHash: Promise<string> | undefined;
export function decoyPasswordHash(): Promise<string> {
  decoyHash ??= hashPassword(randomBytes(18).toString('base64url'));
  return decoyHash;
}

/** 20 random characters from an alphabet without look-alikes (~115 bits), shown once. */
export function generateConsolePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(40);
  let password = '';
  for (const byte of bytes) {
    // Rejection sampling keeps every character equally likely (256 is not a multiple of 54).
    if (byte < 216 && password.length < 20) password += alphabet[byte % alphabet.length];
  }
  return password.length === 20 ? password : generateConsolePassword();
}
