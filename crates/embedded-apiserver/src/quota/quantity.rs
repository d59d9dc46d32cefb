//! Exact Kubernetes resource quantities (`500m`, `1.5Gi`, `1e3`).
//!
//! Follows `k8s.io/apimachinery/pkg/api/resource`: values are kept exactly in
//! nano-units (finer amounts round up to `1n`, as upstream does), sums keep
//! the format of their first non-zero operand, and [`Display`](std::fmt::Display)
//! gives upstream's canonical form (`1.5` → `1500m`, `1024Mi` → `1Gi`), which
//! is what quota messages and `status.used` show.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// How a quantity was written, which decides how it is printed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// `m`, `k`, `M`, `G`, ... or no suffix.
    #[default]
    DecimalSi,
    /// `Ki`, `Mi`, `Gi`, ...
    BinarySi,
    /// `e3`, `E-6`, ...
    DecimalExponent,
}

/// An exact resource quantity. Equality and ordering compare amounts only,
/// so `1Gi == 1073741824`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

/// Why a string is not a quantity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseQuantityError {
    #[error("quantity {0:?} is not a number followed by an optional suffix")]
    WrongFormat(String),
    #[error("quantity {input:?} has an unknown suffix {suffix:?}")]
    UnknownSuffix { input: String, suffix: String },
    #[error("quantity {0:?} is too large")]
    TooLarge(String),
}

impl Quantity {
    /// Zero, printed as `0`.
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSi,
    };

    /// A whole number of units in decimal format, e.g. a pod count.
    pub fn from_units(units: i64) -> Self {
        Quantity {
            nanos: i128::from(units) * NANOS_PER_UNIT,
            format: Format::DecimalSi,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The amount in milli-units, rounded up like upstream's `MilliValue`.
    pub fn milli_value(&self) -> i128 {
        ceil_div(self.nanos, 1_000_000)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Add for Quantity {
    type Output = Quantity;

    fn add(mut self, other: Quantity) -> Quantity {
        self += other;
        self
    }
}

impl AddAssign for Quantity {
    /// A zero quantity takes the other's format, as upstream's `Quantity.Add`.
    fn add_assign(&mut self, other: Quantity) {
        if self.nanos == 0 {
            self.format = other.format;
        }
        self.nanos = self.nanos.saturating_add(other.nanos);
    }
}

impl Sub for Quantity {
    type Output = Quantity;

    /// As upstream's `Quantity.Sub`: the amounts subtract, the format stays.
    fn sub(mut self, other: Quantity) -> Quantity {
        self.nanos = self.nanos.saturating_sub(other.nanos);
        self
    }
}

impl FromStr for Quantity {
    type Err = ParseQuantityError;

    /// Parses `<sign><digits>[.<digits>]<suffix>` where the suffix is one of
    /// `n u m "" k M G T P E`, `Ki Mi Gi Ti Pi Ei`, or `e<int>` / `E<int>`.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let wrong_format = || ParseQuantityError::WrongFormat(input.to_owned());
        let too_large = || ParseQuantityError::TooLarge(input.to_owned());

        let (negative, unsigned) = match input.as_bytes().first() {
            Some(b'-') => (true, &input[1..]),
            Some(b'+') => (false, &input[1..]),
            _ => (false, input),
        };
        let number_len = unsigned
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(unsigned.len());
        let (number, suffix) = unsigned.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return Err(wrong_format());
        }
        let (base, exponent, format) =
            parse_suffix(suffix).ok_or_else(|| ParseQuantityError::UnknownSuffix {
                input: input.to_owned(),
                suffix: suffix.to_owned(),
            })?;

        // value = digits × 10^-fraction_len × base^exponent, in nano-units.
        let fraction = fraction.trim_end_matches('0');
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| too_large())?
        };
        let mut power_of_ten = 9 - i64::try_from(fraction.len()).map_err(|_| too_large())?;
        let mut numerator = mantissa;
        match base {
            Base::Ten => power_of_ten += exponent,
            Base::Two => {
                let factor = 1i128 << (10 * exponent);
                numerator = numerator.checked_mul(factor).ok_or_else(too_large)?;
            }
        }
        let magnitude = if numerator == 0 {
            0
        } else if power_of_ten >= 0 {
            let factor = u32::try_from(power_of_ten)
                .ok()
                .and_then(|p| 10i128.checked_pow(p))
                .ok_or_else(too_large)?;
            numerator.checked_mul(factor).ok_or_else(too_large)?
        } else {
            // Finer than a nano-unit: round up, so that asking for some gives some.
            match u32::try_from(-power_of_ten)
                .ok()
                .and_then(|p| 10i128.checked_pow(p))
            {
                Some(divisor) => ceil_div(numerator, divisor),
                None => 1,
            }
        };
        Ok(Quantity {
            nanos: if negative { -magnitude } else { magnitude },
            format,
        })
    }
}

