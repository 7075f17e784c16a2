/** The cardholder pages speak English, Russian and Kazakh — the languages of the merchants whose
 * terms pages Kassa follows — and Uzbek in its official Latin script (oʻ and gʻ with U+02BB,
 * the tutuq belgisi ʼ with U+02BC). `?lang=` wins, then Accept-Language, then English. */
export const languages = ['en', 'ru', 'kk', 'uz'] as const;
export type Language = (typeof languages)[number];

export const languageNames: Record<Language, string> = { en: 'English', ru: 'Русский', kk: 'Қазақша', uz: 'Oʻzbekcha' };

const catalogue = {
  en: {
    threeDsIntroNoPhone: 'Confirm the payment with the one-time code your bank sent you by SMS.',
    testMode: 'TEST MODE',
    issuerBank: 'Test Issuer Bank',
    threeDsTitle: '3-D Secure verification',
    threeDsIntro: 'Confirm the payment with the one-time code your bank sent by SMS to {phone}.',
    merchant: 'Merchant',
    amount: 'Amount',
    card: 'Card',
    order: 'Order',
    codeLabel: 'One-time code from the SMS',
    confirm: 'Confirm',
    cancel: 'Cancel',
    testHint: 'Sandbox: the code is {code}. No SMS is sent.',
    wrongCode: 'Wrong code. Attempts left: {count}.',
    codeFormat: 'Enter the 6-digit code from the SMS.',
    noSms: 'Did not receive the code? Contact the bank that issued your card.',
    continue: 'Continue',
    codeAccepted: 'Code accepted. Finishing the payment…',
    authenticationFailed: '3-D Secure authentication failed.',
    returning: 'Returning to the shop…',
    returnToShop: 'Return to the shop',
    paymentSucceeded: 'The payment went through.',
    paymentDeclined: 'The payment was declined: {reason}',
    paymentPending: 'The payment is being processed; the shop will be told the result.',
    redirectTitle: 'Payment provider',
    redirectIntro: '{merchant} sent you here to confirm the payment.',
    pay: 'Pay {amount}',
    errorTitle: 'This payment cannot continue',
    notWaiting: 'The payment is no longer waiting for confirmation: it was completed, cancelled or it expired.',
    badLink: 'This link is not valid. Go back to the shop and start the payment again.',
    languageLabel: 'Language',
  },
  ru: {
    threeDsIntroNoPhone: 'Подтвердите платёж одноразовым кодом, который банк отправил вам в SMS.',
    testMode: 'ТЕСТОВЫЙ РЕЖИМ',
    issuerBank: 'Тестовый банк-эмитент',
    threeDsTitle: 'Проверка 3-D Secure',
    threeDsIntro: 'Подтвердите платёж одноразовым кодом, который банк отправил в SMS на номер {phone}.',
    merchant: 'Магазин',
    amount: 'Сумма',
    card: 'Карта',
    order: 'Заказ',
    codeLabel: 'Одноразовый код из SMS',
    confirm: 'Подтвердить',
    cancel: 'Отмена',
    testHint: 'Песочница: код {code}. SMS не отправляется.',
    wrongCode: 'Неверный код. Осталось попыток: {count}.',
    codeFormat: 'Введите 6-значный код из SMS.',
    noSms: 'Не получили код? Обратитесь в банк, выпустивший карту.',
    continue: 'Продолжить',
    codeAccepted: 'Код принят. Завершаем платёж…',
    authenticationFailed: 'Проверка 3-D Secure не пройдена.',
    returning: 'Возвращаемся в магазин…',
    returnToShop: 'Вернуться в магазин',
    paymentSucceeded: 'Платёж прошёл.',
    paymentDeclined: 'Платёж отклонён: {reason}',
    paymentPending: 'Платёж обрабатывается; магазин получит результат.',
    redirectTitle: 'Платёжный провайдер',
    redirectIntro: 'Магазин {merchant} направил вас сюда, чтобы подтвердить платёж.',
    pay: 'Оплатить {amount}',
    errorTitle: 'Этот платёж нельзя продолжить',
    notWaiting: 'Платёж больше не ожидает подтверждения: он завершён, отменён или истёк срок.',
    badLink: 'Ссылка недействительна. Вернитесь в магазин и начните оплату заново.',
    languageLabel: 'Язык',
  },
  kk: {
    threeDsIntroNoPhone: 'Банк сізге SMS арқылы жіберген бір реттік кодпен төлемді растаңыз.',
    testMode: 'ТЕСТ РЕЖИМІ',
    issuerBank: 'Тест эмитент банкі',
    threeDsTitle: '3-D Secure тексеруі',
    threeDsIntro: 'Банк {phone} нөміріне SMS арқылы жіберген бір реттік кодпен төлемді растаңыз.',
    merchant: 'Дүкен',
    amount: 'Сома',
    card: 'Карта',
    order: 'Тапсырыс',
    codeLabel: 'SMS-тегі бір реттік код',
    confirm: 'Растау',
    cancel: 'Болдырмау',
    testHint: 'Құмсалғыш: код {code}. SMS жіберілмейді.',
    wrongCode: 'Код қате. Қалған әрекет саны: {count}.',
    codeFormat: 'SMS-тегі 6 таңбалы кодты енгізіңіз.',
    noSms: 'Код келмеді ме? Картаны шығарған банкке хабарласыңыз.',
    continue: 'Жалғастыру',
    codeAccepted: 'Код қабылданды. Төлемді аяқтап жатырмыз…',
    authenticationFailed: '3-D Secure тексеруі сәтсіз аяқталды.',
    returning: 'Дүкенге қайтып жатырмыз…',
    returnToShop: 'Дүкенге оралу',
    paymentSucceeded: 'Төлем өтті.',
    paymentDeclined: 'Төлем қабылданбады: {reason}',
    paymentPending: 'Төлем өңделуде; нәтижесі дүкенге хабарланады.',
    redirectTitle: 'Төлем провайдері',
    redirectIntro: '{merchant} дүкені сізді төлемді растау үшін осында жіберді.',
    pay: '{amount} төлеу',
    errorTitle: 'Бұл төлемді жалғастыру мүмкін емес',
    notWaiting: 'Төлем енді растауды күтпейді: ол аяқталған, болдырылмаған немесе мерзімі өткен.',
    badLink: 'Сілтеме жарамсыз. Дүкенге оралып, төлемді қайта бастаңыз.',
    languageLabel: 'Тіл',
  },
  uz: {
    threeDsIntroNoPhone: 'Toʻlovni bankingiz sizga SMS orqali yuborgan bir martalik kod bilan tasdiqlang.',
    testMode: 'TEST REJIMI',
    issuerBank: 'Test emitent banki',
    threeDsTitle: '3-D Secure tekshiruvi',
    threeDsIntro: 'Toʻlovni bankingiz {phone} raqamiga SMS orqali yuborgan bir martalik kod bilan tasdiqlang.',
    merchant: 'Doʻkon',
    amount: 'Summa',
    card: 'Karta',
    order: 'Buyurtma',
    codeLabel: 'SMS xabardagi bir martalik kod',
    confirm: 'Tasdiqlash',
    cancel: 'Bekor qilish',
    testHint: 'Sinov muhiti: kod {code}. SMS yuborilmaydi.',
    wrongCode: 'Kod notoʻgʻri. Qolgan urinishlar: {count}.',
    codeFormat: 'SMS xabardagi 6 xonali kodni kiriting.',
    noSms: 'Kod kelmadimi? Kartangizni chiqargan bankka murojaat qiling.',
    continue: 'Davom etish',
    codeAccepted: 'Kod qabul qilindi. Toʻlov yakunlanmoqda…',
    authenticationFailed: '3-D Secure tekshiruvidan oʻtilmadi.',
    returning: 'Doʻkonga qaytilmoqda…',
    returnToShop: 'Doʻkonga qaytish',
    paymentSucceeded: 'Toʻlov amalga oshirildi.',
    paymentDeclined: 'Toʻlov rad etildi: {reason}',
    paymentPending: 'Toʻlov koʻrib chiqilmoqda; natija doʻkonga xabar qilinadi.',
    redirectTitle: 'Toʻlov provayderi',
    redirectIntro: '{merchant} doʻkoni sizni toʻlovni tasdiqlash uchun shu yerga yoʻnaltirdi.',
    pay: '{amount} toʻlash',
    errorTitle: 'Bu toʻlovni davom ettirib boʻlmaydi',
    notWaiting: 'Toʻlov endi tasdiqlashni kutmayapti: u yakunlangan, bekor qilingan yoki muddati oʻtgan.',
    badLink: 'Havola yaroqsiz. Doʻkonga qaytib, toʻlovni qaytadan boshlang.',
    languageLabel: 'Til',
  },
} satisfies Record<Language, Record<string, string>>;

export type MessageKey = keyof (typeof catalogue)['en'];

/** For the test that every language has every message with the same placeholders. */
export const issuerCatalogue: Record<Language, Record<string, string>> = catalogue;

export function translate(language: Language, key: MessageKey, values: Record<string, string | number> = {}): string {
  return catalogue[language][key].replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

function isLanguage(text: unknown): text is Language {
  return typeof text === 'string' && (languages as readonly string[]).includes(text);
}

/** `?lang=` (or a form field) first, then the first supported Accept-Language entry by weight. */
export function chooseLanguage(explicit: unknown, acceptLanguage: string | undefined): Language {
  if (isLanguage(explicit)) return explicit;
  const ranked = (acceptLanguage ?? '').split(',').map((entry, index) => {
    const [tag, ...parameters] = entry.trim().toLowerCase().split(';');
    const quality = parameters.map((parameter) => /^q=([\d.]+)$/.exec(parameter.trim())).find(Boolean);
    return { base: tag.split('-')[0], weight: quality ? Number(quality[1]) : 1, index };
  }).filter((entry) => entry.weight > 0).sort((left, right) => right.weight - left.weight || left.index - right.index);
  return ranked.map((entry) => entry.base).find(isLanguage) ?? 'en';
}
