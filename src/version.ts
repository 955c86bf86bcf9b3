// The version this build reports (status API, `steerdns --version`), from package.json.
export const VERSION: string = (require('../package.json') as { version: string }).version;
