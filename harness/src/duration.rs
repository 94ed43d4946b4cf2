//! TTLs as Vault reads and prints them.

use std::{fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole-second TTL such as `1440h` or `1h30m`.
///
/// `Display` renders it the way Vault writes durations into its warnings: Go's duration
/// format with zero components left out (`1h0m1s` is printed `1h1s`, `1440h0m0s` is `1440h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ttl(Duration);

impl Ttl {
    pub fn from_secs(secs: u64) -> Self {
        Ttl(Duration::from_secs(secs))
    }

    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        if secs == 0 {
            return f.write_str("0s");
        }
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        for (value, unit) in [(h, "h"), (m, "m"), (s, "s")] {
            if value > 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for Ttl {
    type Err = String;

    /// Accepts what `vault write ... ttl=` accepts for whole seconds: `90`, `90s`, `15m`, `1h30m`, `1440h`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("`{text}` is not a duration like 1440h, 90m or 1h30m");
        if text.is_empty() {
            return Err(invalid());
        }
        if let Ok(secs) = text.parse::<u64>() {
            return Ok(Ttl::from_secs(secs));
        }
        let mut total: u64 = 0;
        let mut number = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = match c {
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => return Err(invalid()),
            };
            let value: u64 = number.parse().map_err(|_| invalid())?;
            total = value
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(invalid)?;
            number.clear();
        }
        if !number.is_empty() {
            return Err(invalid());
        }
        Ok(Ttl::from_secs(total))
    }
}

impl Serialize for Ttl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("1440h", 1440 * 3600, "1440h")]
    #[case("768h", 768 * 3600, "768h")]
    #[case("1h30m", 5400, "1h30m")]
    #[case("90s", 90, "1m30s")]
    #[case("3601", 3601, "1h1s")]
    #[case("125s", 125, "2m5s")]
    #[case("1440h30m", 1440 * 3600 + 1800, "1440h30m")]
    fn parses_and_prints_like_vault(#[case] input: &str, #[case] secs: u64, #[case] printed: &str) {
        let ttl: Ttl = input.parse().unwrap();
        assert_eq!(ttl.as_secs(), secs);
        assert_eq!(ttl.to_string(), printed);
    }

    #[rstest]
    #[case("")]
    #[case("h")]
    #[case("10d")]
    #[case("1.5h")]
    #[case("12h3")]
    #[case("99999999999999999999h")]
    fn rejects_what_vault_would_not_take(#[case] input: &str) {
        assert!(input.parse::<Ttl>().is_err(), "{input} should be rejected");
    }
}
