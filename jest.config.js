/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/bench', '<rootDir>/client/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Transpile only (`npm test` type-checks with tsc first). jose ships ESM only, so it is
    // transpiled to CommonJS too. ts-jest has no native binary, which npm ci on a mirror needs.
    '^.+\\.(t|j)s$': [
      'ts-jest',
      { tsconfig: { isolatedModules: true, allowJs: true, module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  testTimeout: 30000,
  // Two files at a time on CI's two cores (jest's default there, cores - 1, runs them one by one): an
  // e2e file spends much of its time waiting on its runtime's queues and timers, which another uses.
  maxWorkers: 2,
};
