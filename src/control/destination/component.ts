// Registers `io.linkerd.proxy.destination.Destination` on the proxy API server (8086).
import type * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../api/proto.ts';
import type { Component } from '../context.ts';
import { DestinationService } from './service.ts';

export const DESTINATION_SERVICE = 'io.linkerd.proxy.destination.Destination';

/** The grpc-js service definition of Destination (Get, GetProfile), from proto/destination.proto. */
export function destinationDefinition(): grpc.ServiceDefinition {
  return lookup<grpc.ServiceClientConstructor>(loadProto('destination.proto'), DESTINATION_SERVICE).service;
}

export const destinationComponent: Component = (ctx) => {
  const service = new DestinationService(ctx.discovery, {
    clusterDomain: ctx.config.clusterDomain,
    controlPlaneNamespace: ctx.config.controlPlaneNamespace,
    trustDomain: ctx.config.trustDomain,
    log: ctx.log,
  });
  ctx.proxyApi.addService(destinationDefinition(), service.implementation());
  ctx.onClose(() => service.close());
};
