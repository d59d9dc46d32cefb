//! Plain-text tables with aligned columns, as `kubectl get` prints them.

use std::fmt::Write as _;

pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: impl IntoIterator<Item = &'static str>) -> Self {
        Self {
            headers: headers.into_iter().collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        self.rows.push(cells.into_iter().collect());
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header_cells = self
            .headers
            .iter()
            .map(|h| (*h).to_owned())
            .collect::<Vec<_>>();
        for cells in std::iter::once(&header_cells).chain(&self.rows) {
            let mut line = String::new();
            for (index, width) in widths.iter().enumerate().take(columns) {
                let cell = cells.get(index).map(String::as_str).unwrap_or("");
                if index + 1 == columns {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<width$}  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_to_the_widest_cell() {
        let mut table = Table::new(["NAME", "N"]);
        table.row(["gastown".to_owned(), "3".to_owned()]);
        table.row(["b".to_owned(), "12".to_owned()]);
        assert_eq!(table.render(), "NAME     N\ngastown  3\nb        12\n");
    }
}
