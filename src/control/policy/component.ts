// Registers `io.linkerd.proxy.inbound.InboundServerPolicies` on the proxy API server (8086), beside
// Destination: proxies find both at one address (SLUICE_PROXY_POLICY_SVC_ADDR, set by the injector).
import type * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../api/proto.ts';
import type { Component } from '../context.ts';
import { InboundPolicyService } from './service.ts';

export const INBOUND_POLICY_SERVICE = 'io.linkerd.proxy.inbound.InboundServerPolicies';

export function inboundPolicyDefinition(): grpc.ServiceDefinition {
  return lookup<grpc.ServiceClientConstructor>(loadProto('inbound.proto'), INBOUND_POLICY_SERVICE).service;
}

export const inboundPolicyComponent: Component = (ctx) => {
  const service = new InboundPolicyService(
    ctx.discovery,
    {
      defaultPolicy: ctx.config.defaultInboundPolicy,
      clusterNetworks: ctx.config.clusterNetworks,
      identity: { controlPlaneNamespace: ctx.config.controlPlaneNamespace, trustDomain: ctx.config.trustDomain },
    },
    ctx.log,
  );
  ctx.proxyApi.addService(inboundPolicyDefinition(), service.implementation());
  ctx.onClose(() => service.close());
};
