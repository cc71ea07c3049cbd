//! Where a key is in an experiment file: the line of a key of a table (for
//! errors found after parsing), and the key whose value is at a byte offset
//! (for serde errors, which carry toml's span), so every error names the
//! file, the line and the key.

use crate::error::Error;
use std::path::Path;

/// Where in the TOML source `key` of `table` is (`""`: the top level): the
/// 1-based line, the table's header line when the key is not written
/// (a default), or 0. `index` picks the n-th `[[table]]` of an array of
/// tables. A line that continues a multi-line value keeps the key above.
pub fn locate(src: &str, table: &str, index: usize, key: Option<&str>) -> usize {
    let mut seen = 0usize;
    let mut in_target = table.is_empty();
    let mut table_line = 0;
    for (i, raw) in src.lines().enumerate() {
        let line = raw.trim();
        if let Some(h) = line.strip_prefix("[[") {
            in_target = h.trim_end_matches("]]").trim() == table && {
                seen += 1;
                seen == index + 1
            };
            if in_target {
                table_line = i + 1;
            }
            continue;
        }
        if let Some(h) = line.strip_prefix('[') {
            in_target = h.split(']').next().unwrap_or("").trim() == table;
            if in_target {
                table_line = i + 1;
            }
            continue;
        }
        if in_target
            && let Some(k) = key
            && let Some((lhs, _)) = line.split_once('=')
            && lhs.trim().trim_matches('"') == k
        {
            return i + 1;
        }
    }
    table_line
}

/// The key whose value is at byte `offset`: the table header above it and
/// the name left of `=` on its line.
pub(super) fn key_at(src: &str, offset: usize) -> (usize, String) {
    let offset = offset.min(src.len());
    let line_no = src[..offset].matches('\n').count() + 1;
    let mut table = String::new();
    let mut key = String::new();
    for (i, raw) in src.lines().enumerate() {
        let line = raw.trim();
        if i + 1 > line_no {
            break;
        }
        if line.starts_with('[') {
            table = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            key.clear();
        } else if let Some((lhs, _)) = line.split_once('=') {
            key = lhs.trim().trim_matches('"').to_string();
        }
    }
    let full = match (table.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    };
    (line_no, full)
}

/// The experiment file being checked, to turn a setting's error into
/// one naming the file, line and key.
pub(super) struct Located<'a> {
    pub path: &'a Path,
    pub src: &'a str,
}

impl Located<'_> {
    /// The error `msg` about `key` of `table` (the `index`-th if an array).
    pub fn err(&self, table: &str, index: usize, key: &str, msg: impl std::fmt::Display) -> Error {
        let line = locate(self.src, table, index, Some(key));
        let full = if table.is_empty() {
            key.to_string()
        } else {
            format!("{table}.{key}")
        };
        let at = if line > 0 {
            format!("line {line}, ")
        } else {
            String::new()
        };
        Error::file(self.path, format!("{at}key {full}: {msg}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "title = \"t\"\n\n[[model]]\nname = \"a\"\nsteps = 5\n\n[[model]]\nname = \"b\"\nsteps = 7\n\n[sweep]\nratios = [\n  1,\n]\n";

    #[test]
    fn locate_finds_keys_in_tables_and_arrays_of_tables() {
        assert_eq!(locate(SRC, "", 0, Some("title")), 1);
        assert_eq!(locate(SRC, "model", 0, Some("steps")), 5);
        assert_eq!(locate(SRC, "model", 1, Some("steps")), 9);
        // A key left to its default: the table's header line.
        assert_eq!(locate(SRC, "model", 1, Some("lr")), 7);
        assert_eq!(locate(SRC, "sweep", 0, Some("ratios")), 12);
        assert_eq!(locate(SRC, "attacks", 0, Some("fgsm")), 0);
    }

    #[test]
    fn key_at_names_the_key_of_a_value_even_on_a_continuation_line() {
        let off = SRC.find("  1,").unwrap();
        assert_eq!(key_at(SRC, off), (13, "sweep.ratios".to_string()));
        let off = SRC.find("7").unwrap();
        assert_eq!(key_at(SRC, off), (9, "model.steps".to_string()));
    }
}
