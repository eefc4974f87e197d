//! Envelope encryption of provider keys (docs/keys.md), with XChaCha20-Poly1305 (RustCrypto):
//! each secret is sealed under a data key of its own, made for it from the OS's random source;
//! the data key is sealed ("wrapped") under the key-encryption key (KEK), which never enters
//! the database. Every seal takes a fresh random 24-byte nonce (random nonces of this size do
//! not collide in practice), and binds the row the secret belongs to as associated data, so a
//! ciphertext or wrapped key copied into another row (another gateway's, say) does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::store::SealedSecret;

/// Bytes of a key (KEK or data key).
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the operating system's random source failed")]
    Random,
    #[error("sealing failed")]
    Seal,
    /// Wrong key, or data that was changed or moved to another row: AEAD cannot tell which.
    #[error("the sealed secret does not open with this key (wrong key, or altered or moved data)")]
    Open,
    #[error("no key-encryption key with id {0} is loaded")]
    UnknownKek(String),
}

/// A key-encryption key: wiped from memory when dropped, never printed.
#[derive(Clone)]
pub struct Kek {
    bytes: Zeroizing<[u8; KEY_BYTES]>,
    id: String,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek({})", self.id)
    }
}

impl Kek {
    pub fn from_bytes(bytes: Zeroizing<[u8; KEY_BYTES]>) -> Kek {
        // The id names the key in each row without revealing anything about it: a hash of it
        // under a label of its own, cut to 8 bytes.
        let mut hash = Sha256::new();
        hash.update(b"tollgate key-encryption key id\0");
        hash.update(bytes.as_slice());
        let digest = hash.finalize();
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Kek { bytes, id }
    }

    /// A new random key.
    pub fn generate() -> Result<Kek, CryptoError> {
        Ok(Kek::from_bytes(random_key()?))
    }

    /// 32 bytes written as base64 (44 characters, as `openssl rand -base64 32` prints) or hex.
    pub fn parse(text: &str) -> Result<Kek, String> {
        use base64::Engine;
        let text = text.trim();
        let decoded = Zeroizing::new(if text.len() == 2 * KEY_BYTES {
            decode_hex(text).ok_or("not hex")?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| "not base64")?
        });
        let bytes: [u8; KEY_BYTES] = decoded.as_slice().try_into().map_err(|_| {
            format!(
                "must be {KEY_BYTES} bytes in base64 (44 characters, e.g. `openssl rand -base64 \
                 32`) or hex (64 characters)"
            )
        })?;
        Ok(Kek::from_bytes(Zeroizing::new(bytes)))
    }

    /// The key in base64, as a key file holds it.
    pub fn encode(&self) -> Zeroizing<String> {
        use base64::Engine;
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.bytes.as_slice()))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305, CryptoError> {
        XChaCha20Poly1305::new_from_slice(self.bytes.as_slice()).map_err(|_| CryptoError::Seal)
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn random_key() -> Result<Zeroizing<[u8; KEY_BYTES]>, CryptoError> {
    let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
    getrandom::fill(bytes.as_mut_slice()).map_err(|_| CryptoError::Random)?;
    Ok(bytes)
}

/// The row a secret belongs to; bound into both seals as associated data.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub account_id: &'a str,
    pub gateway_id: &'a str,
    pub id: &'a str,
}

impl Row<'_> {
    /// `label`, then each part of the row's identity, NUL-separated (none of them may hold NUL).
    fn associated_data(&self, label: &str) -> Vec<u8> {
        format!(
            "tollgate {label} v1\0{}\0{}\0{}",
            self.account_id, self.gateway_id, self.id
        )
        .into_bytes()
    }
}

const SECRET_LABEL: &str = "provider key";
const DATA_KEY_LABEL: &str = "data key";

