// The one entry to @peculiar/x509, for the controller's PKI and the proxy's CSR alike. The library
// resolves its parts through tsyringe, which needs the Reflect metadata polyfill loaded first;
// importing the library only through this module keeps that ordering in one place instead of in every
// file that touches a certificate. Heavy (tens of modules): the proxy imports it lazily, only with
// identity on.
import 'reflect-metadata';

export * from '@peculiar/x509';
