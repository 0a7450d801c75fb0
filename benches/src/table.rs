//! The results table: one row per scenario and metric, a column per
//! implementation, and the ratios the targets are stated in.

use std::fmt::Write;

/// The implementation columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// rustgrpc, blocking face / blocking handlers.
    Blocking,
    /// rustgrpc, async face / async handlers.
    Async,
    /// tonic.
    Tonic,
    /// Python grpcio (unary server rows).
    Grpcio,
    /// The bare h2 echo server (unary server rows): the ceiling.
    H2Bare,
}

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// Scenario name, e.g. `server unary 10B c256`.
    pub scenario: String,
    /// Metric with unit and direction, e.g. `req/s ↑`.
    pub metric: String,
    /// Values per column.
    pub values: [Option<f64>; 5],
    /// Decimal places to print.
    pub decimals: usize,
}

impl Row {
    /// An empty row.
    pub fn new(scenario: &str, metric: &str, decimals: usize) -> Row {
        Row {
            scenario: scenario.to_string(),
            metric: metric.to_string(),
            values: [None; 5],
            decimals,
        }
    }

    /// Sets the value of `column`.
    pub fn set(&mut self, column: Column, value: f64) {
        self.values[column as usize] = Some(value);
    }

    /// The value of `column`.
    pub fn get(&self, column: Column) -> Option<f64> {
        self.values[column as usize]
    }

    fn ratio(&self, a: Column, b: Column) -> String {
        match (self.get(a), self.get(b)) {
            (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
            _ => "–".to_string(),
        }
    }

    fn cell(&self, column: Column) -> String {
        match self.get(column) {
            Some(value) => format_number(value, self.decimals),
            None => "–".to_string(),
        }
    }
}

/// Formats with thousands separators.
pub fn format_number(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int.to_string(), Some(frac.to_string())),
        None => (text.clone(), None),
    };
    let (sign, digits) = match int.strip_prefix('-') {
        Some(digits) => ("-", digits.to_string()),
        None => ("", int),
    };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(frac) => format!("{sign}{grouped}.{frac}"),
        None => format!("{sign}{grouped}"),
    }
}

/// The markdown table of `rows`.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| scenario | metric | rustgrpc blocking | rustgrpc async | tonic | blocking/tonic | async/tonic | blocking/async | grpcio | bare h2 |\n",
    );
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.metric,
            row.cell(Column::Blocking),
            row.cell(Column::Async),
            row.cell(Column::Tonic),
            row.ratio(Column::Blocking, Column::Tonic),
            row.ratio(Column::Async, Column::Tonic),
            row.ratio(Column::Blocking, Column::Async),
            row.cell(Column::Grpcio),
            row.cell(Column::H2Bare),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(format_number(1234567.891, 1), "1,234,567.9");
        assert_eq!(format_number(999.0, 0), "999");
        assert_eq!(format_number(-1234.0, 0), "-1,234");
        assert_eq!(format_number(0.25, 2), "0.25");
    }

    #[test]
    fn rows_show_ratios() {
        let mut row = Row::new("server unary 10B c1", "req/s ↑", 0);
        row.set(Column::Blocking, 3000.0);
        row.set(Column::Async, 2000.0);
        row.set(Column::Tonic, 1000.0);
        let table = markdown(&[row]);
        assert!(table.contains("| 3,000 | 2,000 | 1,000 | 3.00 | 2.00 | 1.50 | – | – |"));
    }
}
