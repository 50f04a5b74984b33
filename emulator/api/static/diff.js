// A line diff (longest common subsequence on what lies between the common
// head and tail): small edits of large configurations cost little.

const LIMIT = 4_000_000;   // cells of the LCS table; beyond it the middle is shown as replaced

/** [{op: " "|"-"|"+", line}] turning lines a into lines b. */
export function lineDiff(a, b) {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head &&
         a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const out = a.slice(0, head).map((line) => ({op: " ", line}));
  if (midA.length * midB.length > LIMIT) {
    out.push(...midA.map((line) => ({op: "-", line})), ...midB.map((line) => ({op: "+", line})));
  } else {
    const n = midA.length;
    const m = midB.length;
    const table = Array.from({length: n + 1}, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        table[i][j] = midA[i] === midB[j] ? table[i + 1][j + 1] + 1
                                          : Math.max(table[i + 1][j], table[i][j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && midA[i] === midB[j]) { out.push({op: " ", line: midA[i]}); i++; j++; }
      else if (j < m && (i === n || table[i][j + 1] >= table[i + 1][j])) out.push({op: "+", line: midB[j++]});
      else out.push({op: "-", line: midA[i++]});
    }
  }
  out.push(...a.slice(a.length - tail).map((line) => ({op: " ", line})));
  return out;
}

/** The changed lines with `context` lines around them; gaps as null. */
export function hunks(diff, context = 3) {
  const keep = new Array(diff.length).fill(false);
  diff.forEach((d, i) => {
    if (d.op === " ") return;
    for (let k = Math.max(0, i - context); k <= Math.min(diff.length - 1, i + context); k++) keep[k] = true;
  });
  const out = [];
  let gap = false;
  diff.forEach((d, i) => {
    if (keep[i]) { out.push(d); gap = false; }
    else if (!gap) { out.push(null); gap = true; }
  });
  return out;
}