#[derive(Clone, Copy)]
enum Base {
    Two,
    Ten,
}

fn parse_suffix(suffix: &str) -> Option<(Base, i64, Format)> {
    let decimal = |exponent| Some((Base::Ten, exponent, Format::DecimalSi));
    let binary = |exponent| Some((Base::Two, exponent, Format::BinarySi));
    match suffix {
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some((Base::Ten, exponent.parse().ok()?, Format::DecimalExponent))
        }
    }
}

fn ceil_div(numerator: i128, divisor: i128) -> i128 {
    let quotient = numerator / divisor;
    if numerator % divisor > 0 {
        quotient + 1
    } else {
        quotient
    }
}

impl fmt::Display for Quantity {
    /// Upstream's canonical form: the largest suffix that keeps the number whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let whole_units = self.nanos % NANOS_PER_UNIT == 0;
        if self.format == Format::BinarySi
            && whole_units
            && self.nanos.abs() >= 1024 * NANOS_PER_UNIT
        {
            let mut mantissa = self.nanos / NANOS_PER_UNIT;
            let mut exponent = 0;
            while exponent < 6 && mantissa % 1024 == 0 {
                mantissa /= 1024;
                exponent += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exponent];
            return write!(f, "{mantissa}{suffix}");
        }
        // Decimal: mantissa × 10^exponent with the exponent a multiple of 3.
        let mut mantissa = self.nanos;
        let mut exponent: i32 = -9;
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        let extra = exponent.rem_euclid(3);
        exponent -= extra;
        mantissa *= 10i128.pow(extra.unsigned_abs());
        let decimal_suffix = match exponent {
            -9 => Some("n"),
            -6 => Some("u"),
            -3 => Some("m"),
            0 => Some(""),
            3 => Some("k"),
            6 => Some("M"),
            9 => Some("G"),
            12 => Some("T"),
            15 => Some("P"),
            18 => Some("E"),
            _ => None,
        };
        match (self.format, decimal_suffix) {
            (Format::DecimalExponent, _) | (_, None) if exponent != 0 => {
                write!(f, "{mantissa}e{exponent}")
            }
            (_, suffix) => write!(f, "{mantissa}{}", suffix.unwrap_or("")),
        }
    }
}

