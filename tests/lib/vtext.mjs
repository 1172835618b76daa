// Line-level comparison of iCalendar (RFC 5545) and vCard (RFC 6350) texts, for the DAV tool
// tests that check an edit changed only the properties it meant to and left every other line
// byte for byte as the client wrote it. Both formats fold long content lines: a CRLF followed by
// one space or tab continues the previous line (RFC 5545 §3.1, RFC 6350 §3.2). A "logical line"
// here is one unfolded content line, kept with its physical (folded) text and line endings, so a
// re-folded or re-encoded line counts as changed.

/** The logical lines of an iCalendar or vCard text, each with its physical (folded) text. */
export function logicalLines(text) {
  const lines = [];
  for (const physical of text.split(/(?<=\n)/)) {
    if (/^[ \t]/.test(physical) && lines.length) lines[lines.length - 1] += physical;
    else lines.push(physical);
  }
  return lines;
}

/** Logical lines `after` has and `before` has not, and the reverse (as multisets). → { added, removed }. */
export function lineDiff(before, after) {
  const minus = (a, b) => {
    const pool = logicalLines(b);
    const out = [];
    for (const line of logicalLines(a)) {
      const i = pool.indexOf(line);
      if (i >= 0) pool.splice(i, 1); else out.push(line);
    }
    return out;
  };
  return { added: minus(after, before), removed: minus(before, after) };
}
