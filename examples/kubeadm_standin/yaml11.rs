//! How kubeadm reads its `--config` YAML, written independently of the crate's renderer:
//! kubeadm decodes with sigs.k8s.io/yaml, which parses with its fork of go-yaml v2 into
//! untyped values and converts them to JSON before the strict JSON decoding into the API
//! types. go-yaml v2 resolves *plain* (unquoted) scalars by YAML 1.1 rules
//! (kubernetes/kubernetes vendor/gopkg.in/yaml.v2/resolve.go, `resolveMapList` and
//! `resolve`):
//! - `y Y yes Yes YES true True TRUE on On ON` → true, `n N no No NO false False FALSE
//!   off Off OFF` → false, `"" ~ null Null NULL` → null, `.inf .nan` and kin → floats;
//! - a plain scalar starting with a digit or sign: a date (`2001-12-14`) stays a string
//!   when decoded into an untyped value (decode.go keeps timestamps as strings there);
//!   otherwise, with `_` removed, Go's `strconv.ParseInt(s, 0, 64)` (so `010` is octal 8,
//!   `0x1F` is 31, `0b101` is 5) or the float pattern
//!   `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (`1e3`);
//! - one starting with `.`: a float when Go's ParseFloat takes it;
//! - base-60 numbers (`12:30`) are purposefully not resolved by go-yaml v2: strings.
//!
//! Quoted, literal and folded scalars are strings. sigs.k8s.io/yaml then turns non-string
//! map keys into strings (`on:` becomes the key `"true"`) and non-finite floats cannot be
//! written as JSON. The parser itself (structure, quoting, escapes) is yaml-rust2, a
//! different library from the serde_norway the crate renders with.

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML value after go-yaml v2's resolution, before the JSON conversion.
#[derive(Debug, Clone, PartialEq)]
enum Y {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Y>),
    Map(Vec<(Y, Y)>),
}

/// Resolves a plain scalar the way go-yaml v2 does for an untyped target.
fn resolve_plain(s: &str) -> Y {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Y::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Y::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Y::Null,
        ".nan" | ".NaN" | ".NAN" => return Y::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Y::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Y::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        return match s.parse::<f64>() {
            Ok(f) => Y::Float(f),
            Err(_) => Y::Str(s.into()),
        };
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Y::Str(s.into());
    }
    if is_date(s) {
        return Y::Str(s.into());
    }
    let plain = s.replace('_', "");
    if let Some(i) = go_parse_int(&plain) {
        return Y::Int(i);
    }
    if go_float_pattern(&plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        return Y::Float(f);
    }
    Y::Str(s.into())
}

/// `YYYY-M-D` at the start, as go-yaml v2's parseTimestamp requires (4 digits then `-`).
fn is_date(s: &str) -> bool {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits != 4 || s.as_bytes().get(4) != Some(&b'-') {
        return false;
    }
    let mut parts = s[5..].splitn(2, ['T', 't', ' ']);
    let date = parts.next().unwrap_or("");
    let mut md = date.split('-');
    let ok = |p: Option<&str>, max: u32| {
        p.and_then(|p| (p.len() <= 2).then(|| p.parse::<u32>().ok()).flatten())
            .is_some_and(|v| (1..=max).contains(&v))
    };
    ok(md.next(), 12) && ok(md.next(), 31) && md.next().is_none()
}

/// Go's `strconv.ParseInt(s, 0, 64)` (then ParseUint): sign, `0x`/`0o`/`0b` prefixes, a
/// leading `0` for octal.
fn go_parse_int(s: &str) -> Option<i128> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    let v = if negative { -v } else { v };
    (v >= i64::MIN as i128 && v <= u64::MAX as i128).then_some(v)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, go-yaml v2's yamlStyleFloat.
