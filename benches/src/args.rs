//! A small `--flag value` parser shared by the binaries.

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed `--name value` pairs, `--switch`es and positional words.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, String>,
    switches: Vec<String>,
    /// Words that are neither flags nor flag values.
    pub positional: Vec<String>,
}

impl Args {
    /// Parses `args`; names in `switches` take no value.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        switches: &[&str],
    ) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut iter = args.into_iter();
        while let Some(arg) = iter.next() {
            if let Some(name) = arg.strip_prefix("--") {
                if let Some((name, value)) = name.split_once('=') {
                    parsed.values.insert(name.to_string(), value.to_string());
                } else if switches.contains(&name) {
                    parsed.switches.push(name.to_string());
                } else {
                    let value = iter
                        .next()
                        .ok_or_else(|| format!("--{name} needs a value"))?;
                    parsed.values.insert(name.to_string(), value);
                }
            } else {
                parsed.positional.push(arg);
            }
        }
        Ok(parsed)
    }

    /// True if `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    /// The raw value of `--name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `--name` parsed as `T`, or `default`.
    pub fn value<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|_| format!("--{name}: cannot parse {raw:?}")),
        }
    }

    /// The value of `--name` parsed as `T`; an error when missing.
    pub fn required<T: FromStr>(&self, name: &str) -> Result<T, String> {
        let raw = self
            .values
            .get(name)
            .ok_or_else(|| format!("--{name} is required"))?;
        raw.parse()
            .map_err(|_| format!("--{name}: cannot parse {raw:?}"))
    }
}
