//! The string `format`s kube-apiserver checks in custom resources
//! (apiextensions-apiserver `validation/formats.go` plus kube-openapi's
//! `strfmt` registry). Every other format — `int32`, `int64`, `float`,
//! `double`, … — is stripped from the schema by the apiserver and never
//! checked, so we ignore it as well.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

/// A format the apiserver validates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    BsonObjectId,
    Uri,
    Email,
    Hostname,
    Ipv4,
    Ipv6,
    Cidr,
    Mac,
    Uuid,
    Uuid3,
    Uuid4,
    Uuid5,
    Isbn,
    Isbn10,
    Isbn13,
    CreditCard,
    Ssn,
    HexColor,
    RgbColor,
    Byte,
    Password,
    Date,
    Duration,
    DateTime,
}

impl Format {
    /// The checked format named `name` (dashes ignored, as go-openapi
    /// normalizes names), or `None` for formats the apiserver strips.
    pub fn supported(name: &str) -> Option<Self> {
        let normalized: String = name.chars().filter(|c| *c != '-').collect();
        Some(match normalized.as_str() {
            "bsonobjectid" => Self::BsonObjectId,
            "uri" => Self::Uri,
            "email" => Self::Email,
            "hostname" => Self::Hostname,
            "ipv4" => Self::Ipv4,
            "ipv6" => Self::Ipv6,
            "cidr" => Self::Cidr,
            "mac" => Self::Mac,
            "uuid" => Self::Uuid,
            "uuid3" => Self::Uuid3,
            "uuid4" => Self::Uuid4,
            "uuid5" => Self::Uuid5,
            "isbn" => Self::Isbn,
            "isbn10" => Self::Isbn10,
            "isbn13" => Self::Isbn13,
            "creditcard" => Self::CreditCard,
            "ssn" => Self::Ssn,
            "hexcolor" => Self::HexColor,
            "rgbcolor" => Self::RgbColor,
            "byte" => Self::Byte,
            "password" => Self::Password,
            "date" => Self::Date,
            "duration" => Self::Duration,
            "datetime" => Self::DateTime,
            _ => return None,
        })
    }

    /// The name kube-openapi uses in messages (`must be of type <name>`):
    /// the normalized registry name.
    pub fn name(self) -> &'static str {
        match self {
            Self::BsonObjectId => "bsonobjectid",
            Self::Uri => "uri",
            Self::Email => "email",
            Self::Hostname => "hostname",
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Cidr => "cidr",
            Self::Mac => "mac",
            Self::Uuid => "uuid",
            Self::Uuid3 => "uuid3",
            Self::Uuid4 => "uuid4",
            Self::Uuid5 => "uuid5",
            Self::Isbn => "isbn",
            Self::Isbn10 => "isbn10",
            Self::Isbn13 => "isbn13",
            Self::CreditCard => "creditcard",
            Self::Ssn => "ssn",
            Self::HexColor => "hexcolor",
            Self::RgbColor => "rgbcolor",
            Self::Byte => "byte",
            Self::Password => "password",
            Self::Date => "date",
            Self::Duration => "duration",
            Self::DateTime => "datetime",
        }
    }

    pub fn is_valid(self, s: &str) -> bool {
        match self {
            Self::BsonObjectId => s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()),
            Self::Uri => is_request_uri(s),
            Self::Email => is_email(s),
            Self::Hostname => is_hostname(s),
            Self::Ipv4 => is_ipv4(s),
            Self::Ipv6 => s.contains(':') && parse_ip(s).is_some(),
            Self::Cidr => is_cidr(s),
            Self::Mac => is_mac(s),
            Self::Uuid => matches(&UUID, s),
            Self::Uuid3 => matches(&UUID3, s),
            Self::Uuid4 => matches(&UUID4, s),
            Self::Uuid5 => matches(&UUID5, s),
            Self::Isbn => is_isbn10(s) || is_isbn13(s),
            Self::Isbn10 => is_isbn10(s),
            Self::Isbn13 => is_isbn13(s),
            Self::CreditCard => is_credit_card(s),
            Self::Ssn => matches(&SSN, s),
            Self::HexColor => matches(&HEX_COLOR, s),
            Self::RgbColor => matches(&RGB_COLOR, s),
            Self::Byte => matches(&BASE64, s),
            Self::Password => true,
            Self::Date => is_date(s),
            Self::Duration => is_duration(s),
            Self::DateTime => is_date_time(s),
        }
    }
}

fn matches(re: &LazyLock<Regex>, s: &str) -> bool {
    re.is_match(s)
}

macro_rules! pattern {
    ($name:ident, $re:expr) => {
        static $name: LazyLock<Regex> =
            LazyLock::new(|| Regex::new($re).expect("built-in format pattern compiles"));
    };
}

