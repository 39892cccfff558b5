//! Rewriting a scenario file's `expect` block in place (`kcheck check
//! --update`), keeping the rest of the file's text exactly as it was.
//!
//! serde_json maps are sorted (the `preserve_order` feature is off because
//! hashing relies on sorted maps), so re-serializing the whole file would
//! reorder every user's keys. Instead a small scanner finds the top-level
//! members' spans in the text and only the `expect` member's value is
//! replaced, or a member is added after the last one.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::{Expect, Scenario, ScenarioError};

/// One top-level member: where its key starts and where its value spans.
struct Member {
    key: String,
    start: usize,
    value_start: usize,
    value_end: usize,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at byte {}", c as char, self.i))
        }
    }

    fn string(&mut self) -> Result<(), String> {
        self.eat(b'"')?;
        loop {
            match self.peek() {
                None => return Err("unterminated string".into()),
                Some(b'\\') => self.i += 2,
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(_) => self.i += 1,
            }
        }
    }

    fn value(&mut self) -> Result<(), String> {
        match self.peek() {
            None => Err("unexpected end of file".into()),
            Some(b'"') => self.string(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        None => return Err("unexpected end of file".into()),
                        Some(b'"') => self.string()?,
                        Some(b'{' | b'[') => {
                            depth += 1;
                            self.i += 1;
                        }
                        Some(b'}' | b']') => {
                            depth -= 1;
                            self.i += 1;
                            if depth == 0 {
                                return Ok(());
                            }
                        }
                        Some(_) => self.i += 1,
                    }
                }
            }
            Some(_) => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')
                ) {
                    self.i += 1;
                }
                Ok(())
            }
        }
    }
}

/// The top-level members of a JSON object text and the position of its
/// closing brace.
fn members(text: &str) -> Result<(Vec<Member>, usize), String> {
    let mut s = Scanner {
        bytes: text.as_bytes(),
        i: 0,
    };
    s.ws();
    s.eat(b'{')?;
    s.ws();
    let mut out = Vec::new();
    if s.peek() == Some(b'}') {
        return Ok((out, s.i));
    }
    loop {
        s.ws();
        let start = s.i;
        s.string()?;
        let key: String = serde_json::from_str(&text[start..s.i]).map_err(|e| e.to_string())?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        let value_start = s.i;
        s.value()?;
        out.push(Member {
            key,
            start,
            value_start,
            value_end: s.i,
        });
        s.ws();
        match s.peek() {
            Some(b',') => s.i += 1,
            Some(b'}') => return Ok((out, s.i)),
            _ => return Err(format!("expected ',' or '}}' at byte {}", s.i)),
        }
    }
}

/// The whitespace a member's line starts with, if the member starts its
/// line.
fn indentation(text: &str, at: usize) -> Option<&str> {
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let prefix = &text[line_start..at];
    prefix
        .chars()
        .all(|c| c == ' ' || c == '\t')
        .then_some(prefix)
}

/// The `expect` value, pretty-printed at `indent` (or on one line).
fn render(expect: &Expect, indent: Option<&str>) -> String {
    match indent {
        Some(indent) => serde_json::to_string_pretty(expect)
            .expect("Expect serializes")
            .replace('\n', &format!("\n{indent}")),
        None => serde_json::to_string(expect).expect("Expect serializes"),
    }
}

/// The file's text with its `expect` member replaced or added.
pub(crate) fn rewrite(text: &str, expect: &Expect) -> Result<String, ScenarioError> {
    let (members, close) = members(text)
        .map_err(|e| ScenarioError::new("", format!("cannot find the top-level members: {e}")))?;
    if let Some(m) = members.iter().find(|m| m.key == "expect") {
        let value = render(expect, indentation(text, m.start));
        return Ok(format!(
            "{}{value}{}",
            &text[..m.value_start],
            &text[m.value_end..]
        ));
    }
    match members.last() {
        Some(last) => {
            let insert = match indentation(text, last.start) {
                Some(indent) => format!(",\n{indent}\"expect\": {}", render(expect, Some(indent))),
                None => format!(", \"expect\": {}", render(expect, None)),
            };
            Ok(format!(
                "{}{insert}{}",
                &text[..last.value_end],
                &text[last.value_end..]
            ))
        }
        None => Ok(format!(
            "{}\"expect\": {}{}",
            &text[..close],
            render(expect, None),
            &text[close..]
        )),
    }
}

/// Rewrites `path` with a new `expect` block, atomically.
pub(crate) fn write_expect(path: &Path, expect: &Expect) -> Result<(), ScenarioError> {
    let io = |what: &str, e: std::io::Error| ScenarioError::new("", format!("{what}: {e}"));
    let real = fs::canonicalize(path).map_err(|e| io("cannot find the file", e))?;
    let text = fs::read_to_string(&real).map_err(|e| io("cannot read the file", e))?;
    let new_text = rewrite(&text, expect)?;
    let check = Scenario::parse(&new_text)?;
    if check.expect() != Some(expect) {
        return Err(ScenarioError::new(
            "expect",
            "the rewritten file does not read back the same expect block",
        ));
    }
    let dir = real.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".kcheck-expect-")
        .tempfile_in(dir)
        .map_err(|e| io("cannot create a temporary file", e))?;
    tmp.write_all(new_text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| io("cannot write the temporary file", e))?;
    if let Ok(meta) = fs::metadata(&real) {
        tmp.as_file()
            .set_permissions(meta.permissions())
            .map_err(|e| io("cannot set permissions", e))?;
    }
    tmp.persist(&real)
        .map_err(|e| io("cannot replace the file", e.error))?;
    Ok(())
}
