//! [`Config::deserialize`](crate::Config::deserialize): the plugin's table into any
//! `serde::Deserialize` type.
//!
//! The host hands the table over as text pairs (scalars as their text, arrays and
//! tables as JSON), so a value's type is only known from what the target asks for:
//! `"60"` is a number to a `u32` field and text to a `String` field. serde's own value
//! deserializers take one fixed type per value, hence this small lenient one.

use serde::de::value::{Error as DeError, MapDeserializer};
use serde::de::{self, DeserializeOwned, Error as _, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

/// One config value, as the host passed it.
struct Scalar<'a>(&'a str);

impl Scalar<'_> {
    fn json(&self) -> Result<serde_json::Value, DeError> {
        crate::json::from_str(self.0).map_err(DeError::custom)
    }

    fn number<T: std::str::FromStr>(&self, what: &str) -> Result<T, DeError> {
        self.0
            .trim()
            .parse()
            .map_err(|_| DeError::custom(format!("{:?} is not {what}", self.0)))
    }
}

macro_rules! parse_as {
    ($($method:ident $visit:ident $ty:ty, $what:literal;)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.$visit(self.number::<$ty>($what)?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Scalar<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let s = self.0.trim();
        if s.starts_with('[') || s.starts_with('{') {
            return self
                .json()?
                .deserialize_any(visitor)
                .map_err(DeError::custom);
        }
        match s {
            "true" => return visitor.visit_bool(true),
            "false" => return visitor.visit_bool(false),
            _ => {}
        }
        if let Ok(n) = s.parse::<i64>() {
            return visitor.visit_i64(n);
        }
        if let Ok(n) = s.parse::<u64>() {
            return visitor.visit_u64(n);
        }
        if let Ok(n) = s.parse::<f64>() {
            return visitor.visit_f64(n);
        }
        visitor.visit_str(self.0)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.0)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bool(self.number("true or false")?)
    }

    parse_as! {
        deserialize_i8 visit_i8 i8, "an integer";
        deserialize_i16 visit_i16 i16, "an integer";
        deserialize_i32 visit_i32 i32, "an integer";
        deserialize_i64 visit_i64 i64, "an integer";
        deserialize_u8 visit_u8 u8, "a non-negative integer";
        deserialize_u16 visit_u16 u16, "a non-negative integer";
        deserialize_u32 visit_u32 u32, "a non-negative integer";
        deserialize_u64 visit_u64 u64, "a non-negative integer";
        deserialize_f32 visit_f32 f32, "a number";
        deserialize_f64 visit_f64 f64, "a number";
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // A key that is present has a value; absent keys never reach here.
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.json()?
            .deserialize_seq(visitor)
            .map_err(DeError::custom)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.json()?
            .deserialize_map(visitor)
            .map_err(DeError::custom)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.json()?
            .deserialize_struct(name, fields, visitor)
            .map_err(DeError::custom)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // Unit variants by name (`mode = "fast"`).
        visitor.visit_enum(self.0.into_deserializer())
    }

    forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct newtype_struct tuple tuple_struct
        identifier ignored_any
    }
}

impl<'de, 'a> IntoDeserializer<'de, DeError> for Scalar<'a> {
    type Deserializer = Scalar<'a>;
    fn into_deserializer(self) -> Scalar<'a> {
        self
    }
}

/// Deserializes `T` from the config pairs, as a map of key → [`Scalar`].
pub(crate) fn from_pairs<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, String> {
    let map = MapDeserializer::new(pairs.iter().map(|(k, v)| (k.as_str(), Scalar(v))));
    T::deserialize(map).map_err(|e| format!("config: {e}"))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use crate::Config;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        secret: String,
        window: u32,
        ratio: f64,
        enabled: bool,
        #[serde(default)]
        name: Option<String>,
        origins: Vec<String>,
        code: String,
        #[serde(default = "five")]
        max: u8,
    }

    fn five() -> u8 {
        5
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn types_follow_the_target() {
        let c = config(&[
            ("secret", "s3cret"),
            ("window", "60"),
            ("ratio", "0.5"),
            ("enabled", "true"),
            ("origins", r#"["a","b"]"#),
            ("code", "60"), // a number's text, asked for as text
        ]);
        let s: Settings = c.deserialize().expect("deserializes");
        assert_eq!(
            s,
            Settings {
                secret: "s3cret".into(),
                window: 60,
                ratio: 0.5,
                enabled: true,
                name: None,
                origins: vec!["a".into(), "b".into()],
                code: "60".into(),
                max: 5,
            }
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let base = [
            ("secret", "s"),
            ("ratio", "1"),
            ("enabled", "false"),
            ("origins", "[]"),
            ("code", "x"),
        ];
        let mut bad = base.to_vec();
        bad.push(("window", "sixty"));
        let err = config(&bad).deserialize::<Settings>().expect_err("bad");
        assert!(err.contains("sixty"), "{err}");
        let err = config(&base)
            .deserialize::<Settings>()
            .expect_err("missing");
        assert!(err.contains("window"), "{err}");
        let mut unknown = base.to_vec();
        unknown.extend([("window", "1"), ("colour", "red")]);
        let err = config(&unknown)
            .deserialize::<Settings>()
            .expect_err("unknown");
        assert!(err.contains("colour"), "{err}");
    }
}
