// Test projects: unit (Node, fakes allowed), workers (inside workerd with D1), integration (the real
// model in process), e2e (real processes),
// ollama / llama-server (real upstream servers built from source, run by their own scripts), and
// browser (headless Chromium, run by its own script), docker (images and compose, run by its own
// script).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // A guard against hangs, not a speed limit: on a loaded 2-core CI host a test that reads
          // the real model's header over HTTP took over vitest's default 5 s.
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      './test/workers/vitest.config.ts',
      {
        // In-process, over real sockets and the real model: the agent's parts without a process
        // boundary (e2e/ is for real processes only).
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 240_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          // Real processes and a real model: one file at a time, generous timeouts.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 240_000,
        },
      },
      {
        // The packed packages installed into empty folders and started from there (npm pack and
        // npm install: minutes).
        test: {
          name: 'packages',
          include: ['test/packages/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 900_000,
        },
      },
      {
        // Against a real `ollama serve` built by scripts/build-ollama.sh; run by
        // scripts/test-ollama.mjs (part of `npm test`) once the binary exists.
        test: {
          name: 'ollama',
          include: ['test/ollama/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        // Against a real llama.cpp `llama-server` built by scripts/build-llama-cpp.sh; run by
        // scripts/test-llama-server.mjs (part of `npm test`) once the binary exists.
        test: {
          name: 'llama-server',
          include: ['test/llama-server/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        // Headless Chromium (Debian's package, scripts/ensure-chromium.sh) driving pages against real
        // processes; run by scripts/test-browser.mjs (part of `npm test`) once Chromium is installed.
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 240_000,
        },
      },
      {
        // Docker: both images built, compose.yaml up, a chat completion, an agent killed; run by
        // scripts/test-docker.mjs (part of `npm test`) once dockerd runs and compose is built.
        test: {
          name: 'docker',
          include: ['test/docker/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 1_800_000,
        },
      },
    ],
  },
});
