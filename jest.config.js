/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    // ip-cidr is an ES module (Node loads it with require(esm)); Jest's CommonJS registry needs it transformed.
    '/node_modules/ip-cidr/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs', importInterop: 'node' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!ip-cidr/)'],
  testTimeout: 30000,
  // Tests start real servers and sockets; one that fails half-way may leave a handle open, and a CI run must end
  // (with its failure reported) rather than hang until its time limit.
  forceExit: true,
};