fn go_float_pattern(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

enum Open {
    Seq(Vec<Y>),
    Map(Vec<(Y, Y)>, Option<Y>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    docs: Vec<Y>,
    error: Option<String>,
}

impl Builder {
    fn push(&mut self, value: Y) {
        match self.stack.last_mut() {
            None => self.docs.push(value),
            Some(Open::Seq(items)) => items.push(value),
            Some(Open::Map(pairs, key)) => match key.take() {
                None => *key = Some(value),
                Some(k) => pairs.push((k, value)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, _mark: Marker) {
        match event {
            Event::Scalar(text, style, _, tag) => {
                let value = match (style, tag) {
                    (TScalarStyle::Plain, None) => resolve_plain(&text),
                    (TScalarStyle::Plain, Some(_)) => {
                        self.error
                            .get_or_insert("tagged scalars are not used in kubeadm configs".into());
                        Y::Str(text)
                    }
                    _ => Y::Str(text),
                };
                self.push(value);
            }
            Event::SequenceStart(..) => self.stack.push(Open::Seq(Vec::new())),
            Event::MappingStart(..) => self.stack.push(Open::Map(Vec::new(), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                let value = match self.stack.pop() {
                    Some(Open::Seq(items)) => Y::Seq(items),
                    Some(Open::Map(pairs, _)) => Y::Map(pairs),
                    None => return,
                };
                self.push(value);
            }
            Event::Alias(_) => {
                self.error
                    .get_or_insert("aliases are not used in kubeadm configs".into());
                self.push(Y::Null);
            }
            _ => {}
        }
    }
}

fn float_text(f: f64) -> String {
    format!("{f}")
}

/// sigs.k8s.io/yaml's conversion to JSON: keys become strings, values keep their type.
fn to_json(y: Y) -> Result<Value, String> {
    Ok(match y {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Int(i) => match (i64::try_from(i), u64::try_from(i)) {
            (Ok(v), _) => Value::Number(v.into()),
            (_, Ok(v)) => Value::Number(v.into()),
            _ => return Err(format!("integer {i} out of range")),
        },
        Y::Float(f) => Value::Number(
            Number::from_f64(f).ok_or_else(|| format!("json: unsupported value: {f}"))?,
        ),
        Y::Str(s) => Value::String(s),
        Y::Seq(items) => Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Y::Map(pairs) => {
            let mut map = Map::new();
            for (k, v) in pairs {
                let key = match k {
                    Y::Str(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Int(i) => i.to_string(),
                    Y::Float(f) => float_text(f),
                    Y::Null => "null".into(),
                    other => return Err(format!("unsupported map key: {other:?}")),
                };
                map.insert(key, to_json(v)?);
            }
            Value::Object(map)
        }
    })
}

/// The documents of a multi-document YAML file, as kubeadm sees them in JSON.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, true)
        .map_err(|e| format!("error converting YAML to JSON: yaml: {e}"))?;
    if let Some(e) = builder.error {
        return Err(format!("error converting YAML to JSON: {e}"));
    }
    builder.docs.into_iter().map(to_json).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_plain_scalars() {
        for s in ["no", "No", "off", "y", "on", "TRUE"] {
            assert!(matches!(resolve_plain(s), Y::Bool(_)), "{s}");
        }
        assert_eq!(resolve_plain("010"), Y::Int(8));
        assert_eq!(resolve_plain("0x1F"), Y::Int(31));
        assert_eq!(resolve_plain("1_000"), Y::Int(1000));
        assert_eq!(resolve_plain("1e3"), Y::Float(1000.0));
        assert_eq!(resolve_plain("~"), Y::Null);
        assert!(matches!(resolve_plain(".inf"), Y::Float(f) if f.is_infinite()));
        for s in [
            "12:30",
            "2001-12-14",
            "master",
            "v1.35.2",
            "10.244.0.0/16",
            "192.168.33.13",
        ] {
            assert_eq!(resolve_plain(s), Y::Str(s.into()), "{s}");
        }
    }
}