/// `nonce ‖ ciphertext ‖ tag` of `plain` under `cipher`.
fn seal_with(cipher: &XChaCha20Poly1305, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
    let sealed = cipher
        .encrypt(&XNonce::from(nonce), Payload { msg: plain, aad })
        .map_err(|_| CryptoError::Seal)?;
    let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn open_with(
    cipher: &XChaCha20Poly1305,
    sealed: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (nonce, body) = sealed
        .split_at_checked(NONCE_BYTES)
        .ok_or(CryptoError::Open)?;
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CryptoError::Open)?;
    cipher
        .decrypt(&XNonce::from(nonce), Payload { msg: body, aad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Open)
}

/// Seals `secret` for `row` under a new data key wrapped by `kek`.
pub fn seal(kek: &Kek, row: Row<'_>, secret: &[u8]) -> Result<SealedSecret, CryptoError> {
    let data_key = random_key()?;
    let data_cipher =
        XChaCha20Poly1305::new_from_slice(data_key.as_slice()).map_err(|_| CryptoError::Seal)?;
    let ciphertext = seal_with(&data_cipher, secret, &row.associated_data(SECRET_LABEL))?;
    let wrapped_key = seal_with(
        &kek.cipher()?,
        data_key.as_slice(),
        &row.associated_data(DATA_KEY_LABEL),
    )?;
    Ok(SealedSecret {
        kek_id: kek.id().to_owned(),
        wrapped_key,
        ciphertext,
    })
}

fn unwrap_data_key(
    kek: &Kek,
    row: Row<'_>,
    sealed: &SealedSecret,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.kek_id != kek.id() {
        return Err(CryptoError::UnknownKek(sealed.kek_id.clone()));
    }
    open_with(
        &kek.cipher()?,
        &sealed.wrapped_key,
        &row.associated_data(DATA_KEY_LABEL),
    )
}

/// The secret sealed for `row`, with the KEK it names.
pub fn open(
    kek: &Kek,
    row: Row<'_>,
    sealed: &SealedSecret,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let data_key = unwrap_data_key(kek, row, sealed)?;
    let data_cipher =
        XChaCha20Poly1305::new_from_slice(data_key.as_slice()).map_err(|_| CryptoError::Open)?;
    open_with(
        &data_cipher,
        &sealed.ciphertext,
        &row.associated_data(SECRET_LABEL),
    )
}

/// The same secret with its data key wrapped by `new` instead of `old`; the ciphertext stays.
pub fn rewrap(
    old: &Kek,
    new: &Kek,
    row: Row<'_>,
    sealed: &SealedSecret,
) -> Result<SealedSecret, CryptoError> {
    let data_key = unwrap_data_key(old, row, sealed)?;
    let wrapped_key = seal_with(
        &new.cipher()?,
        data_key.as_slice(),
        &row.associated_data(DATA_KEY_LABEL),
    )?;
    Ok(SealedSecret {
        kek_id: new.id().to_owned(),
        wrapped_key,
        ciphertext: sealed.ciphertext.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: Row<'static> = Row {
        account_id: "local",
        gateway_id: "gw",
        id: "k1",
    };

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_row() -> Result<(), CryptoError> {
        let kek = Kek::generate()?;
        let sealed = seal(&kek, ROW, b"sk-canary-0123456789")?;
        assert_eq!(
            open(&kek, ROW, &sealed)?.as_slice(),
            b"sk-canary-0123456789"
        );
        // Neither blob holds the secret or the data key in the clear.
        assert!(!sealed.ciphertext.windows(9).any(|w| w == b"sk-canary"));
        // Fresh data key and nonces each time.
        let again = seal(&kek, ROW, b"sk-canary-0123456789")?;
        assert_ne!(again.ciphertext, sealed.ciphertext);
        assert_ne!(again.wrapped_key, sealed.wrapped_key);

        let other_kek = Kek::generate()?;
        assert!(matches!(
            open(&other_kek, ROW, &sealed),
            Err(CryptoError::UnknownKek(_))
        ));
        // A wrapped key or ciphertext moved to another row (another gateway) does not open.
        let moved = Row {
            gateway_id: "other",
            ..ROW
        };
        assert_eq!(open(&kek, moved, &sealed), Err(CryptoError::Open));
        let mut swapped = sealed.clone();
        swapped.ciphertext = seal(&kek, moved, b"x")?.ciphertext;
        assert_eq!(open(&kek, ROW, &swapped), Err(CryptoError::Open));
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.ciphertext.last_mut() {
            *last ^= 1;
        }
        assert_eq!(open(&kek, ROW, &flipped), Err(CryptoError::Open));
        Ok(())
    }

    #[test]
    fn rewrapping_moves_the_data_key_to_the_new_kek() -> Result<(), CryptoError> {
        let (old, new) = (Kek::generate()?, Kek::generate()?);
        let sealed = seal(&old, ROW, b"secret")?;
        let rewrapped = rewrap(&old, &new, ROW, &sealed)?;
        assert_eq!(rewrapped.kek_id, new.id());
        assert_eq!(rewrapped.ciphertext, sealed.ciphertext);
        assert_eq!(open(&new, ROW, &rewrapped)?.as_slice(), b"secret");
        assert!(open(&old, ROW, &rewrapped).is_err());
        Ok(())
    }

    #[test]
    fn keys_parse_from_base64_or_hex_and_print_only_their_id() -> Result<(), String> {
        let kek = Kek::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
        let hex = Kek::parse("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")?;
        assert_eq!(kek.id(), hex.id());
        assert_eq!(
            kek.encode().as_str(),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        );
        assert_eq!(format!("{kek:?}"), format!("Kek({})", kek.id()));
        assert!(Kek::parse("c2hvcnQ=").is_err());
        assert!(Kek::parse("not a key").is_err());
        Ok(())
    }
}
