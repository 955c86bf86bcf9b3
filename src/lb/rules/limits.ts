// Bounds on what one rule condition may ask of the config loader and of the query path. Past them a condition is a
// config error with its position, so a hostile or careless file cannot overflow the parser's stack (which ended a
// reload and printed a stack trace from `check`).

/**
 * Longest condition, in characters. Cloudflare: "The maximum length of a rule expression is 4,096 characters."
 * https://developers.cloudflare.com/ruleset-engine/rules-language/expressions/ ("Maximum rule expression length")
 */
export const MAX_CONDITION_LENGTH = 4096;

/**
 * Deepest nesting of parentheses. Cloudflare documents a complexity limit for expressions without a number
 * (https://developers.cloudflare.com/cloudflare-network-firewall/how-to/form-expressions/, "Restrictions");
 * 32 is far beyond a hand-written rule and keeps the recursive parser and compiler a few hundred frames deep.
 */
export const MAX_NESTING_DEPTH = 32;
