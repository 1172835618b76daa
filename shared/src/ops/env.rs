//! Typed reading of `<PREFIX>_*` environment variables, one rule set for both services:
//!
//! - a variable that is unset takes its default; one that is set is used as given (trimmed),
//!   so a blank value is parsed like any other and fails naming the variable rather than
//!   silently meaning the default;
//! - an unknown `<PREFIX>_*` variable is refused, so a typo cannot fall back to a default;
//! - lists are separated by commas, whitespace or both (`a,b`, `a, b`, `a b`);
//! - booleans are `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`, in any case;
//! - a secret may come from `NAME` or from the file named by `NAME_FILE` (not both); a blank
//!   `NAME` counts as unset, a blank or unreadable file is an error.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::secret::Secret;

/// A configuration value that cannot be used, naming the full variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The process environment's variables that start with `prefix`.
pub fn vars_with_prefix(prefix: &str) -> HashMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with(prefix))
        .collect()
}

/// Reads one service's variables; names passed to its methods are without the prefix.
pub struct Env<'a> {
    prefix: &'static str,
    vars: &'a HashMap<String, String>,
}

impl<'a> Env<'a> {
    /// `vars` holds full variable names (`<prefix>…`).
    pub fn new(prefix: &'static str, vars: &'a HashMap<String, String>) -> Self {
        Self { prefix, vars }
    }

    /// An error about `name` (without the prefix).
    pub fn error(&self, name: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            variable: format!("{}{name}", self.prefix),
            message: message.into(),
        }
    }

    /// Refuses any prefixed variable that is not in `known` nor the `_FILE` form of one of
    /// `secrets`. The first unknown name in sorted order is reported, so the error is stable.
    pub fn reject_unknown(&self, known: &[&str], secrets: &[&str]) -> Result<(), ConfigError> {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        for full in names {
            let Some(name) = full.strip_prefix(self.prefix) else {
                continue;
            };
            let base = name.strip_suffix("_FILE").filter(|b| secrets.contains(b));
            if !known.contains(&name) && base.is_none() {
                return Err(self.error(name, "unknown variable (see docs/configuration.md)"));
            }
        }
        Ok(())
    }

    /// The trimmed value when the variable is set (possibly blank).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(&format!("{}{name}", self.prefix))
            .map(|v| v.trim())
    }

    pub fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_owned()
    }

    /// Items separated by commas and/or whitespace; empty items are skipped.
    pub fn list(&self, name: &str, default: &str) -> Vec<String> {
        split_list(self.get(name).unwrap_or(default))
    }

    /// Whitespace-separated words (OAuth scope strings, where a comma is a valid character).
    pub fn words(&self, name: &str, default: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or(default)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    pub fn url(&self, name: &str, default: &str) -> Result<Url, ConfigError> {
        Url::parse(self.get(name).unwrap_or(default))
            .map_err(|e| self.error(name, format!("not an absolute URL ({e})")))
    }

    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| self.error(name, "must be true or false")),
        }
    }

    /// Whole seconds within `min..=max`.
    pub fn secs(
        &self,
        name: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<Duration, ConfigError> {
        let secs = match self.get(name) {
            None => default,
            Some(raw) => raw
                .parse()
                .map_err(|_| self.error(name, "must be a whole number of seconds"))?,
        };
        if !(min..=max).contains(&secs) {
            return Err(self.error(name, format!("must be between {min} and {max} seconds")));
        }
        Ok(Duration::from_secs(secs))
    }

    /// A number that `valid` accepts; `hint` says what is expected.
    pub fn number<T: FromStr>(
        &self,
        name: &str,
        default: T,
        valid: impl Fn(&T) -> bool,
        hint: &str,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<T>()
                .ok()
                .filter(|n| valid(n))
                .ok_or_else(|| self.error(name, hint.to_owned())),
        }
    }

    pub fn socket_addr(&self, name: &str, default: &str) -> Result<SocketAddr, ConfigError> {
        self.get(name)
            .unwrap_or(default)
            .parse()
            .map_err(|_| self.error(name, "must be IP:PORT, e.g. 0.0.0.0:8080"))
    }

    /// `text` (the default) or `json`.
    pub fn log_format(&self, name: &str) -> Result<LogFormat, ConfigError> {
        match self.get(name).unwrap_or("text") {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(self.error(name, "must be `text` or `json`")),
        }
    }

    /// A secret from `NAME` or from the file named by `NAME_FILE` (not both). A blank `NAME`
    /// counts as unset; a file that cannot be read or holds only whitespace is an error (a
    /// mounted secret with a missing key must not quietly mean "no secret").
    pub fn secret(&self, name: &str) -> Result<Option<Secret>, ConfigError> {
        let file_var = format!("{name}_FILE");
        let direct = self.get(name).filter(|v| !v.is_empty());
        match (direct, self.get(&file_var)) {
            (Some(_), Some(_)) => Err(self.error(
                name,
                format!(
                    "set either {p}{name} or {p}{file_var}, not both",
                    p = self.prefix
                ),
            )),
            (Some(v), None) => Ok(Some(Secret::new(v))),
            (None, Some(path)) => {
                let contents = std::fs::read_to_string(path)
                    .map_err(|e| self.error(&file_var, format!("cannot read `{path}`: {e}")))?;
                let value = contents.trim();
                if value.is_empty() {
                    return Err(self.error(&file_var, format!("`{path}` is empty")));
                }
                Ok(Some(Secret::new(value)))
            }
            (None, None) => Ok(None),
        }
    }
}