pattern!(
    HOSTNAME,
    r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9\-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$"
);
pattern!(
    UUID,
    r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"
);
pattern!(
    UUID3,
    r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$"
);
pattern!(
    UUID4,
    r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"
);
pattern!(
    UUID5,
    r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"
);
pattern!(SSN, r"^[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}$");
pattern!(HEX_COLOR, r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$");
pattern!(
    RGB_COLOR,
    r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$"
);
pattern!(
    BASE64,
    r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$"
);
pattern!(
    TIME_OF_DAY,
    r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$"
);
pattern!(FULL_DATE, r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$");
pattern!(
    EMAIL_ADDR,
    r#"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\[\]:-]+$"#
);
pattern!(
    CREDIT_CARD,
    r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})$"
);

/// strfmt `IsHostname`: the regex plus length limits.
fn is_hostname(s: &str) -> bool {
    HOSTNAME.is_match(s) && s.len() <= 255 && s.split('.').all(|p| p.len() <= 63)
}

/// Go's `net.ParseIP` accepting leading zeros in IPv4 parts, as
/// `netutils.ParseIPSloppy` does.
fn parse_ip(s: &str) -> Option<std::net::IpAddr> {
    if let Some(v4) = parse_ipv4_sloppy(s) {
        return Some(v4.into());
    }
    s.parse::<Ipv6Addr>().ok().map(Into::into)
}

fn parse_ipv4_sloppy(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (octet, part) in octets.iter_mut().zip(parts) {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// strfmt `isIPv4`: any IP that parses and is written with dots.
fn is_ipv4(s: &str) -> bool {
    s.contains('.') && parse_ip(s).is_some()
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    if bits.is_empty() || bits.len() > 3 || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(bits) = bits.parse::<u32>() else {
        return false;
    };
    match parse_ip(ip) {
        Some(std::net::IpAddr::V4(_)) => bits <= 32,
        Some(std::net::IpAddr::V6(_)) => bits <= 128,
        None => false,
    }
}

/// Go's `net.ParseMAC`: 6, 8 or 20 octets as `xx:xx…`, `xx-xx…` or `xxxx.xxxx…`.
fn is_mac(s: &str) -> bool {
    let hex_group =
        |g: &str, len: usize| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit());
    let valid_count = |n: usize| n == 6 || n == 8 || n == 20;
    for sep in [':', '-'] {
        if s.contains(sep) {
            let groups: Vec<&str> = s.split(sep).collect();
            return valid_count(groups.len()) && groups.iter().all(|g| hex_group(g, 2));
        }
    }
    let groups: Vec<&str> = s.split('.').collect();
    groups.len() > 1 && valid_count(groups.len() * 2) && groups.iter().all(|g| hex_group(g, 4))
}

/// Go's `url.ParseRequestURI`: an absolute URI or an absolute path.
fn is_request_uri(s: &str) -> bool {
    static SCHEME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[A-Za-z][A-Za-z0-9+.\-]*:").expect("scheme pattern compiles")
    });
    !s.is_empty()
        && !s.chars().any(|c| c.is_ascii_control() || c == ' ')
        && (s.starts_with('/') || SCHEME.is_match(s))
}

/// Approximates Go's `net/mail.ParseAddress` for `addr` and `Name <addr>`.
fn is_email(s: &str) -> bool {
    let addr = match (s.find('<'), s.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => s.trim(),
    };
    EMAIL_ADDR.is_match(addr)
        && addr.split_once('@').is_some_and(|(local, domain)| {
            !local.starts_with('.')
                && !local.ends_with('.')
                && !local.contains("..")
                && !domain.is_empty()
        })
}

fn is_isbn10(s: &str) -> bool {
    let chars: Vec<char> = s.chars().filter(|c| *c != '-' && *c != ' ').collect();
    if chars.len() != 10 {
        return false;
    }
    let mut sum = 0;
    for (i, c) in chars.iter().enumerate() {
        let digit = match c {
            'X' if i == 9 => 10,
            c => match c.to_digit(10) {
                Some(d) => d,
                None => return false,
            },
        };
        sum += (i as u32 + 1) * digit;
    }
    sum.is_multiple_of(11)
}

fn is_isbn13(s: &str) -> bool {
    let digits: Option<Vec<u32>> = s
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_digit(10))
        .collect();
    let Some(digits) = digits else { return false };
    if digits.len() != 13 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { *d } else { d * 3 })
        .sum();
    sum.is_multiple_of(10)
}

