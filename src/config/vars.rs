//! Reading variables: one typed helper per kind of value, each naming the variable in
//! its error, so that every section reads its variables the same way.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use super::ConfigError;

/// The unit a duration variable's plain numbers are in (its name says which:
/// `_MS`, `_SECONDS`, `_MINUTES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Millis,
    Seconds,
    Minutes,
}

impl Unit {
    fn of(self, n: u64) -> Option<Duration> {
        match self {
            Unit::Millis => Some(Duration::from_millis(n)),
            Unit::Seconds => Some(Duration::from_secs(n)),
            Unit::Minutes => n.checked_mul(60).map(Duration::from_secs),
        }
    }

    fn nanos(self) -> u128 {
        match self {
            Unit::Millis => 1_000_000,
            Unit::Seconds => 1_000_000_000,
            Unit::Minutes => 60_000_000_000,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Unit::Millis => "milliseconds",
            Unit::Seconds => "seconds",
            Unit::Minutes => "minutes",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Unit::Millis => "`500` or `250ms`",
            Unit::Seconds => "`600` or `10m`",
            Unit::Minutes => "`120` or `2h`",
        }
    }
}

/// The environment as the configuration sees it: a variable set to blanks is unset.
pub struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Vars<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    pub fn get(&self, var: &str) -> Option<String> {
        (self.lookup)(var).filter(|v| !v.trim().is_empty())
    }

    pub fn string(&self, var: &str, default: &str) -> String {
        self.get(var).unwrap_or_else(|| default.to_owned())
    }

    /// A secret: kept in a type whose `Debug` prints no part of it.
    pub fn secret(&self, var: &str, default: &str) -> SecretString {
        SecretString::from(self.string(var, default))
    }

    pub fn optional_secret(&self, var: &str) -> Option<SecretString> {
        self.get(var).map(SecretString::from)
    }

    /// A whole number, at least `min`.
    pub fn number<T>(&self, var: &'static str, default: T, min: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        match self.get(var) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<T>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(ConfigError::new(
                    var,
                    format!("expected a whole number ≥ {min}, got `{v}`"),
                )),
            },
        }
    }

    /// A duration: a plain number in the variable's own unit (what the variable always
    /// took, so no existing setting changes meaning), or a number with units as
    /// `humantime` reads them (`10m`, `600s`, `250ms`, `1h 30m`). It must be a whole
    /// number of the variable's unit, because that is the precision its users keep
    /// (a token's expiry is in whole seconds): a value they would round is refused
    /// rather than quietly changed.
    pub fn duration(
        &self,
        var: &'static str,
        default: Duration,
        unit: Unit,
        min: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(raw) = self.get(var) else {
            return Ok(default);
        };
        let value = parse_duration(raw.trim(), unit)
            .map_err(|message| ConfigError::new(var, format!("{message}, got `{}`", raw.trim())))?;
        if value < min {
            return Err(ConfigError::new(
                var,
                format!(
                    "must be at least {}, got `{}`",
                    humantime::format_duration(min),
                    raw.trim()
                ),
            ));
        }
        Ok(value)
    }

    /// One of a few words.
    pub fn choice<T: Copy>(
        &self,
        var: &'static str,
        default: T,
        options: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let Some(raw) = self.get(var) else {
            return Ok(default);
        };
        options
            .iter()
            .find(|(name, _)| *name == raw)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("`{n}`")).collect();
                ConfigError::new(
                    var,
                    format!("expected one of {}, got `{raw}`", names.join(", ")),
                )
            })
    }

    /// A comma-separated list, blanks dropped.
    pub fn list(&self, var: &str) -> Option<Vec<String>> {
        self.get(var).map(|v| {
            v.split(',')
                .map(|item| item.trim().to_owned())
                .filter(|item| !item.is_empty())
                .collect()
        })
    }
}

fn parse_duration(raw: &str, unit: Unit) -> Result<Duration, String> {
    let expected = || {
        format!(
            "expected a duration: {} {} by default, or with units such as `10m`, `600s`, `250ms`",
            unit.example(),
            unit.name()
        )
    };
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = raw.parse().map_err(|_| expected())?;
        return unit.of(n).ok_or_else(expected);
    }
    let value = humantime::parse_duration(raw).map_err(|_| expected())?;
    if value.as_nanos() % unit.nanos() != 0 {
        return Err(format!("must be a whole number of {}", unit.name()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_keep_the_variables_unit_and_units_are_read() {
        let s = |raw| parse_duration(raw, Unit::Seconds);
        assert_eq!(s("600"), Ok(Duration::from_secs(600)));
        assert_eq!(s("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(s("600s"), Ok(Duration::from_secs(600)));
        assert_eq!(s("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(s("0"), Ok(Duration::ZERO));
        let ms = |raw| parse_duration(raw, Unit::Millis);
        assert_eq!(ms("250"), Ok(Duration::from_millis(250)));
        assert_eq!(ms("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(ms("10s"), Ok(Duration::from_secs(10)));
        let min = |raw| parse_duration(raw, Unit::Minutes);
        assert_eq!(min("120"), Ok(Duration::from_secs(7200)));
        assert_eq!(min("2h"), Ok(Duration::from_secs(7200)));
        // Precision the variable's users would drop is refused, not rounded.
        assert!(s("1500ms").is_err());
        assert!(min("90s").is_err());
        for bad in [
            "-1",
            "ten",
            "10 parsecs",
            "1.5",
            "m",
            "99999999999999999999999",
        ] {
            assert!(s(bad).is_err(), "{bad}");
        }
        assert!(min(&u64::MAX.to_string()).is_err());
    }
}
