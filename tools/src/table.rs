//! Aligned plain-text tables that fit the terminal (80 columns when output is not one);
//! colour only on a terminal, and never with NO_COLOR set.

use std::io::IsTerminal as _;

/// How a cell should stand out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    Plain,
    Warn,
    Bad,
}

/// Width when standard output is not a terminal and `COLUMNS` is unset: what a review in a
/// pull request, a log or a mail shows without wrapping.
pub(crate) const DEFAULT_WIDTH: usize = 80;

/// Text cells are never cut below this: "Amazon Root CA 1" stays whole.
const MIN_TEXT: usize = 16;
/// Digests keep at least 11 hex digits and "…": enough to tell roots apart and to find one.
const MIN_DIGEST: usize = 12;

/// A column: its header, and how it may give up width.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Column {
    header: &'static str,
    shrink: Shrink,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shrink {
    Never,
    /// Text, cut at the end with "…".
    Text,
    /// A hex digest: its first characters identify it; cut first.
    Digest,
}

impl Column {
    pub(crate) fn new(header: &'static str) -> Self {
        Self {
            header,
            shrink: Shrink::Never,
        }
    }
    pub(crate) fn shrinkable(header: &'static str) -> Self {
        Self {
            header,
            shrink: Shrink::Text,
        }
    }
    pub(crate) fn digest(header: &'static str) -> Self {
        Self {
            header,
            shrink: Shrink::Digest,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<(String, Tone)>>,
}

fn cut(cell: &str, width: usize) -> String {
    if cell.chars().count() <= width {
        return cell.to_owned();
    }
    let mut out: String = cell.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

impl Table {
    pub(crate) fn new(columns: Vec<Column>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<(String, Tone)>) {
        self.rows.push(cells);
    }

    /// Renders with two spaces between columns and no trailing spaces, within `width`
    /// columns when given (digests are shortened first, then text columns), else in full.
    pub(crate) fn render(&self, colour: bool, width: Option<usize>) -> String {
        let cols = self.columns.len();
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .map(|c| c.header.chars().count())
            .collect();
        for row in &self.rows {
            for (i, (cell, _)) in row.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        if let Some(limit) = width {
            for (kind, min) in [(Shrink::Digest, MIN_DIGEST), (Shrink::Text, MIN_TEXT)] {
                loop {
                    let total: usize = widths.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
                    if total <= limit {
                        break;
                    }
                    let widest = (0..cols)
                        .filter(|&i| self.columns[i].shrink == kind && widths[i] > min)
                        .max_by_key(|&i| widths[i]);
                    let Some(i) = widest else { break };
                    widths[i] -= (total - limit).min(widths[i] - min);
                }
            }
        }
        let mut out = String::new();
        let line = |cells: Vec<(String, Tone)>, out: &mut String| {
            let last = cells.len().saturating_sub(1);
            for (i, (cell, tone)) in cells.into_iter().enumerate() {
                let cell = cut(&cell, widths[i]);
                let pad = if i == last {
                    0
                } else {
                    widths[i] - cell.chars().count() + 2
                };
                let painted = match (colour, tone) {
                    (true, Tone::Warn) => format!("\x1b[33m{cell}\x1b[0m"),
                    (true, Tone::Bad) => format!("\x1b[31m{cell}\x1b[0m"),
                    _ => cell,
                };
                out.push_str(&painted);
                out.push_str(&" ".repeat(pad));
            }
            out.push('\n');
        };
        line(
            self.columns
                .iter()
                .map(|c| (c.header.to_string(), Tone::Plain))
                .collect(),
            &mut out,
        );
        for row in &self.rows {
            line(row.clone(), &mut out);
        }
        out
    }
}

/// Colour only when stdout is a terminal and NO_COLOR (no-color.org) is unset.
pub(crate) fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The width to fit: `COLUMNS`, else the terminal's, else [`DEFAULT_WIDTH`].
pub(crate) fn output_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n >= 40)
    {
        return n;
    }
    if std::io::stdout().is_terminal() {
        if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
            return usize::from(w).max(40);
        }
    }
    DEFAULT_WIDTH
}

/// `one` for 1, else `many`.
pub(crate) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_without_trailing_spaces() {
        let mut t = Table::new(vec![Column::new("A"), Column::new("BB")]);
        t.row(vec![("long".into(), Tone::Plain), ("x".into(), Tone::Warn)]);
        assert_eq!(t.render(false, None), "A     BB\nlong  x\n");
        assert_eq!(t.render(true, None), "A     BB\nlong  \x1b[33mx\x1b[0m\n");
    }

    #[test]
    fn fits_the_width_by_cutting_digests_then_text() {
        let mut t = Table::new(vec![
            Column::shrinkable("NAME"),
            Column::new("KEY"),
            Column::digest("SHA-256"),
        ]);
        let name = "Starfield Services Root Certificate Authority - G2";
        t.row(vec![
            (name.into(), Tone::Plain),
            ("RSA 2048".into(), Tone::Plain),
            ("ab".repeat(32), Tone::Plain),
        ]);
        let wide = t.render(false, None);
        assert!(wide.lines().any(|l| l.chars().count() > 80));
        let narrow = t.render(false, Some(80));
        assert!(narrow.lines().all(|l| l.chars().count() <= 80), "{narrow}");
        assert!(narrow.contains("RSA 2048"));
        // The digest went to its minimum before the name was cut.
        assert!(
            narrow.contains(&format!("{}…", &"ab".repeat(8)[..11])),
            "{narrow}"
        );
        assert!(narrow.contains("Starfield Services Root"), "{narrow}");
    }
}
