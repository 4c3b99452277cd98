//! Aligned plain-text tables; colour only on a terminal, and never with NO_COLOR set.

use std::io::IsTerminal as _;

/// How a cell should stand out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    Plain,
    Warn,
    Bad,
}

#[derive(Debug)]
pub(crate) struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<(String, Tone)>>,
}

impl Table {
    pub(crate) fn new(header: Vec<&'static str>) -> Self {
        Self {
            header,
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<(String, Tone)>) {
        self.rows.push(cells);
    }

    /// Renders with two spaces between columns and no trailing spaces.
    pub(crate) fn render(&self, colour: bool) -> String {
        let cols = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, (cell, _)) in row.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: Vec<(String, Tone)>, out: &mut String| {
            let last = cells.len().saturating_sub(1);
            for (i, (cell, tone)) in cells.into_iter().enumerate() {
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
            self.header
                .iter()
                .map(|h| (h.to_string(), Tone::Plain))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_without_trailing_spaces() {
        let mut t = Table::new(vec!["A", "BB"]);
        t.row(vec![("long".into(), Tone::Plain), ("x".into(), Tone::Warn)]);
        assert_eq!(t.render(false), "A     BB\nlong  x\n");
        assert_eq!(t.render(true), "A     BB\nlong  \x1b[33mx\x1b[0m\n");
    }
}
