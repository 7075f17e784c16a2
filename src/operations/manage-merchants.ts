import { randomInt, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { businessDaysMax, isCalendarDate } from '../domain/business-days.ts';
import type { Clock } from '../domain/clock.ts';
import { newId } from '../domain/ids.ts';
import type { Vault } from '../security/vault.ts';
import type { Storage } from '../storage/database.ts';
import {
  insertMerchant, listMerchants, loadMerchantByClientKey, updateMerchantSettings,
  type MerchantRecord, type MerchantSettings,
} from '../storage/merchants.ts';

/** The middle of the seeds' 10, 14 and 21 business days. */
export const defaultRefundDays = 14;

const passwordAlphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
export const passwordLength = 32;

/** 32 characters from a CSPRNG (about 186 bits): the hash signs only e-mail, PASSWORD and
 * card digits, so the PASSWORD must be long and random, never chosen by a person. */
export function generatePassword(): string {
  let password = '';
  for (let index = 0; index < passwordLength; index += 1) password += passwordAlphabet[randomInt(passwordAlphabet.length)];
  return password;
}

export class MerchantInputError extends Error {}

function checkAllowedIp(entry: string): void {
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  const prefixMax = family === 4 ? 32 : 128;
  const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= prefixMax);
  if (family === 0 || !prefixOk || rest.length > 0) throw new MerchantInputError(`not an IP address or CIDR range: ${entry}`);
}

