// The controller's PKI reaches @peculiar/x509 through the shared entry (src/api/x509.ts), which loads
// the Reflect metadata polyfill the library needs first.
export * from '../../api/x509.ts';
