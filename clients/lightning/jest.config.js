// sfdx-lwc-jest's preset, plus the captured Accord answers under fixtures/ (see
// docs/lightning.md: they are recorded from a sandbox-backed Accord, never written by hand).
const { jestConfig } = require('@salesforce/sfdx-lwc-jest/config');

module.exports = {
    ...jestConfig,
    moduleNameMapper: {
        ...jestConfig.moduleNameMapper,
        '^fixtures/(.*)$': '<rootDir>/fixtures/$1'
    },
    testPathIgnorePatterns: ['<rootDir>/node_modules/', '<rootDir>/.sf/'],
    clearMocks: true,
    restoreMocks: true
};