/// Splits on commas and whitespace, dropping empty items.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (format!("T_{k}"), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn lists_split_on_commas_and_whitespace() {
        let v = vars(&[("L", " a,b  c,\n d ,, ")]);
        assert_eq!(Env::new("T_", &v).list("L", ""), ["a", "b", "c", "d"]);
        assert_eq!(Env::new("T_", &v).list("UNSET", "x y"), ["x", "y"]);
        assert!(Env::new("T_", &v).list("UNSET", "").is_empty());
    }

    #[test]
    fn booleans_take_the_usual_spellings_in_any_case() {
        for (raw, want) in [("TRUE", true), ("1", true), ("Yes", true), ("on", true)]
            .into_iter()
            .chain([
                ("false", false),
                ("0", false),
                ("NO", false),
                ("Off", false),
            ])
        {
            let v = vars(&[("B", raw)]);
            assert_eq!(Env::new("T_", &v).bool("B", !want).unwrap(), want, "{raw}");
        }
        let v = vars(&[("B", "maybe"), ("E", "")]);
        let env = Env::new("T_", &v);
        assert_eq!(env.bool("B", true).unwrap_err().variable, "T_B");
        assert_eq!(
            env.bool("E", true).unwrap_err().variable,
            "T_E",
            "blank is not a default"
        );
        assert!(env.bool("UNSET", true).unwrap());
    }

    #[test]
    fn secrets_from_env_or_file_and_never_from_an_empty_file() {
        let dir = std::env::temp_dir().join(format!("mcp-shared-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let full = dir.join("full");
        let empty = dir.join("empty");
        std::fs::write(&full, "s3cr3t\n").unwrap();
        std::fs::write(&empty, " \n").unwrap();
        let v = vars(&[
            ("A", "direct"),
            ("B_FILE", full.to_str().unwrap()),
            ("C_FILE", empty.to_str().unwrap()),
            ("D", "  "),
            ("E", "x"),
            ("E_FILE", full.to_str().unwrap()),
        ]);
        let env = Env::new("T_", &v);
        assert_eq!(env.secret("A").unwrap().unwrap().expose(), "direct");
        assert_eq!(env.secret("B").unwrap().unwrap().expose(), "s3cr3t");
        assert_eq!(env.secret("C").unwrap_err().variable, "T_C_FILE");
        assert!(env.secret("D").unwrap().is_none(), "a blank value is unset");
        assert_eq!(env.secret("E").unwrap_err().variable, "T_E");
        assert!(env.secret("UNSET").unwrap().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unknown_variables_are_refused_but_secret_files_are_known() {
        let v = vars(&[("KNOWN", "1"), ("S_FILE", "/x")]);
        let env = Env::new("T_", &v);
        assert!(env.reject_unknown(&["KNOWN"], &["S"]).is_ok());
        let v = vars(&[("KNOWN", "1"), ("KNOWN_FILE", "/x"), ("TYPO", "1")]);
        let e = Env::new("T_", &v)
            .reject_unknown(&["KNOWN"], &[])
            .unwrap_err();
        assert_eq!(e.variable, "T_KNOWN_FILE");
    }

    #[test]
    fn numbers_and_durations_name_the_variable() {
        let v = vars(&[("S", "5"), ("N", "x"), ("L", "json"), ("BAD", "xml")]);
        let env = Env::new("T_", &v);
        assert_eq!(env.secs("S", 1, 1, 10).unwrap(), Duration::from_secs(5));
        assert_eq!(env.secs("S", 1, 6, 10).unwrap_err().variable, "T_S");
        assert_eq!(
            env.number("N", 1u32, |_| true, "a number")
                .unwrap_err()
                .variable,
            "T_N"
        );
        assert_eq!(env.log_format("L").unwrap(), LogFormat::Json);
        assert_eq!(env.log_format("UNSET").unwrap(), LogFormat::Text);
        assert_eq!(env.log_format("BAD").unwrap_err().variable, "T_BAD");
    }
}

/// Why a generated shared secret (one the operator creates, such as the token-exchange client
/// secret) is unusable, or `None`: shorter than 16 characters, containing whitespace or a
/// placeholder marker (`REPLACE-ME`, `CHANGE-ME`, `changeme`, `placeholder`, `example`), or
/// made of fewer than 8 distinct characters. A placeholder that starts anyway is a secret
/// everyone who read the example knows.
pub fn weak_generated_secret(secret: &str) -> Option<&'static str> {
    let lower = secret.to_ascii_lowercase();
    let distinct: std::collections::BTreeSet<char> = secret.chars().collect();
    if secret.chars().count() < 16 {
        Some("must be at least 16 characters (generate one: openssl rand -base64 32)")
    } else if [
        "replace-me",
        "replace_me",
        "change-me",
        "change_me",
        "changeme",
        "placeholder",
        "example",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
        || secret.chars().any(char::is_whitespace)
    {
        Some("is still the example's placeholder: generate one (openssl rand -base64 32)")
    } else if distinct.len() < 8 {
        Some("is too predictable: generate one (openssl rand -base64 32)")
    } else {
        None
    }
}

#[cfg(test)]
mod weak_secret_tests {
    use super::weak_generated_secret;

    #[test]
    fn placeholders_and_weak_secrets_are_named() {
        // The example overlay's file, as shipped.
        assert!(weak_generated_secret(
            "REPLACE-ME: openssl rand -base64 32 (shared by the auth-proxy and the mcp-server)"
        )
        .is_some());
        assert!(weak_generated_secret("short").is_some());
        assert!(weak_generated_secret("aaaaaaaaaaaaaaaaaaaaaaaa").is_some());
        assert!(weak_generated_secret("changeme-changeme-1234").is_some());
        assert!(weak_generated_secret("exchange secret with spaces 123").is_some());
        assert_eq!(
            weak_generated_secret("q3Vt0bq8H9xk1mZ2rW7yLp4cA5sD6fG8"),
            None
        );
        assert_eq!(weak_generated_secret("exchange-secret-0123456789"), None);
    }
}