function checkSettings(settings: Partial<MerchantSettings>): void {
  if (settings.email !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(settings.email)) {
    throw new MerchantInputError(`not an e-mail address: ${settings.email}`);
  }
  if (settings.callbackUrl) {
    let url: URL;
    try {
      url = new URL(settings.callbackUrl);
    } catch {
      throw new MerchantInputError(`not a URL: ${settings.callbackUrl}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MerchantInputError('the callback URL must be http or https');
    // The spec limits the notification URL to 255 symbols.
    if (settings.callbackUrl.length > 255) throw new MerchantInputError('the callback URL is longer than 255 characters');
  }
  for (const entry of settings.allowedIps ?? []) checkAllowedIp(entry);
  for (const channel of settings.channels ?? []) {
    if (channel === '' || channel.length > 16) throw new MerchantInputError(`a channel id is 1–16 characters: ${channel}`);
  }
  for (const origin of settings.frameOrigins ?? []) checkFrameOrigin(origin);
  if (settings.refundDays !== undefined && (!Number.isInteger(settings.refundDays) || settings.refundDays < 1 || settings.refundDays > businessDaysMax)) {
    throw new MerchantInputError(`refund days are a whole number from 1 to ${businessDaysMax}`);
  }
  for (const holiday of settings.holidays ?? []) {
    if (!isCalendarDate(holiday)) throw new MerchantInputError(`a holiday is a date written YYYY-MM-DD: ${holiday}`);
  }
}

/** Each setting's problem, by its name (the console shows each beside its field); none: valid. */
export function settingProblems(settings: Partial<MerchantSettings>): Partial<Record<keyof MerchantSettings, string>> {
  const problems: Partial<Record<keyof MerchantSettings, string>> = {};
  for (const [name, value] of Object.entries(settings) as [keyof MerchantSettings, unknown][]) {
    try {
      checkSettings({ [name]: value });
    } catch (error) {
      if (!(error instanceof MerchantInputError)) throw error;
      problems[name] = error.message;
    }
  }
  return problems;
}

/** An origin as CSP frame-ancestors takes it: scheme, host and optional port, nothing else,
 * so a setting can never smuggle another directive (`;`) or a wildcard into the header. */
function checkFrameOrigin(origin: string): void {
  let url: URL | undefined;
  try {
    url = new URL(origin);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== origin) {
    throw new MerchantInputError(`a frame origin is scheme://host[:port], e.g. https://shop.example: ${origin}`);
  }
}

/** The spec: the callback URL "is mandatory if your account supports 3D-Secure" — the result of
 * a 3-D Secure payment reaches the merchant by callback only. Checked on the settings a merchant
 * ends up with, at creation and at every edit. */
function checkThreeDsHasCallbackUrl(settings: Pick<MerchantSettings, 'threeDsEnabled' | 'callbackUrl'>): void {
  if (settings.threeDsEnabled && !settings.callbackUrl) {
    throw new MerchantInputError('a merchant with 3-D Secure needs a callback URL (the spec makes it mandatory)');
  }
}

export interface CreatedMerchant {
  merchant: MerchantRecord;
  password: string;
}

export async function createMerchant(
  dependencies: { storage: Storage; vault: Vault; clock: Clock }, settings: MerchantSettings,
): Promise<CreatedMerchant> {
  return addMerchant(dependencies, settings, { clientKey: randomUUID(), password: generatePassword() });
}

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Other platforms' passwords are not Kassa's 32 random characters, but a short one is a
 * guessable signing key (the hash signs only e-mail, PASSWORD and card digits). */
export const importedPasswordLengthMin = 16;

/**
 * A merchant moving from another platform of the family keeps its CLIENT_KEY and PASSWORD, so
 * its integration moves by changing one URL. The key must be a UUID (what requests are
 * checked against) not yet in use; the PASSWORD 16–255 printable ASCII characters, without
 * spaces. Stored encrypted like every PASSWORD.
 */
export async function importMerchant(
  dependencies: { storage: Storage; vault: Vault; clock: Clock }, settings: MerchantSettings,
  credentials: { clientKey: string; password: string },
): Promise<CreatedMerchant> {
  const clientKey = credentials.clientKey.toLowerCase();
  if (!uuidShape.test(clientKey)) throw new MerchantInputError(`a CLIENT_KEY is a UUID: ${credentials.clientKey}`);
  const { password } = credentials;
  if (password.length < importedPasswordLengthMin || password.length > 255 || !/^[\x21-\x7e]+$/.test(password)) {
    throw new MerchantInputError(
      `the PASSWORD must be ${importedPasswordLengthMin}–255 printable ASCII characters without spaces`,
    );
  }
  if (await loadMerchantByClientKey(dependencies.storage, clientKey)) {
    throw new MerchantInputError(`a merchant with client_key ${clientKey} already exists`);
  }
  return addMerchant(dependencies, settings, { clientKey, password });
}

async function addMerchant(
  dependencies: { storage: Storage; vault: Vault; clock: Clock }, settings: MerchantSettings,
  credentials: { clientKey: string; password: string },
): Promise<CreatedMerchant> {
  checkSettings(settings);
  checkThreeDsHasCallbackUrl(settings);
  const nowMs = dependencies.clock.nowMs();
  const merchant: MerchantRecord = {
    ...settings,
    merchantId: newId(nowMs),
    clientKey: credentials.clientKey,
    passwordCiphertext: dependencies.vault.encrypt(credentials.password),
    createdAtMs: nowMs,
  };
  await insertMerchant(dependencies.storage, merchant);
  return { merchant, password: credentials.password };
}

export async function updateMerchant(
  dependencies: { storage: Storage; clock: Clock }, clientKey: string, settings: Partial<MerchantSettings>,
): Promise<MerchantRecord> {
  checkSettings(settings);
  const merchant = await loadMerchantByClientKey(dependencies.storage, clientKey);
  if (!merchant) throw new MerchantInputError(`no merchant with client_key ${clientKey}`);
  checkThreeDsHasCallbackUrl({ ...merchant, ...settings });
  await updateMerchantSettings(dependencies.storage, merchant.merchantId, settings, dependencies.clock.nowMs());
  return (await loadMerchantByClientKey(dependencies.storage, clientKey))!;
}

export async function allMerchants(storage: Storage, limit = 10_000): Promise<MerchantRecord[]> {
  return listMerchants(storage, limit);
}

/** What the CLI shows of a merchant: everything but secrets. */
export function describeMerchant(merchant: MerchantRecord) {
  return {
    merchant_id: merchant.merchantId,
    client_key: merchant.clientKey,
    email: merchant.email,
    callback_url: merchant.callbackUrl,
    allowed_ips: merchant.allowedIps,
    channels: merchant.channels,
    three_ds: merchant.threeDsEnabled,
    s2s_card: merchant.s2sCardEnabled,
    descriptor: merchant.descriptor,
    frame_origins: merchant.frameOrigins ?? [],
    refund_days: merchant.refundDays ?? defaultRefundDays,
    holidays: merchant.holidays ?? [],
    hash_mode: merchant.hashDigest ?? 'md5',
    unknown_result: merchant.unknownResult ?? 'success',
  };
}
