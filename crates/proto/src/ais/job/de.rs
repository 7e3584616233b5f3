//! Lenient field deserialisers that name the field when its value is wrong.
//!
//! AIStore's JSON is read the way the reference SDK reads it: unknown fields are ignored and a
//! missing field takes its default. stowage also takes a `null` as the default (the SDK would
//! refuse it), and when a value has the wrong type the error says which field it was in.

use serde::de::{Deserialize, Deserializer, Error};

use crate::ais::Timestamp;

/// `T` from `deserializer`, `null` meaning `T::default()`; an error names `field`.
pub(crate) fn named<'de, D, T>(deserializer: D, field: &str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer)
        .map(Option::unwrap_or_default)
        .map_err(|error| D::Error::custom(format_args!("field `{field}`: {}", without_position(&error.to_string()))))
}

/// An RFC 3339 time; empty, `null` or Go's zero time mean none.
pub(crate) fn time<'de, D: Deserializer<'de>>(deserializer: D, field: &str) -> Result<Option<Timestamp>, D::Error> {
    let text: String = named(deserializer, field)?;
    if text.is_empty() {
        return Ok(None);
    }
    match Timestamp::parse_rfc3339(&text) {
        Ok(t) if t.is_go_zero() => Ok(None),
        Ok(t) => Ok(Some(t)),
        Err(error) => Err(D::Error::custom(format_args!("field `{field}`: {error}"))),
    }
}

/// `message` without serde_json's trailing `" at line L column C"` (the outer error adds the
/// position again).
pub(crate) fn without_position(message: &str) -> &str {
    let Some(at) = message.rfind(" at line ") else { return message };
    let tail = &message[at + " at line ".len()..];
    let positional = tail.split_once(" column ").is_some_and(|(l, c)| {
        !l.is_empty() && !c.is_empty() && (l.bytes().chain(c.bytes())).all(|b| b.is_ascii_digit())
    });
    if positional { &message[..at] } else { message }
}

/// Defines one `fn name(deserializer)` per field, each calling [`named`] with the field's
/// JSON name, for `#[serde(deserialize_with = "…")]`.
macro_rules! fields {
    ($($function:ident => $json:literal),* $(,)?) => {
        $(
            pub(crate) fn $function<'de, D, T>(deserializer: D) -> Result<T, D::Error>
            where
                D: serde::Deserializer<'de>,
                T: serde::Deserialize<'de> + Default,
            {
                crate::ais::job::de::named(deserializer, $json)
            }
        )*
    };
}
pub(crate) use fields;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_a_position() {
        assert_eq!(without_position("invalid type: null at line 1 column 20"), "invalid type: null");
        assert_eq!(without_position("bad at line one"), "bad at line one");
        assert_eq!(without_position("plain"), "plain");
    }
}
