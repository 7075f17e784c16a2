import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Encrypts card numbers and merchant passwords at rest with AES-256-GCM. Each ciphertext names
 * the key that made it, so keys can be rotated: the newest key encrypts, and every key still
 * listed can decrypt. Fingerprints (HMAC-SHA-256 under a key derived from the newest key)
 * let the platform find equal PANs without decrypting them.
 */
/** AES-GCM needs a unique 96-bit IV per encryption under one key; random ones are the usual
 * way. They are cut from a pool refilled by the CSPRNG (as uuid does for its ids): one
 * randomBytes call per encryption was ~3% of a SALE's CPU. */
const ivBytes = 12;
const ivPoolBytes = ivBytes * 512;
let ivPool = Buffer.alloc(0);
let ivOffset = 0;

function nextInitializationVector(): Buffer {
  if (ivOffset + ivBytes > ivPool.length) {
    ivPool = randomBytes(ivPoolBytes);
    ivOffset = 0;
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + ivBytes);
  ivOffset += ivBytes;
  return iv;
}

export class Vault {
  readonly #keysById = new Map<string, Buffer>();
  readonly #currentKeyId: string;
  readonly #fingerprintKey: Buffer;
  readonly #signingKey: Buffer;
  /** True when openVault just wrote a new secret.key (server start warns if data exists). */
  keyFileCreated = false;

  constructor(masterKeys: Buffer[]) {
    if (masterKeys.length === 0) throw new Error('the vault needs at least one key');
    for (const master of masterKeys) {
      if (master.length !== 32) throw new Error('vault keys are 32 bytes (64 hex characters)');
      this.#keysById.set(keyIdOf(master), derive(master, 'kassa card encryption v1'));
    }
    this.#currentKeyId = keyIdOf(masterKeys[0]);
    this.#fingerprintKey = derive(masterKeys[0], 'kassa fingerprint v1');
    this.#signingKey = derive(masterKeys[0], 'kassa signing v1');
  }

  get currentKeyId(): string {
    return this.#currentKeyId;
  }

  encrypt(plaintext: string): string {
    const iv = nextInitializationVector();
    const cipher = createCipheriv('aes-256-gcm', this.#keysById.get(this.#currentKeyId)!, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return ['v1', this.#currentKeyId, iv.toString('base64url'), tag.toString('base64url'), body.toString('base64url')].join('.');
  }

  decrypt(ciphertext: string): string {
    const [version, keyId, iv, tag, body] = ciphertext.split('.');
    const key = this.#keysById.get(keyId ?? '');
    if (version !== 'v1' || !key || !iv || !tag || body === undefined) throw new Error('ciphertext not readable with the configured keys');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** HMAC for links and tokens the platform hands out (TermUrl, PaReq, PaRes): `purpose` keeps
   * a signature made for one use from being accepted for another. */
  sign(purpose: string, text: string): string {
    return createHmac('sha256', this.#signingKey).update(`${purpose}\n${text}`, 'utf8').digest('base64url');
  }

  verify(purpose: string, text: string, signature: string): boolean {
    const expected = Buffer.from(this.sign(purpose, text));
    const received = Buffer.from(signature);
    return expected.length === received.length && timingSafeEqual(expected, received);
  }

  fingerprint(text: string): string {
    return createHmac('sha256', this.#fingerprintKey).update(text, 'utf8').digest('base64url');
  }
}

function derive(master: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), purpose, 32));
}

function keyIdOf(master: Buffer): string {
  return createHash('sha256').update('kassa key id').update(master).digest('hex').slice(0, 8);
}

function parseKey(text: string, origin: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-f]{64}$/i.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const decoded = Buffer.from(trimmed, 'base64');
  if (decoded.length === 32) return decoded;
  throw new Error(`${origin} must be 32 bytes as 64 hex characters or base64`);
}

export interface VaultConfig {
  /** KASSA_SECRET_KEY: the current key. */
  secretKey?: string;
  /** KASSA_PREVIOUS_SECRET_KEYS: comma-separated retired keys, still able to decrypt. */
  previousSecretKeys?: string;
  /** Where the generated key file lives when no key is configured. */
  dataDirectory: string;
}

/** The key comes from KASSA_SECRET_KEY, or from `<data dir>/secret.key`, created (mode 0600)
 * on first start. Creation uses O_EXCL so a server and a CLI starting together agree on one. */
export function openVault(config: VaultConfig): Vault {
  const keys: Buffer[] = [];
  let keyFileCreated = false;
  if (config.secretKey) {
    keys.push(parseKey(config.secretKey, 'KASSA_SECRET_KEY'));
  } else {
    const file = join(config.dataDirectory, 'secret.key');
    mkdirSync(config.dataDirectory, { recursive: true });
    try {
      writeFileSync(file, randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 });
      keyFileCreated = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    keys.push(parseKey(readFileSync(file, 'utf8'), file));
  }
  for (const previous of (config.previousSecretKeys ?? '').split(',').filter((text) => text.trim() !== '')) {
    keys.push(parseKey(previous, 'KASSA_PREVIOUS_SECRET_KEYS'));
  }
  const vault = new Vault(keys);
  vault.keyFileCreated = keyFileCreated;
  return vault;
}
