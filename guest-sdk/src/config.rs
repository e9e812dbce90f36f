//! The plugin's configuration table.

use std::str::FromStr;

/// The plugin's table from `berth.toml`, as given to [`Plugin::setup`](crate::Plugin::setup).
///
/// Scalar values arrive as their text (`true`, `60`, `"abc"` → `abc`); arrays and
/// tables arrive as JSON text.
///
/// ```
/// # use berth_sdk::Config;
/// let config = Config::new(vec![("secret".into(), "s3cret".into()), ("window".into(), "30".into())]);
/// assert_eq!(config.get("secret"), Some("s3cret"));
/// assert_eq!(config.get_or("header", "Authorization"), "Authorization");
/// assert_eq!(config.parse::<u32>("window"), Ok(Some(30)));
/// assert_eq!(config.parse_or::<u32>("max", 1), Ok(1));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// A configuration from key/value pairs (the host passes them to `setup`).
    pub fn new(pairs: Vec<(String, String)>) -> Config {
        Config { pairs }
    }

    /// The value of `key`, if it is set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or `default` when it is not set.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// Parses the value of `key`: `Ok(None)` when unset, `Err` (naming the key) when the
    /// value does not parse — return it from `setup` to refuse a bad configuration.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("config key `{key}`: cannot parse {v:?}")),
        }
    }

    /// Like [`Config::parse`], with `default` when the key is unset.
    pub fn parse_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        Ok(self.parse(key)?.unwrap_or(default))
    }

    /// The whole table as `T`, with serde: each value is read as the type its field
    /// asks for (`window = 60` fills a `u32` or a `String`; arrays and tables fill
    /// `Vec`s, maps and structs). The error names the key; return it from `setup` to
    /// refuse a bad configuration. Use `#[serde(default)]` for optional keys.
    ///
    /// ```
    /// # use berth_sdk::Config;
    /// #[derive(serde::Deserialize)]
    /// struct Settings {
    ///     secret: String,
    ///     #[serde(default = "sixty")]
    ///     window: u32,
    ///     #[serde(default)]
    ///     origins: Vec<String>,
    /// }
    /// fn sixty() -> u32 { 60 }
    ///
    /// let config = Config::new(vec![
    ///     ("secret".into(), "s3cret".into()),
    ///     ("origins".into(), r#"["https://a.example"]"#.into()),
    /// ]);
    /// let s: Settings = config.deserialize()?;
    /// assert_eq!((s.secret.as_str(), s.window, s.origins.len()), ("s3cret", 60, 1));
    /// # Ok::<(), String>(())
    /// ```
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        crate::config_de::from_pairs(&self.pairs)
    }

    /// Every key/value pair, in the order the host gave them.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}
