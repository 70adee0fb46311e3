/**
 * String order that is the same on every host. `localeCompare` and `Intl.Collator` order by the process's
 * locale (under LANG=da_DK.UTF-8 "aa" sorts after "z", as "å"), so a worker and an API on differently set up
 * hosts could compute different timelines for one case, and a replay on another host could take another
 * path. The engine orders by UTF-16 code unit instead.
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const isDigit = (code: number) => code >= 48 && code <= 57;

/**
 * Code-unit order, except that runs of ASCII digits compare by their value, so "certificate-renewal-2"
 * comes before "certificate-renewal-10". Runs of equal value written differently ("01", "1") are ordered
 * by code unit at the end, so the order is total.
 */
export function compareNatural(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (isDigit(ca) && isDigit(cb)) {
      const startA = i;
      const startB = j;
      while (i < a.length && isDigit(a.charCodeAt(i))) i++;
      while (j < b.length && isDigit(b.charCodeAt(j))) j++;
      const runA = a.slice(startA, i).replace(/^0+(?=\d)/, '');
      const runB = b.slice(startB, j).replace(/^0+(?=\d)/, '');
      // Without leading zeros, a longer run is a larger number; of equal length, code units order by value.
      const byValue = runA.length - runB.length || compareCodeUnits(runA, runB);
      if (byValue !== 0) return byValue < 0 ? -1 : 1;
      continue;
    }
    if (ca !== cb) return ca < cb ? -1 : 1;
    i++;
    j++;
  }
  const rest = a.length - i - (b.length - j);
  if (rest !== 0) return rest < 0 ? -1 : 1;
  return compareCodeUnits(a, b);
}
