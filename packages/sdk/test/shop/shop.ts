// A merchant's own TypeScript program, compiled against the packed @kassa/sdk by the test in
// ../merchant-project.process.test.ts: what a merchant writes after reading the SDK's README.
import { createServer } from 'node:http';
import { isError, KassaClient, nodeCallbackHandler, type ReceivedFields, type SaleRequest } from '@kassa/sdk';

const environment = process.env as Record<string, string>;
const email = 'doe@example.com';
const card = { number: '4111111111111111', year: '2025', cvv: '000' };
const shop = new KassaClient({ url: environment.KASSA_URL, clientKey: environment.SHOP_KEY, password: environment.SHOP_PASSWORD });
const secure = new KassaClient({ url: environment.KASSA_URL, clientKey: environment.SECURE_KEY, password: environment.SECURE_PASSWORD });

const received: ReceivedFields[] = [];
const shopCallbacks = nodeCallbackHandler({
  password: environment.SHOP_PASSWORD, emailOf: () => email, onCallback: (fields) => { received.push(fields); },
});
const secureCallbacks = nodeCallbackHandler({
  password: environment.SECURE_PASSWORD, emailOf: () => email, onCallback: (fields) => { received.push(fields); },
});
const server = createServer((request, response) => {
  if (request.url === '/shop') return void shopCallbacks(request, response);
  return void secureCallbacks(request, response);
});
await new Promise<void>((resolve) => server.listen(Number(environment.CALLBACK_PORT), '127.0.0.1', resolve));

function order(month: string): SaleRequest {
  return {
    order_id: `SHOP-${month}-${Date.now()}`, order_amount: '25.00', order_currency: 'EUR', order_description: 'Shoes',
    card_number: card.number, card_exp_month: month, card_exp_year: card.year, card_cvv2: card.cvv,
    payer_first_name: 'Jane', payer_last_name: 'Doe', payer_address: 'Main street 1', payer_country: 'DE',
    payer_city: 'Berlin', payer_zip: '10115', payer_email: email, payer_phone: '4915112345678', payer_ip: '203.0.113.7',
    term_url_3ds: 'https://shop.example/thanks',
  };
}

function hiddenInputs(page: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    values[match[1]] = match[2].replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  }
  return values;
}

async function postForm(url: string, fields: Record<string, string>): Promise<string> {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
  return response.text();
}

const sale = await shop.sale(order('01'));
if (isError(sale) || sale.result !== 'SUCCESS') throw new Error(`SALE: ${JSON.stringify(sale)}`);
const refund = await shop.creditvoid({ trans_id: sale.trans_id, amount: '5.00' }, { email, card: card.number });

// 3-D Secure as the cardholder's browser does it: the emulated issuer's page, the code, the TermUrl.
const challenge = await secure.sale(order('05'));
if (challenge.result !== 'REDIRECT' || Array.isArray(challenge.redirect_params)) {
  throw new Error(`3-D Secure: ${JSON.stringify(challenge)}`);
}
const acsPage = await postForm(challenge.redirect_url, challenge.redirect_params);
const toTermUrl = await postForm(new URL('/emulator/acs/verify', challenge.redirect_url).href, {
  ...hiddenInputs(acsPage), code: '123456', decision: 'confirm',
});
await postForm(challenge.redirect_params.TermUrl, hiddenInputs(toTermUrl));
const afterChallenge = await secure.getTransStatus({ trans_id: challenge.trans_id }, { email, card: card.number });

const wanted = (fields: ReceivedFields, action: string, transId: string) =>
  fields.action === action && fields.trans_id === transId && fields.result === 'SUCCESS';
const deadlineMs = Date.now() + 20_000;
while (Date.now() < deadlineMs) {
  const all = [
    received.some((fields) => wanted(fields, 'SALE', sale.trans_id)),
    received.some((fields) => wanted(fields, 'CREDITVOID', sale.trans_id)),
    received.some((fields) => wanted(fields, 'SALE', challenge.trans_id) && fields.status === 'SETTLED'),
  ].every(Boolean);
  if (all) break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
server.close();
process.stdout.write(`${JSON.stringify({
  sale, refund, challenge: { result: challenge.result, status: challenge.status }, afterChallenge,
  callbacks: received.map((fields) => `${fields.action} ${fields.result} ${fields.status ?? ''} ${fields.trans_id}`),
})}\n`);
