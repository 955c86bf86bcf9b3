// Bounds on what one rule condition may ask of the config loader and of the query path. Past them a condition is a
// config error with its position, so a hostile or careless file can neither overflow the parser's stack (which
// ended a reload) nor make one query cost seconds of CPU (which stalled the server).

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

/** Longest `matches` pattern, in characters (after string unescaping). A DNS name has at most 255. */
export const MAX_PATTERN_LENGTH = 1024;

/**
 * Largest compiled `matches` pattern, in RE2 program instructions (about one per literal character, class or
 * operator, repetitions expanded: `[a-z]{1,63}` is ~127). Matching costs at most name length × program size
 * steps, and compiling a pattern such as `(?:a{0,1000}){0,100}` would take seconds and hundreds of MB.
 */
export const MAX_PROGRAM_SIZE = 1000;

/** Memory for each pattern's lazily built DFA states (re2js defaults to 8 MiB); past it the cache is rebuilt. */
export const DFA_CACHE_BYTES = 1 << 20;
