/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Transpiled file by file (tsconfig's isolatedModules): type errors are test/typecheck.test.ts's job (one tsc run).
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // ts-mls, @hpke and @noble ship ESM only: jest's CommonJS runtime needs them transpiled.
    '^.+\\.js$': [
      'ts-jest',
      {
        tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022', esModuleInterop: true, sourceMap: false },
        isolatedModules: true,
        diagnostics: false,
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(ts-mls|@hpke|@noble)/)'],
  testTimeout: 30000,
  maxWorkers: 2,
  // test.concurrent (test/e2e/examples.test.ts: examples that mostly wait on real time): at most 2 at once.
  maxConcurrency: 2,
};
