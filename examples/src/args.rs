//! A hand-rolled command-line parser, just enough for the examples:
//! `--name value` or `--name=value` options, bare `--flag` for
//! `--flag true`, and `--help`.

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed `--option value` pairs.
#[derive(Debug, Default)]
pub struct Args {
    usage: String,
    values: HashMap<String, String>,
}

impl Args {
    /// Parses the process arguments. `options` lists the accepted option
    /// names (without `--`). Prints `usage` and exits 0 on `--help`; prints
    /// it and exits 2 on an unknown option or a missing value.
    pub fn parse(usage: &str, options: &[&str]) -> Args {
        match Args::parse_from(std::env::args().skip(1), usage, options) {
            Ok(Some(args)) => args,
            Ok(None) => {
                println!("{usage}");
                std::process::exit(0);
            }
            Err(message) => {
                eprintln!("error: {message}\n\n{usage}");
                std::process::exit(2);
            }
        }
    }

    /// Parses `args`; `Ok(None)` means `--help` was asked for.
    pub fn parse_from(
        args: impl IntoIterator<Item = String>,
        usage: &str,
        options: &[&str],
    ) -> Result<Option<Args>, String> {
        let mut values = HashMap::new();
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                return Ok(None);
            }
            let Some(option) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?}"));
            };
            let (name, value) = match option.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                // A bare `--flag` (followed by another option or nothing)
                // means `--flag true`.
                None => match args.next_if(|next| !next.starts_with("--")) {
                    Some(value) => (option.to_owned(), value),
                    None => (option.to_owned(), "true".to_owned()),
                },
            };
            if !options.contains(&name.as_str()) {
                return Err(format!("unknown option --{name}"));
            }
            values.insert(name, value);
        }
        Ok(Some(Args {
            usage: usage.to_owned(),
            values,
        }))
    }

    /// The value of `--name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of `--name` parsed as `T`, or `default`. Exits 2 with the
    /// usage text when the value does not parse.
    pub fn get_or<T: FromStr>(&self, name: &str, default: T) -> T {
        match self.get(name) {
            None => default,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                eprintln!(
                    "error: invalid value {raw:?} for --{name}\n\n{}",
                    self.usage
                );
                std::process::exit(2);
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Args;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        Args::parse_from(
            args.iter().map(|s| s.to_string()),
            "usage",
            &["port", "name"],
        )
    }

    #[test]
    fn both_spellings() {
        let args = parse(&["--port", "1234", "--name=Ann"]).unwrap().unwrap();
        assert_eq!(args.get_or("port", 0u16), 1234);
        assert_eq!(args.get("name"), Some("Ann"));
        assert_eq!(args.get("other"), None);
    }

    #[test]
    fn help_and_errors() {
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--bogus", "1"]).is_err());
        let bare = parse(&["--port", "--name", "x"]).unwrap().unwrap();
        assert_eq!(bare.get("port"), Some("true"));
        assert_eq!(bare.get("name"), Some("x"));
        assert!(parse(&["positional"]).is_err());
    }
}
