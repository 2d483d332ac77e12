//! The one IPv4 parser: dotted-quad addresses and `ADDR/LEN` networks as written, for the rules
//! (`syntax`), the inventory, variables' texts (`resolve`, `lint`) and nft's listings (`diff`).
//! Strict: four decimal octets 0–255 without leading zeros (some tools read those as octal) and
//! a prefix length of digits up to 32. Each caller words its own errors from the error values.

use std::net::Ipv4Addr;

/// Why a text is not an IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrError<'a> {
    /// Not four dot-separated parts.
    Shape,
    /// This octet has a leading zero (`010`).
    LeadingZero(&'a str),
    /// This part is not a number 0–255.
    NotOctet(&'a str),
}

/// Why a text is not an IPv4 address with an optional `/LEN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CidrError<'a> {
    Addr(AddrError<'a>),
    /// The text after the first `/` (its end is the text's end) is not digits, or over 32.
    Prefix(&'a str),
}

/// An address and its prefix length as written; host bits are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    /// `None` for a bare address.
    pub prefix: Option<u8>,
    /// The prefix length was written with a leading zero (`/08`), which the inventory refuses.
    pub padded: bool,
}

/// `a.b.c.d`. The parts are checked in order; a part's leading zero is reported before its
/// value.
pub fn parse_addr(s: &str) -> Result<Ipv4Addr, AddrError<'_>> {
    let mut octets = [0u8; 4];
    let mut parts = cut(s, b'.');
    for octet in &mut octets {
        let part = parts.next().ok_or(AddrError::Shape)?;
        if part.len() > 1 && part.starts_with('0') {
            return Err(AddrError::LeadingZero(part));
        }
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AddrError::NotOctet(part));
        }
        *octet = part.parse().map_err(|_| AddrError::NotOctet(part))?;
    }
    match parts.next() {
        Some(_) => Err(AddrError::Shape),
        None => Ok(Ipv4Addr::from(octets)),
    }
}

/// `s` cut at each `sep` (ASCII): `str::split` by a byte loop, as `str::split` sets up a
/// searcher for each call, which cost more than the parse of a short address.
fn cut(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut from = Some(0);
    std::iter::from_fn(move || {
        let start = from?;
        let end = s.as_bytes()[start..].iter().position(|&b| b == sep).map(|i| start + i);
        from = end.map(|e| e + 1);
        Some(&s[start..end.unwrap_or(s.len())])
    })
}

/// `a.b.c.d` or `a.b.c.d/len`.
pub fn parse_cidr(s: &str) -> Result<Cidr, CidrError<'_>> {
    let slash = s.bytes().position(|b| b == b'/');
    let (a, digits) = slash.map_or((s, None), |i| (&s[..i], Some(&s[i + 1..])));
    let addr = parse_addr(a).map_err(CidrError::Addr)?;
    let Some(digits) = digits else { return Ok(Cidr { addr, prefix: None, padded: false }) };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CidrError::Prefix(digits));
    }
    let prefix = digits.parse::<u8>().ok().filter(|&p| p <= 32).ok_or(CidrError::Prefix(digits))?;
    let padded = digits.len() > 1 && digits.starts_with('0');
    Ok(Cidr { addr, prefix: Some(prefix), padded })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser accepts exactly what `std`'s `Ipv4Addr` parser accepts (what the inventory,
    /// the variables and `diff` used before), and errs on the part the rules' messages name.
    #[test]
    fn addresses_as_std_reads_them() {
        for s in [
            "0.0.0.0",
            "10.0.1.120",
            "255.255.255.255",
            "01.2.3.4",
            "1.2.3.256",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4.",
            "",
            "1..2.3",
            "+1.2.3.4",
            "1.2.3.4 ",
            "1.2.3.0004",
            "a.b.c.d",
            "::1",
            "1.2.3.00",
            "1.2.3.-0",
            "1.2.3.1000",
        ] {
            assert_eq!(parse_addr(s).ok(), s.parse::<Ipv4Addr>().ok(), "{s:?}");
        }
        assert_eq!(parse_addr("256.01.1.1"), Err(AddrError::NotOctet("256")));
        assert_eq!(parse_addr("1.01.999.1"), Err(AddrError::LeadingZero("01")));
        assert_eq!(parse_addr("1.2.3"), Err(AddrError::Shape));
    }

    #[test]
    fn networks_with_and_without_a_prefix() {
        let a = Ipv4Addr::new(10, 1, 2, 3);
        assert_eq!(parse_cidr("10.1.2.3"), Ok(Cidr { addr: a, prefix: None, padded: false }));
        assert_eq!(parse_cidr("10.1.2.3/8"), Ok(Cidr { addr: a, prefix: Some(8), padded: false }));
        assert_eq!(parse_cidr("10.1.2.3/08"), Ok(Cidr { addr: a, prefix: Some(8), padded: true }));
        assert_eq!(parse_cidr("10.1.2.3/0"), Ok(Cidr { addr: a, prefix: Some(0), padded: false }));
        // `u8`'s parser took a sign: `/+8` was a network in a variable, and no longer is.
        for bad in ["+8", "33", "", "8/9", " 8", "99999999999999999999999"] {
            let s = format!("10.1.2.3/{bad}");
            assert_eq!(parse_cidr(&s), Err(CidrError::Prefix(bad)), "{s}");
        }
        assert_eq!(parse_cidr("10.1.2.03/33"), Err(CidrError::Addr(AddrError::LeadingZero("03"))));
    }
}
