// The wire format's core lives in the SDK package so the server and merchants' code run the same
// source (docs/adr/0070-sdk-owns-the-wire-format.md); the server's modules import it from here.
export * from '../../packages/sdk/src/callback-signature.ts';
