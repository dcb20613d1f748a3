//! CSV as spreadsheets read and write it: lists of KvK numbers in, answers
//! out (UTF-8 with a byte order mark so that Excel reads it as UTF-8, `;`
//! between cells as Dutch Excel expects, Dutch column names, CRLF line ends,
//! no cell that a spreadsheet would run as a formula).

use registry_core::{FieldError, KvkNumber, StatusAnswer};

/// The byte order mark that tells Excel the file is UTF-8.
pub const BOM: &str = "\u{feff}";
/// The media type of what the register writes.
pub const MEDIA_TYPE: &str = "text/csv; charset=utf-8";

/// The status columns, in Dutch: what [`status_cells`] writes.
pub const STATUS_COLUMNS: [&str; 9] = [
    "kvk_nummer",
    "naam",
    "gecertificeerd",
    "status",
    "trede",
    "pso30plus",
    "geldig_tot_en_met",
    "certificaatnummer",
    "certificerende_instelling",
];

/// A CSV cell: quoted when it holds a separator, a quote or a line break, and
/// never read as a formula by a spreadsheet (a leading `=`, `+`, `-`, `@`).
pub fn cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([';', ',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One line of cells, `;`-separated, CRLF-terminated.
pub fn line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut out = cells
        .iter()
        .map(|c| cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(";");
    out.push_str("\r\n");
    out
}

fn yes(b: bool) -> String {
    if b { "ja" } else { "nee" }.to_owned()
}

/// The cells of [`STATUS_COLUMNS`] for `kvk`, its registered `name` and its
/// answer. The last day of validity is written inclusive, as people read it.
pub fn status_cells(kvk: &KvkNumber, name: Option<&str>, a: &StatusAnswer) -> Vec<String> {
    vec![
        kvk.as_str().to_owned(),
        name.unwrap_or_default().to_owned(),
        yes(a.certified),
        a.status.as_str().to_owned(),
        a.level.map(|l| l.as_str().to_owned()).unwrap_or_default(),
        yes(a.pso30plus),
        a.valid_until
            .map(|u| crate::pages::last_day(u).to_string())
            .unwrap_or_default(),
        a.certificate_number
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        a.certification_body
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
    ]
}

/// Reads a list of KvK numbers, one a row in the first column (`;` or `,`
/// between columns, quotes allowed, other columns passed over); a first row
/// without a digit in its first cell is a header. Every row that is not a KvK
/// number is named, by its row number; more than `max` numbers are refused.
pub fn kvk_column(text: &str, max: usize) -> Result<Vec<KvkNumber>, Vec<FieldError>> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let mut numbers = Vec::new();
    let mut faults = Vec::new();
    for (i, row) in text.lines().enumerate() {
        let first = row
            .split([';', ','])
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"')
            .trim();
        if first.is_empty() {
            continue;
        }
        if i == 0 && !first.bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        match KvkNumber::parse(first) {
            Ok(k) => numbers.push(k),
            Err(_) if faults.len() < 100 => faults.push(FieldError::new(
                format!("row {}", i + 1),
                format!(
                    "{:?} is not a KvK number (8 digits)",
                    first.chars().take(40).collect::<String>()
                ),
            )),
            Err(_) => {}
        }
        if numbers.len() > max {
            return Err(vec![FieldError::new(
                "rows",
                format!("at most {max} KvK numbers a call"),
            )]);
        }
    }
    if faults.is_empty() {
        Ok(numbers)
    } else {
        Err(faults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_never_formulas() {
        assert_eq!(cell("Bakker B.V."), "Bakker B.V.");
        assert_eq!(cell("A; B"), "\"A; B\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(line(&["a", "b;c"]), "a;\"b;c\"\r\n");
    }

    #[test]
    fn a_column_of_numbers_is_read_with_or_without_a_header() {
        let read = |t: &str| {
            kvk_column(t, 10).map(|v| v.iter().map(|k| k.as_str().to_owned()).collect::<Vec<_>>())
        };
        assert_eq!(
            read("\u{feff}kvk_nummer;naam\r\n\"12345678\";\"Bakker B.V.\"\r\n87654321,x\n\n")
                .expect("read"),
            ["12345678", "87654321"]
        );
        assert_eq!(
            read("12345678\n23456789").expect("read"),
            ["12345678", "23456789"]
        );
        let faults = read("kvk\n12345678\n1234\nabc").expect_err("faults");
        assert_eq!(faults.len(), 2);
        assert_eq!(faults[0].field, "row 3");
        assert!(read(&"12345678\n".repeat(11)).is_err());
    }
}
