/** The platform's version, as package.json names it (a test keeps the two equal): the API
 * document's `info.version` and `kassa --version`. */
export const kassaVersion = '0.1.0';