/// Rewrites a quantity string in upstream's canonical form, as the real API
/// server stores it (`0.5` → `500m`); `None` when it does not parse.
pub fn canonicalize(input: &str) -> Option<String> {
    input.parse::<Quantity>().ok().map(|q| q.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_canonically() {
        let cases = [
            ("0", "0"),
            ("0Mi", "0"),
            ("0e400", "0"),
            ("-0", "0"),
            ("100m", "100m"),
            ("0.1", "100m"),
            (".5", "500m"),
            ("1.", "1"),
            ("1.5", "1500m"),
            ("2500m", "2500m"),
            ("3000m", "3"),
            ("+2", "2"),
            ("-1", "-1"),
            ("-1.5", "-1500m"),
            ("1000", "1k"),
            ("1500000", "1500k"),
            ("1024", "1024"),
            ("1k", "1k"),
            ("1M", "1M"),
            ("1G", "1G"),
            ("1T", "1T"),
            ("1P", "1P"),
            ("1E", "1E"),
            ("1n", "1n"),
            ("1u", "1u"),
            ("1500n", "1500n"),
            ("1.0001m", "1000100n"),
            ("0.1n", "1n"),
            ("0.0000000000000000000000000000000000000000001", "1n"),
            ("1Ki", "1Ki"),
            ("1024Ki", "1Mi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1.1Ki", "1126400m"),
            ("1023Ki", "1023Ki"),
            ("1Ei", "1Ei"),
            ("1024Ei", "1024Ei"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("1e+3", "1e3"),
            ("1e-3", "1e-3"),
            ("12e2", "1200"),
            ("15e5", "1500e3"),
            ("1e0", "1"),
            ("000123", "123"),
            ("1.000000000000000000000000000000000000000000", "1"),
        ];
        for (input, canonical) in cases {
            let parsed: Quantity = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed.to_string(), canonical, "canonical form of {input}");
        }
    }

    #[test]
    fn keeps_amounts_exact() {
        let cases = [
            ("1", 1_000_000_000),
            ("1m", 1_000_000),
            ("1Ki", 1024 * NANOS_PER_UNIT),
            ("1.5Gi", 1536 * 1024 * 1024 * NANOS_PER_UNIT),
            ("1e-9", 1),
            ("1.5e-9", 2),
            ("-1.5e-9", -2),
            ("1Ei", (1i128 << 60) * NANOS_PER_UNIT),
        ];
        for (input, nanos) in cases {
            assert_eq!(input.parse::<Quantity>().unwrap().nanos, nanos, "{input}");
        }
    }

    #[test]
    fn refuses_what_upstream_refuses() {
        for input in [
            "", "+", "-", ".", "abc", "1Kb", "1e", "1e1.5", "1.5.5", "Ki", "1 Ki", "--1", "1i",
            "1kk", " 1",
        ] {
            assert!(
                input.parse::<Quantity>().is_err(),
                "{input:?} should not parse"
            );
        }
        assert!(matches!(
            "1e400".parse::<Quantity>(),
            Err(ParseQuantityError::TooLarge(_))
        ));
        assert!(matches!(
            "1Mb".parse::<Quantity>(),
            Err(ParseQuantityError::UnknownSuffix { .. })
        ));
    }

    #[test]
    fn compares_amounts_across_formats() {
        let q = |s: &str| s.parse::<Quantity>().unwrap();
        assert_eq!(q("1Gi"), q("1073741824"));
        assert_eq!(q("1"), q("1000m"));
        assert!(q("999m") < q("1"));
        assert!(q("1G") < q("1Gi"));
        assert!(q("1e3") == q("1k"));
    }

    #[test]
    fn sums_keep_the_first_non_zero_format() {
        let q = |s: &str| s.parse::<Quantity>().unwrap();
        assert_eq!((q("1Gi") + q("512Mi")).to_string(), "1536Mi");
        assert_eq!((Quantity::ZERO + q("1Gi")).to_string(), "1Gi");
        assert_eq!((q("2") + q("500m")).to_string(), "2500m");
        assert_eq!((q("500m") + q("1Gi")).to_string(), "1073741824500m");
        assert_eq!((q("1000") + q("24")).to_string(), "1024");
        assert_eq!((q("1e3") + q("1e3")).to_string(), "2e3");
    }

    #[test]
    fn milli_value_rounds_up() {
        assert_eq!("1.5".parse::<Quantity>().unwrap().milli_value(), 1500);
        assert_eq!("1n".parse::<Quantity>().unwrap().milli_value(), 1);
    }

    #[test]
    fn canonicalize_rewrites_or_refuses() {
        assert_eq!(canonicalize("0.5").as_deref(), Some("500m"));
        assert_eq!(canonicalize("2048Mi").as_deref(), Some("2Gi"));
        assert_eq!(canonicalize("lots"), None);
    }
}
