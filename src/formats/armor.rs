//! OpenPGP ASCII armor (RFC 4880 §6): turns an armored public key into the binary keyring
//! apt's `signed-by` accepts on every apt version, so no `gpg --dearmor` is needed on the node.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const END: &str = "-----END PGP PUBLIC KEY BLOCK-----";

/// CRC-24 of RFC 4880 §6.1, the armor checksum.
pub fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0x00B7_04CE;
    for byte in data {
        crc ^= u32::from(*byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

/// Whether `bytes` already look like a binary OpenPGP public key (a public-key packet tag,
/// old or new format).
fn is_binary_key(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(0x98..=0x9B | 0xC6))
}

/// What is wrong with a text that should be an OpenPGP public key; each message completes
/// "the key is not usable: ...".
#[derive(Debug, thiserror::Error)]
pub enum ArmorError {
    /// Not UTF-8 text, and not a binary key either.
    #[error("it is neither an armored nor a binary OpenPGP public key")]
    NotAKey,
    /// No `-----BEGIN PGP PUBLIC KEY BLOCK-----` line.
    #[error("it has no `{BEGIN}` line")]
    NoBegin,
    /// No `-----END PGP PUBLIC KEY BLOCK-----` line.
    #[error("it has no `{END}` line (truncated?)")]
    NoEnd,
    /// The body does not decode.
    #[error("its body is not base64: {0}")]
    Body(#[source] base64::DecodeError),
    /// The checksum line does not decode.
    #[error("its checksum line `={line}` is not base64")]
    ChecksumLine {
        /// The line after `=`.
        line: String,
        /// Why it does not decode.
        #[source]
        source: base64::DecodeError,
    },
    /// The checksum does not match the body.
    #[error("its CRC-24 checksum does not match (corrupted key)")]
    Checksum,
    /// The decoded data is not a public-key packet.
    #[error("the armored data is not an OpenPGP public key")]
    NotPublicKey,
}

/// The binary key from an armored public key block, checking its CRC-24; a key that is
/// already binary is returned as it is. The error says what is wrong with the text.
pub fn dearmor(bytes: &[u8]) -> Result<Vec<u8>, ArmorError> {
    if is_binary_key(bytes) {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ArmorError::NotAKey)?;
    let mut lines = text.lines().map(str::trim_end);
    lines
        .by_ref()
        .find(|l| *l == BEGIN)
        .ok_or(ArmorError::NoBegin)?;
    // Armor headers ("Version: ...") end at the first blank line.
    let mut body = String::new();
    let mut checksum = None;
    let mut in_headers = true;
    let mut ended = false;
    for line in lines {
        if line == END {
            ended = true;
            break;
        }
        if in_headers {
            if line.is_empty() {
                in_headers = false;
                continue;
            }
            if line.contains(": ") {
                continue;
            }
            in_headers = false;
        }
        if let Some(sum) = line.strip_prefix('=') {
            checksum = Some(sum.to_string());
        } else {
            body.push_str(line.trim());
        }
    }
    if !ended {
        return Err(ArmorError::NoEnd);
    }
    let key = STANDARD.decode(body.as_bytes()).map_err(ArmorError::Body)?;
    if let Some(sum) = checksum {
        let want = STANDARD
            .decode(sum.as_bytes())
            .map_err(|source| ArmorError::ChecksumLine {
                line: sum.clone(),
                source,
            })?;
        let got = crc24(&key).to_be_bytes();
        if want.as_slice() != &got[1..] {
            return Err(ArmorError::Checksum);
        }
    }
    if !is_binary_key(&key) {
        return Err(ArmorError::NotPublicKey);
    }
    Ok(key)
}

/// Armors a binary public key (the inverse of [`dearmor`]), 64 characters a line.
pub fn armor(key: &[u8]) -> String {
    let encoded = STANDARD.encode(key);
    let mut out = format!("{BEGIN}\n\n");
    for chunk in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    let crc = crc24(key).to_be_bytes();
    out.push_str(&format!("={}\n{END}\n", STANDARD.encode(&crc[1..])));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc24_of_known_input() {
        // The CRC-24 of no data is the initial value.
        assert_eq!(crc24(b""), 0xB704CE);
        assert_eq!(crc24(b"123456789"), 0x21CF02);
    }

    #[test]
    fn headers_checksum_and_errors() {
        let key = [0x99u8, 0x01, 0x0d, 4, 5, 6, 7];
        let armored = armor(&key).replace("\n\n", "\nVersion: GnuPG v2\nComment: test\n\n");
        assert_eq!(dearmor(armored.as_bytes()).unwrap(), key);
        assert_eq!(dearmor(&key).unwrap(), key);
        let good = armor(&key);
        let sum_at = good.find("\n=").unwrap() + 1;
        let bad_crc = format!("{}=AAAA{}", &good[..sum_at], &good[sum_at + 5..]);
        assert!(
            dearmor(bad_crc.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("CRC-24")
        );
        let truncated = &armor(&key)[..40];
        assert!(
            dearmor(truncated.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        assert!(
            dearmor(b"<html>404</html>")
                .unwrap_err()
                .to_string()
                .contains("BEGIN")
        );
    }

    proptest! {
        #[test]
        fn armor_round_trips(tail in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut key = vec![0x99u8];
            key.extend(tail);
            prop_assert_eq!(dearmor(armor(&key).as_bytes()).unwrap(), key);
        }
    }
}
