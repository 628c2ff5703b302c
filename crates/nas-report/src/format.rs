//! Short human-readable numbers, shared by the table, the page and the chart labels.

/// A count with a k/M/G suffix and at most one decimal: `950`, `80.9k`, `10k`, `36.2M`.
pub(crate) fn count(n: u64) -> String {
    suffixed(n as f64)
}

/// A number with a k/M/G suffix and at most one decimal, rounded to a whole number below a
/// thousand: `950`, `80.9k`, `10k`, `36.2M`.
pub(crate) fn suffixed(x: f64) -> String {
    let a = x.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (x / 1e9, "G")
    } else if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e3 {
        (x / 1e3, "k")
    } else {
        return format!("{x:.0}");
    };
    let digits = format!("{scaled:.1}");
    format!("{}{suffix}", digits.strip_suffix(".0").unwrap_or(&digits))
}

/// A value with about four significant digits, without exponent for ordinary magnitudes.
pub(crate) fn value(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || !x.is_finite() {
        format!("{x}")
    } else if !(1e-3..1e6).contains(&a) {
        format!("{x:.3e}")
    } else {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{x:.decimals$}")
    }
}

/// An axis tick label: a count with a suffix from 10 000 up, else at most four significant
/// digits without trailing zeros (`0.5`, `1`, `0.05`).
pub(crate) fn tick(x: f64) -> String {
    if x.abs() >= 1e4 {
        return suffixed(x);
    }
    let text = value(x);
    match text.contains('.') && !text.contains('e') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    }
}

/// An optional number, or `–` when missing.
pub(crate) fn or_dash<T>(x: Option<T>, f: impl FnOnce(T) -> String) -> String {
    x.map(f).unwrap_or_else(|| "–".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_suffixes() {
        assert_eq!(count(950), "950");
        assert_eq!(count(80_854), "80.9k");
        assert_eq!(count(36_163_360), "36.2M");
        assert_eq!(count(10_000), "10k");
        assert_eq!(suffixed(999.6), "1000");
        assert_eq!(suffixed(2e9), "2G");
    }

    #[test]
    fn values_keep_four_digits() {
        assert_eq!(value(0.8126), "0.8126");
        assert_eq!(value(0.684486), "0.6845");
        assert_eq!(value(12.3456), "12.35");
        assert_eq!(value(1234.4), "1234");
        assert_eq!(value(2.5e-5), "2.500e-5");
    }

    #[test]
    fn ticks_drop_trailing_zeros() {
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(1.0), "1");
        assert_eq!(tick(0.05), "0.05");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(31_600.0), "31.6k");
        assert_eq!(tick(200_000.0), "200k");
    }
}
