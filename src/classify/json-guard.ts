/**
 * Duplicate-key detection for JSON request bodies, before JSON.parse keeps only the last value.
 * Graph's parser may keep the first, or match names case-insensitively, so `{"url":..,"URL":..}` could
 * mean different things to us and to Graph: such bodies are refused. Pure; does not validate syntax.
 */

/** The first key repeated (case-insensitively) within one object, or null. Linear, non-recursive. */
export function findDuplicateKey(text: string): string | null {
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      if (expectKey) {
        const top = stack[stack.length - 1];
        let key: unknown = text.slice(i + 1, j);
        if ((key as string).indexOf('\\') >= 0) {
          try {
            key = JSON.parse(text.slice(i, j + 1));
          } catch {
            return null; // a syntax error; JSON.parse reports it
          }
        }
        if (top && typeof key === 'string') {
          const k = key.toLowerCase();
          if (top.has(k)) return key;
          top.add(k);
        }
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return null;
}
