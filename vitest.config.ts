import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tools/src/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests drive real Nix, registries and tar readers on a 2-core machine:
    // one file at a time keeps them from starving each other.
    fileParallelism: false,
    // On CI a JSON report too, from which .ci/run prints the plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.ci/results.json' }]] : ['default'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    env: {
      // No network here: don't let every nix-build wait on cache.nixos.org.
      NIX_CONFIG: 'substituters =',
    },
  },
});
