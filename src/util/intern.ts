// V8 compares two internalized strings by pointer; any other pair of equal-length strings by content. Keys
// that the query path compares or looks up many times per query (zone names, question names, config enum
// values) are kept internalized so that each `===` and each Map hit is one pointer compare.

/**
 * The internalized string equal to `s`: property names are always internalized, so the key of a one-property
 * object is that string. (An array-index-like name such as "123" comes back as a new string: still equal.)
 */
export function internalized(s: string): string {
  for (const k in { [s]: 0 }) return k;
  return s;
}
