//! Reading variables: a lookup over the process environment (or a map in tests) with typed
//! readers that name the variable in their errors, and Open WebUI's duration syntax.

use std::time::Duration;

use super::ConfigError;

/// Reads variables from a lookup function (the process environment, or a map in tests).
pub(super) struct Env<'a> {
    pub(super) get: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    /// A set, non-empty value.
    pub(super) fn raw(&self, var: &str) -> Option<String> {
        (self.get)(var).filter(|v| !v.trim().is_empty())
    }

    pub(super) fn first(&self, vars: &[&str]) -> Option<(String, String)> {
        vars.iter().find_map(|v| self.raw(v).map(|value| (v.to_string(), value)))
    }

    pub(super) fn string(&self, var: &str, default: &str) -> String {
        self.raw(var).unwrap_or_else(|| default.to_string())
    }

    pub(super) fn bool(&self, var: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(var) {
            None => Ok(default),
            Some(v) => parse_bool(&v)
                .ok_or_else(|| ConfigError::new(var, format!("expected true or false, got {v:?}"))),
        }
    }

    pub(super) fn bool_any(&self, vars: &[&str], default: bool) -> Result<bool, ConfigError> {
        match self.first(vars) {
            None => Ok(default),
            Some((var, v)) => parse_bool(&v)
                .ok_or_else(|| ConfigError::new(&var, format!("expected true or false, got {v:?}"))),
        }
    }

    /// A number of seconds (fractions allowed); `0` ⇒ `None` (no limit).
    pub(super) fn timeout(&self, var: &str, default: u64) -> Result<Option<Duration>, ConfigError> {
        let Some(v) = self.raw(var) else { return Ok(Some(Duration::from_secs(default))) };
        match v.trim().parse::<f64>() {
            Ok(0.0) => Ok(None),
            Ok(n) if n.is_finite() && n > 0.0 && n < 1e9 => Ok(Some(Duration::from_secs_f64(n))),
            _ => {
                Err(ConfigError::new(var, format!("expected a number of seconds (0 = no limit), got {v:?}")))
            }
        }
    }

    pub(super) fn number<T: std::str::FromStr>(&self, var: &str, default: T) -> Result<T, ConfigError> {
        match self.raw(var) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                ConfigError::new(var, format!("expected a non-negative whole number, got {v:?}"))
            }),
        }
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Open WebUI's duration syntax: `-1` or `0` disable expiry (`Ok(None)`); otherwise a sum of
/// `<number><unit>` terms with units `ms`, `s`, `m`, `h`, `d`, `w` (e.g. `4w`, `1h30m`, `1.5d`).
pub fn parse_duration(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text == "-1" || text == "0" {
        return Ok(None);
    }
    let mut total = 0f64;
    let mut rest = text;
    let mut terms = 0;
    while !rest.is_empty() {
        let num_len = rest
            .char_indices()
            .take_while(|(i, c)| c.is_ascii_digit() || *c == '.' || (*i == 0 && *c == '-'))
            .count();
        let (num, tail) = rest.split_at(num_len);
        let number: f64 =
            num.parse().map_err(|_| format!("expected a duration like 4w, 12h or -1, got {text:?}"))?;
        let unit_len = tail.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let (unit, tail) = tail.split_at(unit_len);
        let factor = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 604800.0,
            _ => return Err(format!("unknown duration unit {unit:?} in {text:?} (use ms, s, m, h, d or w)")),
        };
        total += number * factor;
        terms += 1;
        rest = tail;
    }
    if terms == 0 {
        return Err(format!("expected a duration like 4w, 12h or -1, got {text:?}"));
    }
    if total <= 0.0 {
        return Err(format!("the duration {text:?} is not positive (use -1 to disable expiry)"));
    }
    Ok(Some(Duration::from_secs_f64(total)))
}

/// Whether `text` is a single `<number><unit>` term or `-1`/`0`, the only forms the admin-config
/// endpoint stores (as the reference does).
pub fn is_single_term_duration(text: &str) -> bool {
    let t = text.trim();
    if t == "-1" || t == "0" {
        return true;
    }
    let digits = t
        .char_indices()
        .take_while(|(i, c)| c.is_ascii_digit() || *c == '.' || (*i == 0 && *c == '-'))
        .count();
    let (num, unit) = t.split_at(digits);
    !num.is_empty() && num.parse::<f64>().is_ok() && matches!(unit, "ms" | "s" | "m" | "h" | "d" | "w")
}
