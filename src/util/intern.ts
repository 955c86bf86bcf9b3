// V8 compares two internalized strings by pointer; any other pair of equal-length strings by content. Keys
// that the query path compares or looks up many times per query (zone names, question names, config enum
// values) are kept internalized so that each `===` and each Map hit is one pointer compare.

/**
 * One object in dictionary mode (Object.create(null) makes one), reused: its keys are always internalized, and
 * adding and deleting a key there creates nothing lasting. (A fresh `{ [s]: 0 }` per call left a new hidden
 * class behind for every distinct string: tens of thousands per config.)
 */
const holder: Record<string, number> = Object.create(null) as Record<string, number>;

/**
 * The internalized string equal to `s`: the key of the only property of `holder` while `s` is stored there.
 * (An array-index-like name such as "123" comes back as a new string: still equal.)
 */
export function internalized(s: string): string {
  holder[s] = 0;
  const out = Object.keys(holder)[0];
  delete holder[s];
  return out;
}
