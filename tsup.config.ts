import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', redis: 'src/redis/index.ts', http: 'src/http/index.ts', metrics: 'src/metrics/index.ts', cli: 'src/cli/main.ts' },
  // Dependencies and optional peers stay imports, never bundled.
  external: ['ioredis', 'cluster-key-slot', 'fastify-plugin', 'fastify', 'hono', 'prom-client', '@opentelemetry/api', 'commander', 'cli-progress', 'cli-table3', 'picocolors'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  treeshake: true,
});
