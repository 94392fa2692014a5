// The one entry to @peculiar/x509. The library resolves its parts through tsyringe, which needs the
// Reflect metadata polyfill loaded first; importing the library only through this module keeps that
// ordering in one place instead of in every file that touches a certificate.
import 'reflect-metadata';

export * from '@peculiar/x509';
