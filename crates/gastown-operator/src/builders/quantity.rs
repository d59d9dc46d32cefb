//! Exact arithmetic on Kubernetes resource quantities, for sizing the polecat
//! quota (`maxCount` × per-polecat cpu and memory).
//!
//! Results are written in the canonical form the API server stores them in,
//! so that comparing the desired quota with the observed one finds no drift.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a Kubernetes quantity")]
pub struct InvalidQuantity(pub String);

/// A quantity in thousandths of its unit, and whether it was written with a
/// binary suffix (which decides the canonical suffix family of results).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Millis {
    pub value: i128,
    pub binary: bool,
}

const BINARY: [(&str, u32); 6] = [
    ("Ki", 1),
    ("Mi", 2),
    ("Gi", 3),
    ("Ti", 4),
    ("Pi", 5),
    ("Ei", 6),
];
const DECIMAL: [(&str, i32); 8] = [
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];

/// Parses `<number><suffix>` (suffixes m, k, M, G, T, P, E, Ki…Ei, or an
/// exponent `e3`); fractions below a thousandth round up, as upstream does.
pub fn parse(quantity: &str) -> Result<Millis, InvalidQuantity> {
    let invalid = || InvalidQuantity(quantity.to_string());
    let split = quantity
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(split);
    let (negative, number) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty()
        || !(whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit()))
    {
        return Err(invalid());
    }
    // value = digits × 10^(-fraction_len) in units of the suffix.
    let digits: i128 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| invalid())?;
    let mut decimal_exponent = -(fraction.len() as i32) + 3; // in millis
    let mut multiplier: i128 = 1;
    let mut binary = false;
    if let Some((_, power)) = BINARY.iter().find(|(s, _)| *s == suffix) {
        multiplier = 1024_i128.checked_pow(*power).ok_or_else(invalid)?;
        binary = true;
    } else if let Some((_, exponent)) = DECIMAL.iter().find(|(s, _)| *s == suffix) {
        decimal_exponent += exponent;
    } else if let Some(exponent) = suffix.strip_prefix(['e', 'E']) {
        decimal_exponent += exponent.parse::<i32>().map_err(|_| invalid())?;
    } else {
        return Err(invalid());
    }
    let scaled = digits.checked_mul(multiplier).ok_or_else(invalid)?;
    let value = if decimal_exponent >= 0 {
        scaled
            .checked_mul(
                10_i128
                    .checked_pow(decimal_exponent as u32)
                    .ok_or_else(invalid)?,
            )
            .ok_or_else(invalid)?
    } else {
        let divisor = 10_i128
            .checked_pow(decimal_exponent.unsigned_abs())
            .ok_or_else(invalid)?;
        (scaled + divisor - 1) / divisor
    };
    Ok(Millis {
        value: if negative { -value } else { value },
        binary,
    })
}

/// The canonical spelling of a value in millis.
pub fn format(millis: Millis) -> Quantity {
    let Millis { value, binary } = millis;
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    if magnitude % 1000 != 0 {
        return Quantity(format!("{sign}{magnitude}m"));
    }
    let units = magnitude / 1000;
    if units == 0 {
        return Quantity("0".into());
    }
    if binary
        && let Some((suffix, power)) = BINARY
            .iter()
            .rev()
            .find(|(_, p)| units % 1024_u128.pow(*p) == 0)
    {
        return Quantity(format!("{sign}{}{suffix}", units / 1024_u128.pow(*power)));
    }
    let (suffix, exponent) = DECIMAL
        .iter()
        .rev()
        .filter(|(_, e)| *e >= 0)
        .find(|(_, e)| units % 10_u128.pow(*e as u32) == 0)
        .copied()
        .unwrap_or(("", 0));
    Quantity(format!(
        "{sign}{}{suffix}",
        units / 10_u128.pow(exponent as u32)
    ))
}

/// `count × quantity`, canonical.
pub fn times(count: i32, quantity: &Quantity) -> Result<Quantity, InvalidQuantity> {
    let millis = parse(&quantity.0)?;
    let value = millis
        .value
        .checked_mul(i128::from(count))
        .ok_or_else(|| InvalidQuantity(quantity.0.clone()))?;
    Ok(format(Millis { value, ..millis }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_suffixes_fractions_and_exponents() {
        let cases = [
            ("500m", 500),
            ("2", 2000),
            ("1.5", 1500),
            ("1k", 1_000_000),
            ("1Ki", 1_024_000),
            ("1Gi", 1_073_741_824_000),
            ("1.5Gi", 1_610_612_736_000),
            ("1e3", 1_000_000),
            ("0.0001", 1),
            ("-1", -1000),
        ];
        for (text, millis) in cases {
            assert_eq!(parse(text).unwrap().value, millis, "{text}");
        }
        for bad in ["", "abc", "1x", "1.2.3", "Gi", "1ii"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn multiplies_into_canonical_form() {
        let cases = [
            (5, "500m", "2500m"),
            (4, "500m", "2"),
            (5, "1Gi", "5Gi"),
            (3, "1.5Gi", "4608Mi"),
            (2, "512Mi", "1Gi"),
            (3, "1G", "3G"),
            (0, "1Gi", "0"),
            (10, "100m", "1"),
        ];
        for (count, each, total) in cases {
            assert_eq!(
                times(count, &Quantity(each.into())).unwrap(),
                Quantity(total.into()),
                "{count} × {each}"
            );
        }
    }
}
