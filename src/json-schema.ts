// The JSON Schema of steerdns.yaml, generated from the validator's own definitions (config/schema.ts: each schema
// of the kit describes itself) and the DNS layer's record-type table, so that the three cannot drift apart.
// Editors use it through `# yaml-language-server: $schema=…` in the examples; scripts/build-schema.js writes
// schema/steerdns.schema.json, and a test checks that the committed file is what this gives.
import type { JsonSchema } from './config/kit';
import { configSchema } from './config/schema';
import { STATIC_TYPES } from './dns/wire/rrtypes';

export function configJsonSchema(): JsonSchema {
  const body = configSchema.json({ recordTypes: STATIC_TYPES });
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    description: 'steerdns configuration (generated from src/config/schema.ts by scripts/build-schema.js; do not edit). `steerdns check` checks more than this schema can: references between sections, record values, rule expressions, regions.',
    ...(typeof body === 'boolean' ? {} : body),
  };
}

/** The schema file's text: stable key order, two-space indentation, a final newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
