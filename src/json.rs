//! Strict JSON for every format this crate reads: objects only where the spec names an object,
//! and no `null` for an optional member.
//!
//! serde's derived `Deserialize` for a struct also accepts a JSON *array* of the field values
//! in order (`visit_seq`), and `deny_unknown_fields` does not stop it; `Option` fields read
//! `null` as absent. A second spelling of the same document is a second thing an outside
//! implementation must get right, and an attack surface for no gain, so both are refused:
//! [`json_object!`] makes a struct deserialize from a JSON object only, and [`present`] makes
//! an optional member either absent or a value.

/// Implements `Serialize` and `Deserialize` for structs that derive both with
/// `#[serde(remote = "Self")]`, accepting only a JSON object (never an array).
///
/// `$what` names the object for the error message ("expected the envelope object"), in the
/// spec's words rather than the Rust type's.
macro_rules! json_object {
    ($($ty:ident => $what:literal),* $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct ObjectOnly;
                impl<'de> serde::de::Visitor<'de> for ObjectOnly {
                    type Value = $ty;
                    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> Result<$ty, A::Error> {
                        // The derived (remote = "Self") impl, fed the object's members: it
                        // keeps deny_unknown_fields and the duplicate-member check.
                        $ty::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                d.deserialize_map(ObjectOnly)
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $ty::serialize(self, s)
            }
        }
    )*};
}
pub(crate) use json_object;

/// `deserialize_with` for an optional member: absent is `None` (with `#[serde(default)]`), a
/// value is `Some`, and `null` is refused like any other wrong type.
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(remote = "Self", deny_unknown_fields)]
    struct Pair {
        a: u32,
        #[serde(default, deserialize_with = "super::present")]
        b: Option<u32>,
    }
    json_object!(Pair => "the pair object");

    #[test]
    fn only_objects_and_no_nulls() {
        let ok: Pair = serde_json::from_str(r#"{"a":1}"#).expect("object");
        assert_eq!(ok, Pair { a: 1, b: None });
        let ok: Pair = serde_json::from_str(r#"{"a":1,"b":2}"#).expect("object");
        assert_eq!(ok.b, Some(2));
        let err = serde_json::from_str::<Pair>("[1,2]").expect_err("array");
        assert!(
            err.to_string()
                .contains("invalid type: sequence, expected the pair object"),
            "{err}"
        );
        let err = serde_json::from_str::<Pair>(r#"{"a":1,"b":null}"#).expect_err("null");
        assert!(err.to_string().contains("invalid type: null"), "{err}");
        let err = serde_json::from_str::<Pair>(r#"{"a":1,"a":1}"#).expect_err("dup");
        assert!(err.to_string().contains("duplicate field `a`"), "{err}");
        let err = serde_json::from_str::<Pair>(r#"{"a":1,"c":1}"#).expect_err("unknown");
        assert!(err.to_string().contains("unknown field `c`"), "{err}");
        assert_eq!(
            serde_json::to_string(&Pair { a: 1, b: Some(2) }).expect("json"),
            r#"{"a":1,"b":2}"#
        );
    }
}