/// govalidator `IsCreditCard`: strips non-digits, then issuer pattern and Luhn.
fn is_credit_card(s: &str) -> bool {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if !CREDIT_CARD.is_match(&digits) {
        return false;
    }
    let sum: u32 = digits
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap_or(0);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// RFC 3339 full-date that names a real day (`time.Parse("2006-01-02")`).
fn is_date(s: &str) -> bool {
    let Some(caps) = FULL_DATE.captures(s) else {
        return false;
    };
    let number = |i: usize| caps[i].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(1), number(2), number(3));
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

/// strfmt `IsDateTime`: a full-date, `t`, and a time of day with zone.
fn is_date_time(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    let lower = s.to_lowercase();
    let parts: Vec<&str> = lower.split('t').collect();
    if parts.len() < 2 || !is_date(parts[0]) {
        return false;
    }
    let Some(caps) = TIME_OF_DAY.captures(parts[1]) else {
        return false;
    };
    &caps[1] <= "23" && &caps[2] <= "59" && &caps[3] <= "59"
}

/// Go's `time.ParseDuration`, or the Scala-like `"<n> <unit>"` form strfmt
/// also accepts.
fn is_duration(s: &str) -> bool {
    static SCALA: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(\d+)\s*(ns|us|µs|ms|s|m|h|d|w|(?:nano|micro|milli)?seconds?|minutes?|hours?|days?|weeks?|[nuµm]?sec|min|hr|ns|us)$")
            .expect("duration pattern compiles")
    });
    is_go_duration(s) || SCALA.is_match(s.trim())
}

fn is_go_duration(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    if s.is_empty() {
        return false;
    }
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        if !matches!(
            &rest[..unit_len],
            "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h"
        ) {
            return false;
        }
        rest = &rest[unit_len..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::Format::*;
    use super::*;

    #[test]
    fn only_apiserver_checked_formats_are_supported() {
        assert_eq!(Format::supported("date-time"), Some(DateTime));
        assert_eq!(Format::supported("int32"), None);
        assert_eq!(Format::supported("int64"), None);
        assert_eq!(Format::supported("quantity"), None);
    }

    #[test]
    fn format_table() {
        let cases: &[(Format, &str, bool)] = &[
            (DateTime, "2024-02-29T10:00:00Z", true),
            (DateTime, "2024-02-29T10:00:00.123+02:00", true),
            (DateTime, "2023-02-29T10:00:00Z", false),
            (DateTime, "2024-01-01 10:00:00Z", false),
            (DateTime, "2024-01-01T24:00:00Z", false),
            (Date, "2024-12-31", true),
            (Date, "2024-13-01", false),
            (Date, "2024-1-01", false),
            (Uuid, "123e4567-e89b-12d3-a456-426614174000", true),
            (Uuid, "123E4567E89B12D3A456426614174000", true),
            (Uuid, "not-a-uuid", false),
            (Uuid4, "123e4567-e89b-42d3-a456-426614174000", true),
            (Uuid4, "123e4567-e89b-12d3-a456-426614174000", false),
            (Ipv4, "10.0.0.1", true),
            (Ipv4, "010.000.000.001", true),
            (Ipv4, "10.0.0", false),
            (Ipv4, "::1", false),
            (Ipv6, "::1", true),
            (Ipv6, "fe80::1:2", true),
            (Ipv6, "10.0.0.1", false),
            (Cidr, "10.0.0.0/8", true),
            (Cidr, "fd00::/64", true),
            (Cidr, "10.0.0.0/33", false),
            (Cidr, "10.0.0.0", false),
            (Hostname, "example.com", true),
            (Hostname, "a-b", true),
            (Hostname, "-ab", false),
            (Hostname, "exa mple.com", false),
            (Email, "bob@example.com", true),
            (Email, "Bob <bob@example.com>", true),
            (Email, "bob", false),
            (Byte, "aGVsbG8=", true),
            (Byte, "aGVsbG8", false),
            (Mac, "01:23:45:67:89:ab", true),
            (Mac, "0123.4567.89ab", true),
            (Mac, "01:23:45", false),
            (Uri, "https://example.com/x", true),
            (Uri, "/just/a/path", true),
            (Uri, "relative/path", false),
            (Duration, "1h30m", true),
            (Duration, "1.5s", true),
            (Duration, "3 days", true),
            (Duration, "forever", false),
            (BsonObjectId, "507f1f77bcf86cd799439011", true),
            (BsonObjectId, "507f1f77", false),
            (HexColor, "#fff", true),
            (HexColor, "#ffff", false),
            (RgbColor, "rgb(255, 0, 10)", true),
            (Isbn10, "0321751043", true),
            (Isbn13, "978-0321751041", true),
            (Ssn, "123-45-6789", true),
            (CreditCard, "4111 1111 1111 1111", true),
            (CreditCard, "4111 1111 1111 1112", false),
        ];
        for (format, input, want) in cases {
            assert_eq!(format.is_valid(input), *want, "{} {input:?}", format.name());
        }
    }
}
