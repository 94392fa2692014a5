// How the tap relay reaches a proxy's Tap server. With the controller's identity on, proxies serve tap
// only over mutual TLS and only to the controller's identity, so the relay presents the controller's
// own certificate (serving-certificate.ts) and checks the proxy's in turn:
//
//   - its chain must end in the trust anchors (node:tls), and
//   - its identity must be the pod's, as discovery knows it: `<sa>.<ns>.serviceaccount.identity.…` from
//     the pod's service account and namespace. A pod whose service account discovery does not know is
//     checked by chain only (any meshed proxy): a stale IP now held by another meshed pod could then be
//     tapped by mistake, but never a process outside the mesh.
//
// Without identity the relay dials plaintext, as the proxies then serve it.
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { identityName, type IdentityDomain } from '../../api/identity-name.ts';
import { tapClient, type TapClient } from '../../api/tap.ts';
import type { ControllerCertificate } from '../context.ts';
import type { PodInfo } from '../discovery/types.ts';

/** The identity `pod`'s proxy must present, or undefined when discovery does not know its service account. */
export function expectedProxyIdentity(pod: PodInfo, domain: IdentityDomain): string | undefined {
  if (pod.serviceAccount === '' || pod.namespace === '') return undefined;
  return identityName({ serviceAccount: pod.serviceAccount, namespace: pod.namespace }, domain);
}

/** The `DNS:` names of node:tls's `subjectaltname` text, lower case. Pure. */
export function dnsNamesOf(subjectAltName: string | undefined): string[] {
  return (subjectAltName ?? '')
    .split(', ')
    .filter((part) => part.startsWith('DNS:') && !part.startsWith('DNS:"'))
    .map((part) => part.slice(4).toLowerCase());
}

/** An error when the proxy's certificate does not name `expected`. Pure. */
export function checkProxyIdentity(expected: string | undefined, subjectAltName: string | undefined): Error | undefined {
  const names = dnsNamesOf(subjectAltName);
  if (expected === undefined ? names.length === 1 : names.includes(expected.toLowerCase())) return undefined;
  return new Error(
    `the proxy's certificate is for ${names.length === 0 ? 'no DNS name' : names.join(', ')}, not ${expected === undefined ? 'one mesh identity' : `the pod's identity ${expected}`}`,
  );
}

/** A Tap client of `address` over mutual TLS: our certificate as the client's, the proxy's checked as above. */
export function tlsTapClient(address: string, own: ControllerCertificate, expected: string | undefined): TapClient {
  const context = tls.createSecureContext({ key: own.keyPem, cert: own.certChainPem, ca: own.trustAnchorsPem, minVersion: 'TLSv1.3' });
  const credentials = grpc.credentials.createFromSecureContext(context, {
    checkServerIdentity: (_host, certificate) => checkProxyIdentity(expected, certificate.subjectaltname),
  });
  // The SNI names the identity asked for, as proxies originate mesh TLS (and not the pod's IP).
  const options: grpc.ChannelOptions = expected === undefined ? {} : { 'grpc.ssl_target_name_override': expected };
  return tapClient(address, credentials, options);
}
