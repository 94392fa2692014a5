import * as grpc from '@grpc/grpc-js';
import { startProxy } from './test/support/proxy.ts';
import { fileURLToPath } from 'node:url';
import * as loader from '@grpc/proto-loader';
const PROTO = fileURLToPath(new URL('./test/fixtures/grpc/echo.proto', import.meta.url));
const def = loader.loadSync(PROTO, { keepCase: true });
const pkg = grpc.loadPackageDefinition(def) as any;
const svcName = Object.keys(pkg).find((k) => typeof pkg[k] === 'object');
console.log(Object.keys(pkg));
