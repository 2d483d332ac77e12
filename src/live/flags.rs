//! A table's flags (`dormant`, `owner`, `persist`), read from nft's text listing: nft 1.0.6
//! prints them in `nft -j` output from freed memory (another object's name, or cut-off JSON),
//! so the JSON only tells that a table has flags, never which.

use super::nft::{self, NftError};

/// The flags of `table ip NAME` in this network namespace, sorted; `None` when the table does
/// not exist. Lists the whole table: call it only when the JSON listing shows flags.
pub fn table_flags(table: &str) -> Result<Option<Vec<String>>, NftError> {
    Ok(nft::list_table_text(table)?.map(|text| parse(&text)))
}

/// The flags in the header of a `nft list table` text: the `flags A,B` line between
/// `table … {` and the table's first blank line or object.
pub fn parse(text: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("table "));
    lines.next();
    let mut flags: Vec<String> = lines
        .take_while(|l| l.starts_with('\t') && !l.trim().is_empty() && !l.trim_end().ends_with('{'))
        .filter_map(|l| l.trim().strip_prefix("flags "))
        .flat_map(|f| f.split(',').map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect();
    flags.sort();
    flags.dedup();
    flags
}

#[cfg(test)]
mod tests {
    #[test]
    fn flags_come_from_the_table_header_only() {
        let dormant = "table ip overlayfw { # handle 4\n\tflags dormant\n\tcomment \"overlayfw x\"\n\n\tchain c {\n\t\tflags x\n\t}\n}\n";
        assert_eq!(super::parse(dormant), ["dormant"]);
        assert_eq!(super::parse("table ip t {\n\tflags owner,dormant\n}\n"), ["dormant", "owner"]);
        let none = "table ip overlayfw {\n\tcomment \"overlayfw x\"\n\n\tchain c {\n\t}\n}\n";
        assert!(super::parse(none).is_empty());
        assert!(super::parse("").is_empty());
    }
}
